//! Client commands: keys, transactions, reads and offline verification.

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use medchain_client::{Client, keys::PartyKeys};
use medchain_types::{
    GovernanceAction, Hash32, PartyId, PartyKind, Role, Roles, TxBody,
    api::{StateResponse, TxState, TxStatusResponse},
};
use std::path::{Path, PathBuf};

/// Runs an async command on a small runtime.
pub fn block_on(
    future: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(future)
}

/// Where a node is when no `--node` (or `MEDCHAIN_NODE`) says: the address a local dev node
/// wrote into its data directory (`MEDCHAIN_DATA_DIR`, else `./.medchain/dev`), else port
/// 8080 on this machine.
pub fn default_node_url() -> String {
    let dir = std::env::var_os("MEDCHAIN_DATA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(".medchain/dev"));
    std::fs::read_to_string(dir.join("http.addr"))
        .ok()
        .map(|address| address.trim().to_string())
        .filter(|address| address.parse::<std::net::SocketAddr>().is_ok())
        .map(|address| format!("http://{address}"))
        .unwrap_or_else(|| "http://127.0.0.1:8080".into())
}

/// Where the node is.
#[derive(Args, Clone)]
pub struct NodeUrl {
    /// The node's HTTP API, such as http://127.0.0.1:8080. Default: the local dev node (the
    /// address it wrote to <data dir>/http.addr, data dir MEDCHAIN_DATA_DIR or ./.medchain/dev),
    /// else http://127.0.0.1:8080.
    #[arg(long = "node", env = "MEDCHAIN_NODE", default_value_t = default_node_url(), hide_default_value = true)]
    pub url: String,
}

/// Where several nodes are, for commands that spread their work over them.
#[derive(Args, Clone)]
pub struct NodeUrls {
    /// The nodes' HTTP APIs, comma separated. Default: the local dev node, as for one --node.
    #[arg(
        long = "node",
        env = "MEDCHAIN_NODE",
        default_values_t = vec![default_node_url()],
        hide_default_value = true,
        value_delimiter = ','
    )]
    pub urls: Vec<String>,
}

/// Who signs.
#[derive(Args, Clone)]
pub struct Signer {
    /// The signing party: a key file, `dev:<name>` for a demo party of a dev or test chain, or
    /// `custodial:<session file>` for a user signed in to a custodial account on the node.
    #[arg(long = "as")]
    pub signer: String,
    /// Return at once instead of waiting for the transaction to commit.
    #[arg(long)]
    pub no_wait: bool,
}

pub(crate) fn load_signer(spec: &str) -> anyhow::Result<PartyKeys> {
    if let Some(name) = spec.strip_prefix("dev:") {
        if !medchain_types::dev::DEMO_PARTIES
            .iter()
            .any(|party| party.name == name)
        {
            bail!(
                "unknown demo party {name:?}; known: {}",
                medchain_types::dev::DEMO_PARTIES
                    .iter()
                    .map(|party| party.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        return Ok(PartyKeys::dev(name));
    }
    Ok(PartyKeys::load(Path::new(spec))?)
}

pub(crate) fn parse_roles(text: &str) -> anyhow::Result<Roles> {
    let mut roles = Vec::new();
    for name in text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        roles.push(name.parse::<Role>()?);
    }
    Ok(Roles::new(roles))
}

pub(crate) async fn send(
    node: &NodeUrl,
    signer: &Signer,
    body: TxBody,
) -> anyhow::Result<TxStatusResponse> {
    use medchain_client::custodial::Holder as _;
    let holder = crate::custodial_cmd::load_holder(&signer.signer, node)?;
    let client = Client::new(&node.url);
    let status = client.status().await?;
    let nonce = client.next_nonce(&holder.party_id()).await?;
    let tx = holder.sign_tx(&status.chain_id, nonce, body).await?;
    let answer = client.submit(&tx, !signer.no_wait).await?;
    print_json(&answer)?;
    match answer.status {
        TxState::Rejected => bail!(
            "transaction {} was rejected: {}",
            answer.hash,
            answer.rejection.as_ref().map_or("", |r| r.reason.as_str())
        ),
        TxState::Denied => bail!(
            "transaction {} was denied (the attempt is recorded on chain): {}",
            answer.hash,
            answer
                .rejection
                .as_ref()
                .map_or("no reason recorded".into(), |r| format!(
                    "{}: {}",
                    r.code, r.reason
                ))
        ),
        TxState::Pending if !signer.no_wait => {
            eprintln!(
                "transaction {} is still pending; check with `medchain tx status {}`",
                answer.hash, answer.hash
            )
        }
        _ => {}
    }
    Ok(answer)
}

/// Prints JSON to standard output. A reader that stops early (`| head`) ends the command
/// quietly.
pub(crate) fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(value)?;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => Ok(other.context("cannot write to standard output")?),
    }
}

/// `medchain keys ...`
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Generate a party key file (Ed25519 signing key and X25519 encryption key).
    New {
        /// Where to write it (mode 0600).
        #[arg(long)]
        out: PathBuf,
    },
    /// Show the public half of a key file.
    Show {
        /// The key file (`medchain keys new` wrote it).
        file: PathBuf,
    },
    /// Put an organisation's encryption key in an encrypted custodial keystore for its node
    /// (the passphrase comes from MEDCHAIN_KEYSTORE_PASSPHRASE, at least 12 characters).
    Custodial {
        /// The organisation's key file.
        #[arg(long)]
        key: PathBuf,
        /// Where to write the encrypted keystore.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn keys(command: KeysCommand) -> anyhow::Result<()> {
    let (keys, path) = match command {
        KeysCommand::New { out } => {
            if out.exists() {
                bail!("{} exists; refusing to overwrite a key file", out.display());
            }
            let keys = PartyKeys::generate()?;
            keys.save(&out)?;
            (keys, out)
        }
        KeysCommand::Show { file } => (PartyKeys::load(&file)?, file),
        KeysCommand::Custodial { key, out } => {
            let keys = PartyKeys::load(&key)?;
            let passphrase = std::env::var("MEDCHAIN_KEYSTORE_PASSPHRASE")
                .context("set MEDCHAIN_KEYSTORE_PASSPHRASE to the keystore's passphrase")?;
            medchain_client::keys::keystore::write(
                &out,
                &keys.party_id,
                &keys.encryption_secret,
                &passphrase,
            )?;
            eprintln!(
                "wrote {} (custodial: the node will hold {}'s encryption key)",
                out.display(),
                keys.party_id
            );
            (keys, out)
        }
    };
    print_json(&serde_json::json!({
        "file": path.display().to_string(),
        "party_id": keys.party_id,
        "public_key": keys.public_key(),
        "encryption_key": keys.encryption_key(),
    }))
}

/// `medchain party ...`
#[derive(Subcommand)]
pub enum PartyCommand {
    /// Register a practitioner, patient or device under the signing organisation.
    Register(RegisterArgs),
    /// List the dev chain's demo parties, each as it is on chain (proven, unless
    /// --unverified): the `dev:<name>` that `--as` takes, the party id later steps ask for,
    /// its label, kind and roles. A party the chain does not have (another chain) is marked.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Show a party (proven, unless --unverified).
    Show {
        /// The party's id (64 hex digits; `medchain party list` prints the dev parties').
        id: PartyId,
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Rotate the signing party's keys to those in a new key file.
    RotateKeys {
        /// The new key file (`medchain keys new`); its party id is updated to the signer's.
        #[arg(long)]
        new_key: PathBuf,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
}

#[derive(Args)]
pub struct RegisterArgs {
    /// practitioner, patient or device.
    #[arg(long)]
    kind: String,
    /// The new party's key file (`medchain keys new`).
    #[arg(long)]
    key: PathBuf,
    /// Public name (practitioners, devices); patients carry none.
    #[arg(long, default_value = "")]
    label: String,
    /// Comma-separated roles, e.g. `provider`.
    #[arg(long, default_value = "")]
    roles: String,
    #[command(flatten)]
    signer: Signer,
    #[command(flatten)]
    node: NodeUrl,
}

fn parse_kind(text: &str) -> anyhow::Result<PartyKind> {
    Ok(match text {
        "practitioner" => PartyKind::Practitioner,
        "patient" => PartyKind::Patient,
        "device" => PartyKind::Device,
        "organisation" | "organization" => {
            bail!("organisations are admitted by governance: `medchain gov propose add-org`")
        }
        other => bail!("unknown party kind {other:?}; expected practitioner, patient or device"),
    })
}

pub async fn party(command: PartyCommand) -> anyhow::Result<()> {
    match command {
        PartyCommand::Register(args) => {
            let new = PartyKeys::load(&args.key)?;
            let body = TxBody::RegisterParty {
                kind: parse_kind(&args.kind)?,
                signing_key: new.public_key(),
                encryption_key: new.encryption_key(),
                label: args.label,
                roles: parse_roles(&args.roles)?,
            };
            send(&args.node, &args.signer, body).await?;
            eprintln!("party id: {}", new.party_id);
        }
        PartyCommand::List { json, trust, node } => {
            let mut rows = Vec::new();
            for demo in medchain_types::dev::DEMO_PARTIES {
                let id = medchain_types::dev::party_id(demo.name);
                let key = medchain_state::keys::party(&id);
                let answer = crate::trust::entry(&trust, &node.url, &key).await?;
                // The decoded view is the proven value's (trust::entry refuses a mismatch).
                let party: Option<medchain_types::Party> = answer
                    .decoded
                    .map(serde_json::from_value)
                    .transpose()
                    .with_context(|| format!("party/{id} does not decode"))?;
                rows.push((demo.name, id, party));
            }
            if json {
                let list: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|(name, id, party)| {
                        serde_json::json!({
                            "as": format!("dev:{name}"),
                            "id": id,
                            "party": party,
                        })
                    })
                    .collect();
                return print_json(&list);
            }
            for (name, id, party) in rows {
                let Some(party) = party else {
                    println!("{:<22} {id}  (not on this chain)", format!("dev:{name}"));
                    continue;
                };
                let roles: Vec<&str> = party
                    .roles
                    .as_slice()
                    .iter()
                    .map(|role| role.name())
                    .collect();
                let label = match party.label.as_str() {
                    "" => "(no public label)",
                    label => label,
                };
                println!(
                    "{:<22} {id}  {:<12} {label}{}",
                    format!("dev:{name}"),
                    serde_json::to_value(party.kind)?
                        .as_str()
                        .unwrap_or_default(),
                    match roles.is_empty() {
                        true => String::new(),
                        false => format!("  [{}]", roles.join(", ")),
                    }
                );
            }
        }
        PartyCommand::Show { id, trust, node } => {
            let key = medchain_state::keys::party(&id);
            let answer = crate::trust::entry(&trust, &node.url, &key).await?;
            if answer.value.is_none() {
                bail!("no party {id}");
            }
            print_json(&answer.decoded)?;
        }
        PartyCommand::RotateKeys {
            new_key,
            signer,
            node,
        } => {
            let current = load_signer(&signer.signer)?;
            let mut new = PartyKeys::load(&new_key)?;
            let body = TxBody::RotateKeys {
                signing_key: new.public_key(),
                encryption_key: new.encryption_key(),
            };
            send(&node, &signer, body).await?;
            new.party_id = current.party_id;
            new.save(&new_key)?;
            eprintln!(
                "{} now signs with the keys in {}",
                current.party_id,
                new_key.display()
            );
        }
    }
    Ok(())
}

/// `medchain gov ...`
#[derive(Subcommand)]
pub enum GovCommand {
    /// Propose admitting an organisation.
    ProposeAddOrg {
        /// The organisation's public name on chain.
        #[arg(long)]
        label: String,
        /// The organisation's key file.
        #[arg(long)]
        key: PathBuf,
        /// Roles, comma-separated: governor, registrar, provider, dispenser, manufacturer,
        /// distributor, credential_issuer, regulator, trial_sponsor, custodian or validator.
        #[arg(long)]
        roles: String,
        /// Hours the proposal stays open.
        #[arg(long, default_value_t = 168)]
        ttl_hours: u64,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Propose replacing a party's roles.
    ProposeSetRoles {
        /// The party whose roles are replaced (64 hex digits).
        #[arg(long)]
        party: PartyId,
        /// The new roles, comma-separated (replacing all the party had), as for
        /// propose-add-org.
        #[arg(long)]
        roles: String,
        /// Hours the proposal stays open for approval (default a week).
        #[arg(long, default_value_t = 168)]
        ttl_hours: u64,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Propose a new approval threshold.
    ProposeThreshold {
        /// How many governors' approvals carry a proposal (at least 1, at most the number of
        /// governors).
        #[arg(long)]
        threshold: u32,
        /// Hours the proposal stays open for approval (default a week).
        #[arg(long, default_value_t = 168)]
        ttl_hours: u64,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Propose accrediting an organisation to issue credentials (types and jurisdictions,
    /// comma separated; empty lists withdraw the accreditation).
    ProposeAccredit {
        /// The organisation to accredit (its party id).
        #[arg(long)]
        issuer: PartyId,
        /// Credential types it may issue, comma-separated, such as
        /// physician_licence,nurse_licence (lower-case letters, digits and _); empty withdraws
        /// the accreditation.
        #[arg(long, default_value = "")]
        types: String,
        /// Jurisdictions it may issue in, comma-separated ISO 3166 codes such as US,GB (a code
        /// covers its subdivisions: US covers US-CA).
        #[arg(long, default_value = "")]
        jurisdictions: String,
        /// Hours the proposal stays open for approval (default a week).
        #[arg(long, default_value_t = 168)]
        ttl_hours: u64,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Propose requiring a credential for a gated action (e.g. register_practitioner), or
    /// with --clear, no longer requiring one.
    ProposeRequirement {
        /// The action to gate: register_practitioner, write_record, break_glass,
        /// supply_commission, supply_pack, supply_unpack, supply_ship, supply_receive,
        /// supply_dispense, supply_decommission, supply_recall, supply_transform or
        /// supply_flag. Any other name is refused when proposed.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(medchain_state::credentials::GATED_ACTIONS))]
        action: String,
        /// The credential type the actor must hold valid, such as physician_licence: one some
        /// accredited issuer issues (`medchain state get credential-types` lists them), or the
        /// proposal is refused.
        #[arg(long, required_unless_present = "clear")]
        r#type: Option<String>,
        /// Within this jurisdiction (ISO 3166 code such as US, or US-CA); any when absent.
        #[arg(long)]
        jurisdiction: Option<String>,
        /// Remove the action's requirement instead.
        #[arg(long)]
        clear: bool,
        /// Hours the proposal stays open for approval (default a week).
        #[arg(long, default_value_t = 168)]
        ttl_hours: u64,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Propose letting custodians erase records they hold once the latest version is --days
    /// old (unless a legal hold is in force), or with --off, letting only patients erase.
    ProposeErasureRetention {
        /// Days after a record's latest version that its custodians may erase it.
        #[arg(long, required_unless_present = "off")]
        days: Option<u32>,
        /// Let only patients erase their records (no retention erasure).
        #[arg(long, conflicts_with = "days")]
        off: bool,
        /// Hours the proposal stays open for approval (default a week).
        #[arg(long, default_value_t = 168)]
        ttl_hours: u64,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Propose replacing the keys of a member whose key was lost or compromised (as the
    /// member's organisation, or a governor); the new key file's party id is set to the member.
    ProposeRecoverKeys {
        /// The member whose keys are replaced (its party id).
        #[arg(long)]
        party: PartyId,
        /// The member's new key file (`medchain keys new`).
        #[arg(long)]
        new_key: PathBuf,
        /// Hours the proposal stays open for approval (default a week).
        #[arg(long, default_value_t = 168)]
        ttl_hours: u64,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Approve an open proposal.
    Approve {
        /// The proposal's number (printed when it was proposed; `medchain state get
        /// proposal/<n>` shows one).
        proposal: u64,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
}

/// Opens a governance proposal of `action`, open for `ttl_hours`.
async fn propose(
    node: &NodeUrl,
    signer: &Signer,
    action: GovernanceAction,
    ttl_hours: u64,
) -> anyhow::Result<()> {
    send(
        node,
        signer,
        TxBody::Propose {
            action,
            ttl_ms: ttl_hours.saturating_mul(3_600_000),
        },
    )
    .await
    .map(|_| ())
}

pub async fn gov(command: GovCommand) -> anyhow::Result<()> {
    match command {
        GovCommand::ProposeAddOrg {
            label,
            key,
            roles,
            ttl_hours,
            signer,
            node,
        } => {
            let org = PartyKeys::load(&key)?;
            let action = GovernanceAction::AddOrganisation {
                label,
                signing_key: org.public_key(),
                encryption_key: org.encryption_key(),
                roles: parse_roles(&roles)?,
            };
            propose(&node, &signer, action, ttl_hours).await?;
            eprintln!("the organisation's party id will be {}", org.party_id);
        }
        GovCommand::ProposeSetRoles {
            party,
            roles,
            ttl_hours,
            signer,
            node,
        } => {
            let action = GovernanceAction::SetRoles {
                party,
                roles: parse_roles(&roles)?,
            };
            propose(&node, &signer, action, ttl_hours).await?;
        }
        GovCommand::ProposeThreshold {
            threshold,
            ttl_hours,
            signer,
            node,
        } => {
            let action = GovernanceAction::SetThreshold { threshold };
            propose(&node, &signer, action, ttl_hours).await?;
        }
        GovCommand::ProposeAccredit {
            issuer,
            types,
            jurisdictions,
            ttl_hours,
            signer,
            node,
        } => {
            let credential_types = split_codes(&types)
                .map(medchain_types::credential::CredentialType::new)
                .collect::<Result<Vec<_>, _>>()?;
            let jurisdictions = split_codes(&jurisdictions)
                .map(medchain_types::credential::Jurisdiction::new)
                .collect::<Result<Vec<_>, _>>()?;
            let action = GovernanceAction::AccreditIssuer {
                issuer,
                credential_types,
                jurisdictions,
            };
            propose(&node, &signer, action, ttl_hours).await?;
        }
        GovCommand::ProposeRequirement {
            action,
            r#type,
            jurisdiction,
            clear,
            ttl_hours,
            signer,
            node,
        } => {
            let requirement = if clear {
                None
            } else {
                Some(medchain_types::tx::CredentialRequirement {
                    credential_type: medchain_types::credential::CredentialType::new(
                        r#type.context("give --type, or --clear")?,
                    )?,
                    jurisdiction: jurisdiction
                        .map(medchain_types::credential::Jurisdiction::new)
                        .transpose()?,
                })
            };
            let action = GovernanceAction::SetCredentialRequirement {
                action,
                requirement,
            };
            propose(&node, &signer, action, ttl_hours).await?;
        }
        GovCommand::ProposeErasureRetention {
            days,
            off,
            ttl_hours,
            signer,
            node,
        } => {
            let action = GovernanceAction::SetErasureRetention {
                days: if off { None } else { days },
            };
            propose(&node, &signer, action, ttl_hours).await?;
        }
        GovCommand::ProposeRecoverKeys {
            party,
            new_key,
            ttl_hours,
            signer,
            node,
        } => {
            let mut keys = PartyKeys::load(&new_key)?;
            let action = GovernanceAction::RecoverKeys {
                party,
                signing_key: keys.public_key(),
                encryption_key: keys.encryption_key(),
            };
            propose(&node, &signer, action, ttl_hours).await?;
            keys.party_id = party;
            keys.save(&new_key)?;
            eprintln!(
                "once approved, {party} signs with the keys in {}",
                new_key.display()
            );
        }
        GovCommand::Approve {
            proposal,
            signer,
            node,
        } => {
            send(&node, &signer, TxBody::Approve { proposal }).await?;
        }
    }
    Ok(())
}

/// `medchain attest`
#[derive(Args)]
pub struct AttestArgs {
    /// What the digest is about (64 hex characters), e.g. the hash of a document id.
    #[arg(long)]
    subject: Hash32,
    /// The digest to time-stamp; or give --file to hash a file.
    #[arg(long, required_unless_present = "file")]
    digest: Option<Hash32>,
    /// A file whose SHA-256 is time-stamped.
    #[arg(long, conflicts_with = "digest")]
    file: Option<PathBuf>,
    #[command(flatten)]
    signer: Signer,
    #[command(flatten)]
    node: NodeUrl,
}

pub async fn attest(args: AttestArgs) -> anyhow::Result<()> {
    let digest = match (args.digest, args.file) {
        (Some(digest), _) => digest,
        (None, Some(file)) => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            medchain_types::sha256(&bytes)
        }
        (None, None) => bail!("give --digest or --file"),
    };
    send(
        &args.node,
        &args.signer,
        TxBody::Attest {
            subject: args.subject,
            digest,
        },
    )
    .await?;
    Ok(())
}

/// `medchain tx ...`
#[derive(Subcommand)]
pub enum TxCommand {
    /// A transaction's status, receipt and events.
    Status {
        /// The transaction's hash (64 hex digits), as printed when it was submitted.
        hash: medchain_types::TxHash,
        #[command(flatten)]
        node: NodeUrl,
    },
}

pub async fn tx(command: TxCommand) -> anyhow::Result<()> {
    match command {
        TxCommand::Status { hash, node } => {
            print_json(&Client::new(&node.url).tx_status(&hash).await?)
        }
    }
}

/// `medchain block`
#[derive(Args)]
pub struct BlockArgs {
    /// A height, or `latest`.
    height: String,
    #[command(flatten)]
    node: NodeUrl,
}

pub async fn block(args: BlockArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.node.url);
    let block = if args.height == "latest" {
        client.latest_block().await?
    } else {
        let height: u64 = args.height.parse().with_context(|| {
            format!(
                "height must be a number or `latest`, found {:?}",
                args.height
            )
        })?;
        client.block(height).await?
    };
    print_json(&block)
}

/// `medchain state ...`
#[derive(Subcommand)]
pub enum StateCommand {
    /// Read a state entry: `party/<id>`, `receipt/<tx>`, `proposal/<n>`, `governance`, ...
    /// The proof is checked here (unless --unverified), and the value shown is the proven one.
    Get {
        /// The key: genesis, head, governance, erasure-retention, credential-types, party/<id>,
        /// receipt/<tx>, proposal/<n>, credential/<id>, accreditation/<issuer>,
        /// requirement/<action>, record/<id>, grant/<id>, unit/<gtin>/<serial>,
        /// lot/<gtin>/<lot>, container/<sscc>, list/<name>/<owner>[/<seq>], ... (an unknown
        /// kind is refused with the whole list).
        key: String,
        /// Keep the proof in the answer shown (or written with --out).
        #[arg(long)]
        proof: bool,
        /// Write the answer (with its proof) to a file for `medchain verify`.
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
}

pub async fn state(command: StateCommand) -> anyhow::Result<()> {
    match command {
        StateCommand::Get {
            key,
            proof,
            out,
            trust,
            node,
        } => {
            let raw = medchain_state::keys::parse(&key)
                .map_err(|err| anyhow::anyhow!("{key:?} is not a state key: {err}"))?;
            let mut answer = if trust.unverified {
                Client::new(&node.url).state(&key, proof).await?
            } else {
                crate::trust::entry(&trust, &node.url, &raw).await?
            };
            if !proof {
                answer.proof = None;
            }
            match out {
                Some(path) => {
                    std::fs::write(&path, serde_json::to_string_pretty(&answer)?)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                }
                None => print_json(&answer)?,
            }
        }
    }
    Ok(())
}

/// `medchain verify`
#[derive(Args)]
pub struct VerifyArgs {
    /// A state answer with a proof (`medchain state get <key> --proof --out <file>`).
    proof: PathBuf,
    /// The chain's genesis file: the only thing trusted.
    #[arg(long)]
    genesis: PathBuf,
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let genesis = crate::setup::load_genesis(&args.genesis)?;
    let text = std::fs::read_to_string(&args.proof)
        .with_context(|| format!("cannot read {}", args.proof.display()))?;
    let answer: StateResponse = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a state answer", args.proof.display()))?;
    let verified = medchain_client::verify::verify_any_state(&genesis, &answer)
        .with_context(|| format!("proof {} does NOT verify", args.proof.display()))?;
    let key = medchain_state::keys::describe(&verified.key);
    match verified.value {
        Some(value) => {
            println!(
                "verified: {key} at height {} (state root {}), finalized by a quorum of the genesis validators; its value ({} bytes):",
                verified.height,
                verified.state_root,
                value.len(),
            );
            match &verified.decoded {
                Some(decoded) => print_json(decoded)?,
                None => println!("{}", hex::encode(&value)),
            }
        }
        None => println!(
            "verified: {key} is absent at height {} (state root {}), finalized by a quorum of the genesis validators",
            verified.height, verified.state_root
        ),
    }
    Ok(())
}

fn split_codes(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(',')
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .map(str::to_owned)
}

/// `medchain creds ...`
#[derive(Subcommand)]
pub enum CredsCommand {
    /// Issue a credential (as an accredited issuer). The licence number stays off chain: only a
    /// salted commitment is stored, and the salt is printed for the holder and issuer to keep.
    Issue {
        /// The holder's party id (it need not be registered yet).
        #[arg(long)]
        subject: PartyId,
        /// The credential type, such as physician_licence (lower-case letters, digits and _;
        /// `medchain state get credential-types` lists those accredited issuers issue).
        #[arg(long)]
        r#type: String,
        /// Where it is valid: an ISO 3166 country or subdivision code such as US or US-CA.
        #[arg(long)]
        jurisdiction: String,
        /// The licence number (never sent to the chain).
        #[arg(long)]
        number: String,
        /// The holder's specialty, as the board records it (optional; public on chain).
        #[arg(long)]
        specialty: Option<String>,
        /// Start of validity, in milliseconds since the Unix epoch (default: now).
        #[arg(long)]
        valid_from_ms: Option<u64>,
        /// Days of validity.
        #[arg(long, default_value_t = 365)]
        valid_days: u64,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Suspend a credential (as its issuer).
    Suspend {
        /// The credential's id (64 hex digits, printed by `creds issue`).
        id: medchain_types::credential::CredentialId,
        /// Why (public on chain: no personal detail).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Reinstate a suspended credential (as its issuer).
    Reinstate {
        /// The credential's id (64 hex digits).
        id: medchain_types::credential::CredentialId,
        /// Why (public on chain: no personal detail).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Revoke a credential for good (as its issuer).
    Revoke {
        /// The credential's id (64 hex digits).
        id: medchain_types::credential::CredentialId,
        /// Why (public on chain: no personal detail).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Export a credential as a W3C Verifiable Credential signed by its issuer
    /// (Data Integrity, eddsa-jcs-2022).
    Export {
        /// The credential's id (64 hex digits).
        id: medchain_types::credential::CredentialId,
        /// Where to write the VC (JSON).
        #[arg(long)]
        out: PathBuf,
        /// The issuer's key file, or `dev:<name>`.
        #[arg(long = "as")]
        issuer: String,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Verify a VC offline; with --genesis, also check it against the chain (the credential
    /// and the issuer's key, with proofs checked against the genesis; the node is untrusted).
    VerifyVc {
        /// The Verifiable Credential file (JSON), as `creds export` wrote it.
        vc: PathBuf,
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Show a credential (proven, unless --unverified).
    Show {
        /// The credential's id (64 hex digits).
        id: medchain_types::credential::CredentialId,
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// Does a party hold a valid credential of a type (in a jurisdiction) at a time? The
    /// proofs are checked offline against the chain's genesis and the answer shown is
    /// recomputed from the proven entries.
    #[command(after_help = crate::EXIT_STATUS_ANSWER)]
    Verify {
        /// The party asked about (its id, 64 hex digits).
        #[arg(long)]
        party: PartyId,
        /// The credential type, such as physician_licence (lower-case letters, digits and _;
        /// `medchain state get credential-types` lists those accredited issuers issue).
        #[arg(long)]
        r#type: String,
        /// Within this jurisdiction (ISO 3166 code; a credential of a subdivision such as US-CA
        /// satisfies US); any when absent.
        #[arg(long)]
        jurisdiction: Option<String>,
        /// The time asked about, in milliseconds since the Unix epoch (default: now).
        #[arg(long)]
        at_ms: Option<u64>,
        #[command(flatten)]
        trust: crate::trust::Trust,
        #[command(flatten)]
        node: NodeUrl,
    },
}

pub async fn creds(command: CredsCommand) -> anyhow::Result<()> {
    use medchain_types::credential::{
        CredentialStatus, CredentialType, Jurisdiction, number_commitment,
    };
    let status_change = |id, status, reason: String| TxBody::SetCredentialStatus {
        credential: id,
        status,
        reason,
    };
    match command {
        CredsCommand::Issue {
            subject,
            r#type,
            jurisdiction,
            number,
            specialty,
            valid_from_ms,
            valid_days,
            signer,
            node,
        } => {
            let salt = medchain_client::keys::random_seed()?;
            let commitment = number_commitment(&salt, &number);
            let from = valid_from_ms.unwrap_or_else(crate::setup::now_ms);
            let body = TxBody::IssueCredential {
                subject,
                credential_type: CredentialType::new(r#type)?,
                jurisdiction: Jurisdiction::new(jurisdiction)?,
                number_commitment: commitment,
                specialty,
                valid_from_ms: from,
                valid_until_ms: from.saturating_add(valid_days.saturating_mul(86_400_000)),
            };
            let answer = send(&node, &signer, body).await?;
            let id = answer.events.iter().find_map(|event| match event {
                medchain_types::Event::CredentialIssued { credential, .. } => Some(*credential),
                _ => None,
            });
            print_json(&serde_json::json!({
                "credential": id,
                "number_commitment": commitment,
                "salt": hex::encode(salt),
                "note": "keep the salt with the licence number, off chain: together they open the commitment",
            }))?;
        }
        CredsCommand::Suspend {
            id,
            reason,
            signer,
            node,
        } => {
            send(
                &node,
                &signer,
                status_change(id, CredentialStatus::Suspended, reason),
            )
            .await?;
        }
        CredsCommand::Reinstate {
            id,
            reason,
            signer,
            node,
        } => {
            send(
                &node,
                &signer,
                status_change(id, CredentialStatus::Active, reason),
            )
            .await?;
        }
        CredsCommand::Revoke {
            id,
            reason,
            signer,
            node,
        } => {
            send(
                &node,
                &signer,
                status_change(id, CredentialStatus::Revoked, reason),
            )
            .await?;
        }
        CredsCommand::Export {
            id,
            out,
            issuer,
            node,
        } => {
            let client = Client::new(&node.url);
            let credential = fetch_credential(&client, &id).await?;
            let keys = load_signer(&issuer)?;
            let status = client.status().await?;
            let vc = medchain_client::vc::export(
                &credential,
                &status.chain_id,
                &keys,
                crate::setup::now_ms(),
            )?;
            std::fs::write(&out, serde_json::to_string_pretty(&vc)?)
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("wrote {}", out.display());
        }
        CredsCommand::VerifyVc { vc, trust, node } => {
            let text = std::fs::read_to_string(&vc)
                .with_context(|| format!("cannot read {}", vc.display()))?;
            let document: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", vc.display()))?;
            let verified = medchain_client::vc::verify(&document)?;
            println!("signature: valid (issuer key {})", verified.issuer_key);
            if let Some(verifier) = trust.verifier(&node.url).await? {
                let client = Client::new(&node.url);
                let credential = client
                    .state(&format!("credential/{}", verified.credential), true)
                    .await?;
                let issuer_key = client
                    .state(&format!("key/{}", verified.issuer_key), true)
                    .await?;
                medchain_client::vc::verify_on_chain(
                    &verifier,
                    &verified,
                    &credential,
                    &issuer_key,
                )?;
                crate::trust::remember(&trust, &verifier);
                println!(
                    "chain: the credential is on chain, matches the VC and is valid now; the key that signed it was the issuer's when it signed, and is not compromised"
                );
            }
        }
        CredsCommand::Show { id, trust, node } => {
            let key = medchain_state::credentials::credential_key(&id);
            let answer = crate::trust::entry(&trust, &node.url, &key).await?;
            if answer.value.is_none() {
                bail!("no credential {id}");
            }
            print_json(&answer.decoded)?;
        }
        CredsCommand::Verify {
            party,
            r#type,
            jurisdiction,
            at_ms,
            trust,
            node,
        } => {
            let client = Client::new(&node.url);
            let answer = match trust.verifier(&node.url).await? {
                Some(verifier) => {
                    let credential_type = CredentialType::new(&r#type)?;
                    let jurisdiction =
                        jurisdiction.as_deref().map(Jurisdiction::new).transpose()?;
                    let proven = medchain_client::credentials::check_proven(
                        &client,
                        &verifier,
                        &party,
                        &credential_type,
                        jurisdiction.as_ref(),
                        at_ms,
                    )
                    .await
                    .context("the answer is NOT proven")?;
                    crate::trust::remember(&trust, &verifier);
                    crate::trust::note(proven.entries, proven.height);
                    proven.answer
                }
                None => {
                    client
                        .credential_check(&party, &r#type, jurisdiction.as_deref(), at_ms, false)
                        .await?
                }
            };
            print_json(&serde_json::json!({
                "party": answer.party,
                "type": answer.credential_type,
                "jurisdiction": answer.jurisdiction,
                "at_ms": answer.at_ms,
                "height": answer.height,
                "valid": answer.valid,
                "credentials": answer.credentials.iter().map(|c| serde_json::json!({
                    "id": c.credential.id,
                    "issuer": c.credential.issuer,
                    "jurisdiction": c.credential.jurisdiction,
                    "standing": c.standing,
                    "valid_from_ms": c.credential.valid_from_ms,
                    "valid_until_ms": c.credential.valid_until_ms,
                    "history": c.credential.history,
                })).collect::<Vec<_>>(),
            }))?;
            if !answer.valid {
                std::process::exit(crate::EXIT_ANSWER_NO);
            }
        }
    }
    Ok(())
}

async fn fetch_credential(
    client: &Client,
    id: &medchain_types::credential::CredentialId,
) -> anyhow::Result<medchain_types::credential::Credential> {
    use commonware_codec::DecodeExt as _;
    let answer = client.state(&format!("credential/{id}"), false).await?;
    let value = answer
        .value
        .with_context(|| format!("no credential {id}"))?;
    Ok(medchain_types::credential::Credential::decode(
        hex::decode(value)?,
    )?)
}
