//! `medchain records ...`, `medchain consent ...` and `medchain access ...`.

use crate::{
    commands::{NodeUrl, Signer, print_json, send},
    custodial_cmd::load_holder,
};
use anyhow::{Context as _, bail};
use clap::Subcommand;
use medchain_client::custodial::Holder as _;
use medchain_client::{
    Client,
    records::{self, NewGrant, NewRecord},
};
use medchain_state::records::PatientList;
use medchain_types::{
    PartyId, TxBody,
    credential::{CredentialType, Jurisdiction},
    records::{
        AccessBasis, BreakGlassId, Category, GrantId, Purpose, RecordId, RecordOp, ResourceType,
        Scope,
    },
    tx::CredentialRequirement,
};
use std::path::PathBuf;

/// `medchain records ...`
#[derive(Subcommand)]
pub enum RecordsCommand {
    /// Encrypt a file and write it as a record (or, with --record, as its next version). The
    /// content is sealed here; the node stores ciphertext and an anchor goes on chain.
    Put {
        /// The patient's party id.
        #[arg(long)]
        patient: PartyId,
        /// FHIR resource type or document kind, e.g. Observation.
        #[arg(long = "type")]
        resource_type: ResourceType,
        /// The record's category, a code such as laboratory, imaging or vital-signs (lower-case
        /// letters, digits, - and _), which grants can be scoped by.
        #[arg(long)]
        category: Option<Category>,
        /// The content's media type.
        #[arg(long, default_value = "application/fhir+json")]
        media_type: String,
        /// The content to encrypt.
        #[arg(long)]
        file: PathBuf,
        /// Write a new version of this record.
        #[arg(long)]
        record: Option<RecordId>,
        /// The grant a non-author writes under.
        #[arg(long)]
        grant: Option<GrantId>,
        /// Custodian organisations (default: the organisation running the node).
        #[arg(long = "custodian")]
        custodians: Vec<PartyId>,
        /// The author: a key file, dev:<name>, or custodial:<session file>.
        #[arg(long = "as")]
        signer: String,
        /// With --genesis: the encryption keys the data key is wrapped for are proven (a
        /// node cannot substitute its own).
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Read a record: the read is logged on chain first, then decrypted here.
    Get {
        /// The record's id (64 hex digits, printed by `records put`).
        record: RecordId,
        /// The version (default: the latest).
        #[arg(long, default_value_t = 0)]
        version: u32,
        /// Why you may read it: patient, author, grant:<id> or break-glass:<id>. By default the
        /// one you hold: as the record's patient, as an author of a version, or under your (or
        /// your organisation's) newest grant in force that covers the record for --purpose;
        /// when none does, the error says what was looked at.
        #[arg(long, default_value = "auto")]
        basis: String,
        /// Why you read (HL7 PurposeOfUse), recorded in the patient's access log: treatment,
        /// emergency_treatment, payment, operations, research, public_health, patient_request
        /// or legal. A grant covers only its own purpose.
        #[arg(long, default_value = "patient_request")]
        purpose: Purpose,
        /// The custodian to read from (default: the organisation running the node).
        #[arg(long)]
        custodian: Option<PartyId>,
        /// Write the content here (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The reader: a key file, dev:<name>, or custodial:<session file>.
        #[arg(long = "as")]
        signer: String,
        /// With --genesis: the anchor the content is checked against, and the read's entry
        /// in the patient's access log, are proven (the custodian is trusted for nothing).
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// A patient's records.
    List {
        /// The patient's party id.
        #[arg(long)]
        patient: PartyId,
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Every version of a record, as anchored on chain.
    History {
        /// The record's id (64 hex digits).
        record: RecordId,
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Erase a record (as its patient): custodians delete its content and keys.
    Erase {
        /// The record's id (64 hex digits).
        record: RecordId,
        /// Why (public on chain: no clinical detail).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Declare an emergency (as a licensed practitioner) to read a patient's records for a
    /// limited time; the patient is told.
    BreakGlass {
        /// The patient's party id.
        #[arg(long)]
        patient: PartyId,
        /// Why (no clinical detail: it is public on chain).
        #[arg(long)]
        justification: String,
        /// How long the emergency access lasts, in minutes.
        #[arg(long, default_value_t = 60)]
        minutes: u64,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Mark a break-glass declaration reviewed (as the patient).
    Review {
        /// The break-glass declaration's id (64 hex digits, as `access break-glass` lists it).
        id: BreakGlassId,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
}

/// `medchain consent ...`
#[derive(Subcommand)]
pub enum ConsentCommand {
    /// Grant access (as the patient) and share the covered records' keys with the grantee.
    Grant {
        /// A party, or an organisation (its practitioners then read under it).
        #[arg(long)]
        grantee: PartyId,
        /// all, types:A,B, categories:a,b or records:<id>,<id>.
        #[arg(long, default_value = "all")]
        scope: String,
        /// Allow reading (default when neither --read nor --write is given).
        #[arg(long)]
        read: bool,
        /// Allow writing new records and versions too.
        #[arg(long)]
        write: bool,
        /// The purpose the grantee may read for (HL7 PurposeOfUse): treatment,
        /// emergency_treatment, payment, operations, research, public_health, patient_request
        /// or legal.
        #[arg(long, default_value = "treatment")]
        purpose: Purpose,
        /// Days the grant lasts.
        #[arg(long, default_value_t = 30)]
        days: u64,
        /// The grantee must hold this credential when reading: TYPE or TYPE:JURISDICTION.
        #[arg(long)]
        requires: Option<String>,
        /// The custodian whose copies are shared (default: the node's organisation).
        #[arg(long)]
        custodian: Option<PartyId>,
        /// The patient: a key file, dev:<name>, or custodial:<session file>.
        #[arg(long = "as")]
        signer: String,
        /// With --genesis: the grantee's encryption key, the patient's records and each read
        /// as the patient are proven (a node cannot substitute a key or leave a record out).
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Revoke a grant (as the patient), at once.
    Revoke {
        /// The grant's id (64 hex digits, printed by `consent grant`).
        grant: GrantId,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// A patient's grants.
    List {
        /// The patient's party id.
        #[arg(long)]
        patient: PartyId,
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
}

/// `medchain access ...`
#[derive(Subcommand)]
pub enum AccessCommand {
    /// A patient's access log: every read of their records, granted or denied.
    Log {
        /// The patient's party id.
        #[arg(long)]
        patient: PartyId,
        /// The first entry to show (its position in the log, from 0).
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Break-glass declarations about a patient: emergency reads without a grant, for the
    /// patient's review.
    BreakGlass {
        /// The patient's party id.
        #[arg(long)]
        patient: PartyId,
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// An accounting of disclosures for a period, as JSON or a readable HTML page.
    Report {
        /// The patient's party id.
        #[arg(long)]
        patient: PartyId,
        /// Start date, YYYY-MM-DD (UTC).
        #[arg(long)]
        from: String,
        /// End date (exclusive), YYYY-MM-DD (UTC).
        #[arg(long)]
        to: String,
        /// json (the report as data) or html (a page to read or print).
        #[arg(long, default_value = "json", value_parser = ["json", "html"])]
        format: String,
        /// Write the report here (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// With --genesis: every line of the report from proven state (the whole access log,
        /// complete to its proven count, and each label and record type).
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
}

/// A basis as `--basis` takes it.
fn basis_name(basis: &AccessBasis) -> String {
    match basis {
        AccessBasis::Patient => "patient".into(),
        AccessBasis::Author => "author".into(),
        AccessBasis::Grant(id) => format!("grant:{id}"),
        AccessBasis::BreakGlass(id) => format!("break-glass:{id}"),
        AccessBasis::Sharing(id) => format!("sharing:{id}"),
    }
}

fn parse_basis(text: &str) -> anyhow::Result<AccessBasis> {
    Ok(match text.split_once(':') {
        None if text == "patient" => AccessBasis::Patient,
        None if text == "author" => AccessBasis::Author,
        Some(("grant", id)) => AccessBasis::Grant(id.parse()?),
        Some(("break-glass", id)) => AccessBasis::BreakGlass(id.parse()?),
        Some(("sharing", id)) => AccessBasis::Sharing(id.parse()?),
        _ => bail!(
            "--basis is auto, patient, author, grant:<id> or break-glass:<id>, found {text:?}"
        ),
    })
}

fn items(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn parse_scope(text: &str) -> anyhow::Result<Scope> {
    let list = items;
    Ok(match text.split_once(':') {
        None if text == "all" => Scope::All,
        Some(("types", items)) => {
            Scope::ResourceTypes(list(items).map(str::parse).collect::<Result<_, _>>()?)
        }
        Some(("categories", items)) => {
            Scope::Categories(list(items).map(str::parse).collect::<Result<_, _>>()?)
        }
        Some(("records", items)) => {
            Scope::Records(list(items).map(str::parse).collect::<Result<_, _>>()?)
        }
        _ => {
            bail!("--scope is all, types:A,B, categories:a,b or records:<id>,<id>; found {text:?}")
        }
    })
}

fn parse_date(text: &str) -> anyhow::Result<u64> {
    medchain_types::time::parse_date(text)
        .with_context(|| format!("{text:?} is not a date (YYYY-MM-DD)"))
}

async fn node_party(client: &Client) -> anyhow::Result<PartyId> {
    client
        .status()
        .await?
        .node_party
        .context("this node names no organisation; give --custodian")
}

pub async fn records_command(command: RecordsCommand) -> anyhow::Result<()> {
    match command {
        RecordsCommand::Put {
            patient,
            resource_type,
            category,
            media_type,
            file,
            record,
            grant,
            custodians,
            signer,
            trust,
            node,
        } => {
            let client = Client::new(&node.url);
            let author = load_holder(&signer, &node)?;
            let verifier = trust.verifier(&node.url).await?;
            let content =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let custodians = if custodians.is_empty() {
                vec![node_party(&client).await?]
            } else {
                custodians
            };
            let (id, version) = records::put_checked(
                &client,
                &author,
                record,
                &NewRecord {
                    patient,
                    resource_type,
                    category,
                    media_type,
                    content,
                    custodians,
                },
                grant,
                verifier.as_ref(),
            )
            .await?;
            if let Some(verifier) = &verifier {
                crate::trust::remember(&trust, verifier);
            }
            print_json(&serde_json::json!({ "record": id, "version": version }))
        }
        RecordsCommand::Get {
            record,
            version,
            basis,
            purpose,
            custodian,
            out,
            signer,
            trust,
            node,
        } => {
            let client = Client::new(&node.url);
            let reader = load_holder(&signer, &node)?;
            let custodian = match custodian {
                Some(custodian) => custodian,
                None => node_party(&client).await?,
            };
            let verifier = trust.verifier(&node.url).await?;
            let basis = match basis.as_str() {
                "auto" => {
                    let now_ms = client.status().await?.latest.time_ms;
                    let chosen = records::choose_basis(
                        &client,
                        verifier.as_ref(),
                        &reader.party_id(),
                        &record,
                        purpose,
                        now_ms,
                    )
                    .await?;
                    eprintln!("reading as {}", basis_name(&chosen));
                    chosen
                }
                text => parse_basis(text)?,
            };
            let read = records::read_checked(
                &client,
                &reader,
                None,
                &record,
                version,
                basis,
                purpose,
                custodian,
                verifier.as_ref(),
            )
            .await?;
            if let Some(verifier) = &verifier {
                crate::trust::remember(&trust, verifier);
                eprintln!(
                    "proven: the content matches its anchor, and the read is access entry {} of the patient's log (checked offline against the genesis validators)",
                    read.access_seq
                );
            }
            eprintln!(
                "read version {} ({}), logged as access entry {} (transaction {})",
                read.version, read.media_type, read.access_seq, read.access_tx
            );
            match out {
                Some(path) => std::fs::write(&path, &read.content)
                    .with_context(|| format!("cannot write {}", path.display())),
                None => {
                    use std::io::Write as _;
                    std::io::stdout().write_all(&read.content)?;
                    Ok(())
                }
            }
        }
        RecordsCommand::List {
            patient,
            trust,
            node,
        } => print_list(&node, &trust, PatientList::Records, &patient, 0).await,
        RecordsCommand::History {
            record,
            trust,
            node,
        } => {
            let client = Client::new(&node.url);
            let verifier = trust.verifier(&node.url).await?;
            let latest = records::record_checked(&client, verifier.as_ref(), &record).await?;
            let mut out = Vec::new();
            for version in 1..=latest.latest.version {
                out.push(serde_json::to_value(
                    records::version_checked(&client, verifier.as_ref(), &record, version).await?,
                )?);
            }
            if let Some(verifier) = &verifier {
                crate::trust::remember(&trust, verifier);
                eprintln!(
                    "the record and each of its {} versions proven against finalized blocks (checked offline)",
                    latest.latest.version
                );
            }
            print_json(&serde_json::json!({
                "record": record,
                "patient": latest.patient,
                "resource_type": latest.resource_type,
                "erased": latest.erased,
                "legal_hold": latest.legal_hold,
                "versions": out,
            }))
        }
        RecordsCommand::Erase {
            record,
            reason,
            signer,
            node,
        } => {
            send(
                &node,
                &signer,
                TxBody::Record(RecordOp::Erase { record, reason }),
            )
            .await?;
            Ok(())
        }
        RecordsCommand::BreakGlass {
            patient,
            justification,
            minutes,
            signer,
            node,
        } => {
            let salt = medchain_types::Hash32(records::random_salt()?);
            let keys = load_holder(&signer.signer, &node)?;
            let id = BreakGlassId::derive(&keys.party_id(), &patient, &salt);
            send(
                &node,
                &signer,
                TxBody::Record(RecordOp::BreakGlass {
                    salt,
                    patient,
                    justification,
                    // Out-of-range durations are refused by the transaction's shape check.
                    duration_ms: minutes.saturating_mul(60_000),
                }),
            )
            .await?;
            eprintln!(
                "break-glass {id}: read with --basis break-glass:{id} --purpose emergency_treatment"
            );
            Ok(())
        }
        RecordsCommand::Review { id, signer, node } => {
            send(
                &node,
                &signer,
                TxBody::Record(RecordOp::ReviewBreakGlass { id }),
            )
            .await?;
            Ok(())
        }
    }
}

pub async fn consent_command(command: ConsentCommand) -> anyhow::Result<()> {
    match command {
        ConsentCommand::Grant {
            grantee,
            scope,
            read,
            write,
            purpose,
            days,
            requires,
            custodian,
            signer,
            trust,
            node,
        } => {
            let client = Client::new(&node.url);
            let patient = load_holder(&signer, &node)?;
            let verifier = trust.verifier(&node.url).await?;
            let custodian = match custodian {
                Some(custodian) => custodian,
                None => node_party(&client).await?,
            };
            let condition = match requires {
                Some(text) => {
                    let (kind, jurisdiction) = match text.split_once(':') {
                        Some((kind, jurisdiction)) => {
                            (kind, Some(Jurisdiction::new(jurisdiction)?))
                        }
                        None => (text.as_str(), None),
                    };
                    Some(CredentialRequirement {
                        credential_type: CredentialType::new(kind)?,
                        jurisdiction,
                    })
                }
                None => None,
            };
            let now = client.status().await?.latest.time_ms;
            let id = records::grant_checked(
                &client,
                &patient,
                &NewGrant {
                    grantee,
                    scope: parse_scope(&scope)?,
                    read: read || !write,
                    write,
                    purpose,
                    valid_from_ms: now,
                    valid_until_ms: now + days * 86_400_000,
                    condition,
                },
                custodian,
                verifier.as_ref(),
            )
            .await?;
            if let Some(verifier) = &verifier {
                crate::trust::remember(&trust, verifier);
            }
            print_json(&serde_json::json!({ "grant": id }))
        }
        ConsentCommand::Revoke {
            grant,
            signer,
            node,
        } => {
            send(&node, &signer, TxBody::Record(RecordOp::Revoke { grant })).await?;
            Ok(())
        }
        ConsentCommand::List {
            patient,
            trust,
            node,
        } => print_list(&node, &trust, PatientList::Grants, &patient, 0).await,
    }
}

pub async fn access_command(command: AccessCommand) -> anyhow::Result<()> {
    match command {
        AccessCommand::Log {
            patient,
            from,
            trust,
            node,
        } => print_list(&node, &trust, PatientList::AccessLog, &patient, from).await,
        AccessCommand::BreakGlass {
            patient,
            trust,
            node,
        } => print_list(&node, &trust, PatientList::BreakGlass, &patient, 0).await,
        AccessCommand::Report {
            patient,
            from,
            to,
            format,
            out,
            trust,
            node,
        } => {
            let client = Client::new(&node.url);
            let verifier = trust.verifier(&node.url).await?;
            let report = records::disclosures_checked(
                &client,
                verifier.as_ref(),
                &patient,
                parse_date(&from)?,
                parse_date(&to)?,
            )
            .await?;
            if let Some(verifier) = &verifier {
                crate::trust::remember(&trust, verifier);
                eprintln!(
                    "every line from state proven against finalized blocks, as of height {} (checked offline)",
                    verifier.floor()
                );
            }
            let text = match format.as_str() {
                "json" => serde_json::to_string_pretty(&report)?,
                "html" => report.to_html(),
                other => bail!("--format is json or html, found {other:?}"),
            };
            match out {
                Some(path) => {
                    std::fs::write(&path, text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "wrote {} ({} disclosures, {} denied attempts)",
                        path.display(),
                        report.disclosures.len(),
                        report.denied.len()
                    );
                    Ok(())
                }
                None => {
                    println!("{text}");
                    Ok(())
                }
            }
        }
    }
}

/// Prints a patient's list from `from` to its end, each item as JSON, the whole recomputed
/// from proven entries (unless `--unverified`): the same lines either way.
async fn print_list(
    node: &NodeUrl,
    trust: &crate::trust::Trust,
    list: PatientList,
    patient: &PartyId,
    from: u64,
) -> anyhow::Result<()> {
    let client = Client::new(&node.url);
    let verifier = trust.verifier(&node.url).await?;
    let items = records::patient_list_all(&client, verifier.as_ref(), list, patient, from)
        .await
        .with_context(|| {
            if verifier.is_some() {
                format!("the patient's {} is NOT proven", list.path())
            } else {
                format!("cannot read the patient's {}", list.path())
            }
        })?;
    if let Some(verifier) = &verifier {
        crate::trust::remember(trust, verifier);
        let heights = items.iter().map(|(_, height)| *height);
        let (low, high) = (heights.clone().min(), heights.max());
        let at = match (low, high) {
            (Some(low), Some(high)) if low != high => format!(" at heights {low} to {high}"),
            (Some(height), _) => format!(" at height {height}"),
            _ => String::new(),
        };
        eprintln!(
            "{} of the {}, recomputed from state proven{at} against finalized blocks (checked offline, complete to the proven count)",
            crate::trust::count(items.len(), "entry", "entries"),
            list.path()
        );
    }
    print_json(
        &items
            .into_iter()
            .map(|(item, _)| item.item)
            .collect::<Vec<_>>(),
    )
}
