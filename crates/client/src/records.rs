//! Patient records from the client's side: encrypt, upload, anchor, share, read, erase.
//!
//! Content is encrypted here, never at a node: a fresh data key seals `salt || content`
//! (the salt opens the on-chain commitment, and is erased with the content), the sealed bytes go
//! to a custodian, and the data key is wrapped (HPKE) for the patient, the record's organisation
//! and the author. A reader's client signs an access transaction, the custodian runs it through
//! the chain, and only a granted read returns the content and the reader's wrapped key; the
//! client unwraps, opens, and checks the content against the anchor on chain.

use crate::{
    http::{Client, ClientError},
    keys::PartyKeys,
};
use commonware_codec::DecodeExt as _;
use medchain_envelope::{Binding, DataKey, WrappedKey};
use medchain_types::{
    ChainId, Hash32, PartyId, TxBody,
    api::{BlobUploadResponse, RecordReadResponse, TxState, TxStatusResponse},
    records::{
        AccessBasis, Category, GrantId, Purpose, Record, RecordId, RecordOp, RecordVersion,
        ResourceType, Scope,
    },
    sha256,
    tx::CredentialRequirement,
};

/// What went wrong on the client's side of a records operation.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Envelope(#[from] medchain_envelope::EnvelopeError),
    #[error("the transaction was {status:?}: {reason}")]
    Refused { status: TxState, reason: String },
    #[error("the node's answer does not match the chain: {0}")]
    Mismatch(String),
    #[error("{0}")]
    Invalid(String),
}

fn refused(answer: &TxStatusResponse) -> RecordsError {
    RecordsError::Refused {
        status: answer.status,
        reason: answer
            .rejection
            .as_ref()
            .map(|r| format!("{}: {}", r.code, r.reason))
            .unwrap_or_else(|| "not committed in time".into()),
    }
}

/// Signs and submits `body` as `keys`, waiting for its block.
pub async fn submit(
    client: &Client,
    chain: &ChainId,
    keys: &PartyKeys,
    body: TxBody,
) -> Result<TxStatusResponse, RecordsError> {
    let nonce = client.next_nonce(&keys.party_id).await?;
    let answer = client.submit(&keys.sign(chain, nonce, body), true).await?;
    if answer.status != TxState::Committed {
        return Err(refused(&answer));
    }
    Ok(answer)
}

/// 32 random bytes, for salts.
pub fn random_salt() -> Result<[u8; 32], RecordsError> {
    random32()
}

fn random32() -> Result<[u8; 32], RecordsError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|err| RecordsError::Invalid(format!("no randomness: {err}")))?;
    Ok(bytes)
}

/// What to write.
#[derive(Clone, Debug)]
pub struct NewRecord {
    pub patient: PartyId,
    pub resource_type: ResourceType,
    pub category: Option<Category>,
    pub media_type: String,
    pub content: Vec<u8>,
    /// Custodian organisations; the client's node must be the first.
    pub custodians: Vec<PartyId>,
}

/// Writes a record (a new one when `record` is `None`, else its next version) through the
/// custodian at `client`; returns the record id and version.
pub async fn put(
    client: &Client,
    author: &PartyKeys,
    record: Option<RecordId>,
    new: &NewRecord,
    grant: Option<GrantId>,
) -> Result<(RecordId, u32), RecordsError> {
    let chain = client.status().await?.chain_id;
    let author_party = party(client, &author.party_id).await?;
    let patient = party(client, &new.patient).await?;
    let (id, salt, version, organisation) = match record {
        None => {
            let organisation = if author.party_id == new.patient {
                patient.organisation.unwrap_or(patient.id)
            } else if author_party.kind == medchain_types::PartyKind::Organisation {
                author_party.id
            } else {
                author_party
                    .organisation
                    .ok_or_else(|| RecordsError::Invalid("the author has no organisation".into()))?
            };
            let salt = Hash32(random32()?);
            (
                RecordId::derive(&organisation, &new.patient, &salt),
                Some(salt),
                1,
                organisation,
            )
        }
        Some(id) => {
            let current = record_on_chain(client, &id).await?;
            (id, None, current.latest.version + 1, current.organisation)
        }
    };
    let binding = Binding {
        record: Hash32(id.0),
        version,
    };
    let key = DataKey::generate()?;
    let content_salt = random32()?;
    let mut plaintext = content_salt.to_vec();
    plaintext.extend_from_slice(&new.content);
    let sealed = medchain_envelope::seal(&key, &binding, &new.media_type, &plaintext)?;
    let commitment = medchain_envelope::commitment(&content_salt, &new.content);
    let uploaded: BlobUploadResponse = client
        .signed(
            author,
            reqwest::Method::POST,
            "/v1/blobs",
            "application/octet-stream",
            sealed.clone(),
        )
        .await?;
    if uploaded.hash != sha256(&sealed) {
        return Err(RecordsError::Mismatch(
            "the custodian stored other bytes than were sent".into(),
        ));
    }
    submit(
        client,
        &chain,
        author,
        TxBody::Record(RecordOp::Put {
            record: id,
            salt,
            patient: new.patient,
            resource_type: new.resource_type.clone(),
            category: new.category.clone(),
            version,
            media_type: new.media_type.clone(),
            ciphertext_hash: uploaded.hash,
            ciphertext_bytes: sealed.len() as u32,
            content_commitment: commitment,
            custodians: new.custodians.clone(),
            grant,
        }),
    )
    .await?;
    // The key for the patient, the record's organisation and the author.
    let mut recipients = vec![new.patient, organisation, author.party_id];
    recipients.sort();
    recipients.dedup();
    for recipient in recipients {
        let holder = party(client, &recipient).await?;
        share_key(
            client,
            author,
            &id,
            version,
            &holder.id,
            &holder.encryption_key,
            &key,
        )
        .await?;
    }
    Ok((id, version))
}

/// Uploads `key`, wrapped for `recipient`, to the custodian at `client`.
pub async fn share_key(
    client: &Client,
    uploader: &PartyKeys,
    record: &RecordId,
    version: u32,
    recipient: &PartyId,
    recipient_key: &medchain_types::EncryptionKey,
    key: &DataKey,
) -> Result<(), RecordsError> {
    let binding = Binding {
        record: Hash32(record.0),
        version,
    };
    let wrapped = medchain_envelope::wrap(recipient_key, recipient, key, &binding)?.to_bytes();
    let signature = uploader.signing.sign(
        medchain_types::records::WRAPPED_KEY_DOMAIN,
        &medchain_types::records::wrapped_key_statement(record, version, recipient, &wrapped),
    );
    let mut body = wrapped.to_vec();
    body.extend_from_slice(&signature.0);
    let _: Option<()> = client
        .signed(
            uploader,
            reqwest::Method::PUT,
            &format!("/v1/records/{record}/versions/{version}/keys/{recipient}"),
            "application/octet-stream",
            body,
        )
        .await?;
    Ok(())
}

/// A read's result: the plaintext, checked against the chain, and where it was logged.
#[derive(Clone, Debug)]
pub struct ReadRecord {
    pub record: RecordId,
    pub version: u32,
    pub media_type: String,
    pub content: Vec<u8>,
    /// The reader's entry in the patient's access log.
    pub access_seq: u64,
    pub access_tx: medchain_types::TxHash,
    data_key: DataKey,
}

impl ReadRecord {
    /// The version's data key (for sharing it onward).
    pub fn data_key(&self) -> &DataKey {
        &self.data_key
    }
}

/// Reads a record through the custodian at `client` (version 0: the latest): signs the access
/// transaction, sends it signed, unwraps the key, opens the content, and checks it against the
/// anchor on chain.
pub async fn read(
    client: &Client,
    reader: &PartyKeys,
    record: &RecordId,
    version: u32,
    basis: AccessBasis,
    purpose: Purpose,
    custodian: PartyId,
) -> Result<ReadRecord, RecordsError> {
    read_with(
        client, reader, None, record, version, basis, purpose, custodian,
    )
    .await
}

/// [`read`], with the request signed under `session` (opened by `reader` on this custodian)
/// when there is one.
#[allow(clippy::too_many_arguments)]
pub async fn read_with(
    client: &Client,
    reader: &PartyKeys,
    session: Option<&crate::http::Session>,
    record: &RecordId,
    version: u32,
    basis: AccessBasis,
    purpose: Purpose,
    custodian: PartyId,
) -> Result<ReadRecord, RecordsError> {
    let chain = client.status().await?.chain_id;
    let nonce = client.next_nonce(&reader.party_id).await?;
    let tx = reader.sign(
        &chain,
        nonce,
        TxBody::Record(RecordOp::Access {
            record: *record,
            version,
            basis,
            purpose,
            custodian,
        }),
    );
    let signer = match session {
        Some(session) => crate::http::RequestSigner::Session(session),
        None => crate::http::RequestSigner::Party(reader),
    };
    let answer: RecordReadResponse = client
        .signed_as(
            signer,
            reqwest::Method::POST,
            &format!("/v1/records/{record}/read"),
            "application/json",
            serde_json::to_vec(&tx).map_err(|err| RecordsError::Invalid(err.to_string()))?,
        )
        .await?;
    use base64::Engine as _;
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(&answer.ciphertext)
        .map_err(|_| RecordsError::Mismatch("the content is not base64".into()))?;
    let anchored = version_on_chain(client, record, answer.version).await?;
    if sha256(&sealed) != anchored.ciphertext_hash
        || answer.ciphertext_hash != anchored.ciphertext_hash
    {
        return Err(RecordsError::Mismatch(
            "the content served is not the content anchored".into(),
        ));
    }
    let wrapped = WrappedKey::from_bytes(
        &hex::decode(&answer.wrapped_key)
            .map_err(|_| RecordsError::Mismatch("the wrapped key is not hex".into()))?,
    )?;
    let binding = Binding {
        record: Hash32(record.0),
        version: answer.version,
    };
    let key = medchain_envelope::unwrap(
        &reader.encryption_secret,
        &reader.party_id,
        &wrapped,
        &binding,
    )?;
    let plaintext = medchain_envelope::open(&key, &binding, &answer.media_type, &sealed)?;
    if plaintext.len() < 32 {
        return Err(RecordsError::Mismatch("the content has no salt".into()));
    }
    let (salt, content) = plaintext.split_at(32);
    let salt: [u8; 32] = salt.try_into().expect("32 bytes");
    if medchain_envelope::commitment(&salt, content) != anchored.content_commitment {
        return Err(RecordsError::Mismatch(
            "the content does not match its commitment on chain".into(),
        ));
    }
    Ok(ReadRecord {
        record: *record,
        version: answer.version,
        media_type: answer.media_type,
        content: content.to_vec(),
        access_seq: answer.access_seq,
        access_tx: answer.access_tx,
        data_key: key,
    })
}

/// What a patient grants.
#[derive(Clone, Debug)]
pub struct NewGrant {
    pub grantee: PartyId,
    pub scope: Scope,
    pub read: bool,
    pub write: bool,
    pub purpose: Purpose,
    pub valid_from_ms: u64,
    pub valid_until_ms: u64,
    pub condition: Option<CredentialRequirement>,
}

/// The patient grants access, then shares the data key of every current record version the
/// grant covers with the grantee (reading each as the patient, which the access log shows).
pub async fn grant(
    client: &Client,
    patient: &PartyKeys,
    new: &NewGrant,
    custodian: PartyId,
) -> Result<GrantId, RecordsError> {
    let chain = client.status().await?.chain_id;
    let salt = Hash32(random32()?);
    submit(
        client,
        &chain,
        patient,
        TxBody::Record(RecordOp::Grant {
            salt,
            grantee: new.grantee,
            scope: new.scope.clone(),
            read: new.read,
            write: new.write,
            purpose: new.purpose,
            valid_from_ms: new.valid_from_ms,
            valid_until_ms: new.valid_until_ms,
            condition: new.condition.clone(),
        }),
    )
    .await?;
    let grantee = party(client, &new.grantee).await?;
    if new.read {
        for id in records_of(client, &patient.party_id).await? {
            let record = record_on_chain(client, &id).await?;
            if record.erased.is_some()
                || !new
                    .scope
                    .covers(&id, &record.resource_type, record.category.as_ref())
                || !record.latest.custodians.contains(&custodian)
            {
                continue;
            }
            let opened = read(
                client,
                patient,
                &id,
                0,
                AccessBasis::Patient,
                Purpose::PatientRequest,
                custodian,
            )
            .await?;
            share_key(
                client,
                patient,
                &id,
                opened.version,
                &grantee.id,
                &grantee.encryption_key,
                opened.data_key(),
            )
            .await?;
        }
    }
    Ok(GrantId::derive(&patient.party_id, &salt))
}

async fn party(client: &Client, id: &PartyId) -> Result<medchain_types::Party, RecordsError> {
    let answer = client.state(&format!("party/{id}"), false).await?;
    let bytes = answer
        .value
        .ok_or_else(|| RecordsError::Invalid(format!("no party {id} on chain")))?;
    let bytes = hex::decode(bytes).map_err(|_| RecordsError::Mismatch("bad hex".into()))?;
    medchain_types::Party::decode(bytes).map_err(|err| RecordsError::Mismatch(err.to_string()))
}

/// The record as anchored on chain.
pub async fn record_on_chain(client: &Client, id: &RecordId) -> Result<Record, RecordsError> {
    let answer = client.state(&format!("record/{id}"), false).await?;
    let bytes = answer
        .value
        .ok_or_else(|| RecordsError::Invalid(format!("no record {id} on chain")))?;
    let bytes = hex::decode(bytes).map_err(|_| RecordsError::Mismatch("bad hex".into()))?;
    Record::decode(bytes).map_err(|err| RecordsError::Mismatch(err.to_string()))
}

/// One version as anchored on chain.
pub async fn version_on_chain(
    client: &Client,
    id: &RecordId,
    version: u32,
) -> Result<RecordVersion, RecordsError> {
    let answer = client
        .state(&format!("record-version/{id}/{version}"), false)
        .await?;
    let bytes = answer
        .value
        .ok_or_else(|| RecordsError::Invalid(format!("no version {version} of {id} on chain")))?;
    let bytes = hex::decode(bytes).map_err(|_| RecordsError::Mismatch("bad hex".into()))?;
    RecordVersion::decode(bytes).map_err(|err| RecordsError::Mismatch(err.to_string()))
}

async fn list_len(client: &Client, list: &str, owner: &PartyId) -> Result<u64, RecordsError> {
    let answer = client.state(&format!("list/{list}/{owner}"), false).await?;
    Ok(match answer.value {
        Some(hex_value) => {
            let bytes =
                hex::decode(hex_value).map_err(|_| RecordsError::Mismatch("bad hex".into()))?;
            u64::from_be_bytes(
                bytes
                    .try_into()
                    .map_err(|_| RecordsError::Mismatch("a list count is 8 bytes".into()))?,
            )
        }
        None => 0,
    })
}

async fn list_item(
    client: &Client,
    list: &str,
    owner: &PartyId,
    seq: u64,
) -> Result<Vec<u8>, RecordsError> {
    let answer = client
        .state(&format!("list/{list}/{owner}/{seq}"), false)
        .await?;
    let value = answer
        .value
        .ok_or_else(|| RecordsError::Mismatch(format!("list {list} item {seq} is missing")))?;
    hex::decode(value).map_err(|_| RecordsError::Mismatch("bad hex".into()))
}

/// A patient's records, oldest first.
pub async fn records_of(client: &Client, patient: &PartyId) -> Result<Vec<RecordId>, RecordsError> {
    let count = list_len(client, "records", patient).await?;
    let mut out = Vec::with_capacity(count as usize);
    for seq in 0..count {
        let bytes = list_item(client, "records", patient, seq).await?;
        out.push(
            RecordId::from_slice(&bytes).map_err(|err| RecordsError::Mismatch(err.to_string()))?,
        );
    }
    Ok(out)
}

/// A patient's access log, from entry `from`.
pub async fn access_log(
    client: &Client,
    patient: &PartyId,
    from: u64,
) -> Result<Vec<medchain_types::records::AccessEntry>, RecordsError> {
    let count = list_len(client, "access", patient).await?;
    let mut out = Vec::new();
    for seq in from..count {
        let bytes = list_item(client, "access", patient, seq).await?;
        out.push(
            medchain_types::records::AccessEntry::decode(bytes)
                .map_err(|err| RecordsError::Mismatch(err.to_string()))?,
        );
    }
    Ok(out)
}

/// One line of an accounting of disclosures.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Disclosure {
    /// Position in the patient's access log (its proof is `list/access/<patient>/<seq>`).
    pub seq: u64,
    /// When, RFC 3339 (UTC).
    pub time: String,
    pub time_ms: u64,
    /// Who received it: party id, and the public label of the reader or its organisation.
    pub recipient: PartyId,
    pub recipient_label: String,
    pub record: RecordId,
    pub version: u32,
    /// What kind of record (never its content).
    pub resource_type: String,
    pub purpose: Purpose,
    /// The HL7 v3 PurposeOfUse code.
    pub purpose_code: String,
    /// Under what: `grant <id>`, `break-glass <id>`, `authorship`.
    pub basis: String,
    /// Emergency access, for the patient's review.
    pub break_glass: bool,
    /// The custodian that released it.
    pub custodian: PartyId,
    pub tx: medchain_types::TxHash,
}

/// A denied attempt, listed beside the disclosures.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeniedAttempt {
    pub seq: u64,
    pub time: String,
    pub reader: PartyId,
    pub reader_label: String,
    pub record: RecordId,
    pub purpose: Purpose,
    pub code: String,
    pub reason: String,
}

/// An accounting of disclosures for a period: every granted read by someone other than the
/// patient, and every denied attempt, taken from the patient's access log on chain.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DisclosureReport {
    pub patient: PartyId,
    pub chain_id: String,
    pub from: String,
    pub to: String,
    /// Finalized height the log was read at.
    pub as_of_height: u64,
    pub disclosures: Vec<Disclosure>,
    pub denied: Vec<DeniedAttempt>,
    /// How many reads by the patient themselves the period holds (not disclosures).
    pub own_reads: u64,
}

/// A party's public label (or, for a party without one, its kind and organisation), read
/// once per report.
async fn label_of(
    client: &Client,
    labels: &mut std::collections::HashMap<PartyId, String>,
    id: &PartyId,
) -> String {
    if let Some(label) = labels.get(id) {
        return label.clone();
    }
    let label = match party(client, id).await {
        Ok(party) if !party.label.is_empty() => party.label,
        Ok(party) => match party.organisation {
            Some(org) => match self::party(client, &org).await {
                Ok(org) => format!("{:?} of {}", party.kind, org.label).to_lowercase(),
                Err(_) => format!("{:?}", party.kind).to_lowercase(),
            },
            None => format!("{:?}", party.kind).to_lowercase(),
        },
        Err(_) => "unknown party".into(),
    };
    labels.insert(*id, label.clone());
    label
}

/// Builds the accounting of disclosures of `patient` for `[from_ms, to_ms)`.
pub async fn disclosures(
    client: &Client,
    patient: &PartyId,
    from_ms: u64,
    to_ms: u64,
) -> Result<DisclosureReport, RecordsError> {
    let status = client.status().await?;
    let log = access_log(client, patient, 0).await?;
    let mut report = DisclosureReport {
        patient: *patient,
        chain_id: status.chain_id.to_string(),
        from: crate::vc::rfc3339(from_ms),
        to: crate::vc::rfc3339(to_ms),
        as_of_height: status.latest.height,
        disclosures: Vec::new(),
        denied: Vec::new(),
        own_reads: 0,
    };
    let mut types = std::collections::HashMap::new();
    let mut labels = std::collections::HashMap::new();
    for entry in log
        .into_iter()
        .filter(|entry| entry.time_ms >= from_ms && entry.time_ms < to_ms)
    {
        match &entry.outcome {
            medchain_types::records::AccessOutcome::Denied { code, reason } => {
                report.denied.push(DeniedAttempt {
                    seq: entry.seq,
                    time: crate::vc::rfc3339(entry.time_ms),
                    reader: entry.reader,
                    reader_label: label_of(client, &mut labels, &entry.reader).await,
                    record: entry.record,
                    purpose: entry.purpose,
                    code: code.clone(),
                    reason: reason.clone(),
                });
            }
            medchain_types::records::AccessOutcome::Granted if entry.reader == *patient => {
                report.own_reads += 1;
            }
            medchain_types::records::AccessOutcome::Granted => {
                let resource_type = match types.get(&entry.record) {
                    Some(kind) => String::clone(kind),
                    None => {
                        let kind = record_on_chain(client, &entry.record)
                            .await
                            .map(|r| r.resource_type.to_string())
                            .unwrap_or_else(|_| "unknown".into());
                        types.insert(entry.record, kind.clone());
                        kind
                    }
                };
                let (basis, break_glass) = match entry.basis {
                    AccessBasis::Grant(id) => (format!("grant {id}"), false),
                    AccessBasis::BreakGlass(id) => (format!("break-glass {id}"), true),
                    AccessBasis::Author => ("authorship".into(), false),
                    AccessBasis::Patient => ("patient".into(), false),
                };
                report.disclosures.push(Disclosure {
                    seq: entry.seq,
                    time: crate::vc::rfc3339(entry.time_ms),
                    time_ms: entry.time_ms,
                    recipient: entry.reader,
                    recipient_label: label_of(client, &mut labels, &entry.reader).await,
                    record: entry.record,
                    version: entry.version,
                    resource_type,
                    purpose: entry.purpose,
                    purpose_code: entry.purpose.hl7_code().into(),
                    basis,
                    break_glass,
                    custodian: entry.custodian,
                    tx: entry.tx,
                });
            }
        }
    }
    Ok(report)
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

impl DisclosureReport {
    /// A readable, self-contained HTML page.
    pub fn to_html(&self) -> String {
        let mut rows = String::new();
        for d in &self.disclosures {
            rows.push_str(&format!(
                "<tr{}><td>{}</td><td>{}<br><code>{}</code></td><td>{} v{}<br><code>{}</code></td><td>{} ({})</td><td>{}{}</td><td><code>#{}</code></td></tr>\n",
                if d.break_glass { " class=\"glass\"" } else { "" },
                escape(&d.time),
                escape(&d.recipient_label),
                d.recipient,
                escape(&d.resource_type),
                d.version,
                d.record,
                escape(d.purpose.name()),
                escape(&d.purpose_code),
                escape(&d.basis),
                if d.break_glass { " <strong>(emergency access: please review)</strong>" } else { "" },
                d.seq,
            ));
        }
        if self.disclosures.is_empty() {
            rows.push_str("<tr><td colspan=\"6\">No disclosures in this period.</td></tr>\n");
        }
        let mut denied = String::new();
        for d in &self.denied {
            denied.push_str(&format!(
                "<tr><td>{}</td><td>{}<br><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}: {}</td><td><code>#{}</code></td></tr>\n",
                escape(&d.time),
                escape(&d.reader_label),
                d.reader,
                d.record,
                escape(d.purpose.name()),
                escape(&d.code),
                escape(&d.reason),
                d.seq,
            ));
        }
        if self.denied.is_empty() {
            denied.push_str("<tr><td colspan=\"6\">No denied attempts in this period.</td></tr>\n");
        }
        format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Accounting of disclosures</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1b1b1b; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 2rem; }}
th, td {{ border: 1px solid #ccc; padding: .4rem .6rem; text-align: left; vertical-align: top; }}
th {{ background: #f2f2f2; }}
tr.glass td {{ background: #fff4e5; }}
code {{ font-size: .75rem; color: #555; word-break: break-all; }}
</style></head><body>
<h1>Accounting of disclosures</h1>
<p>Patient <code>{patient}</code> on chain <code>{chain}</code>, from {from} to {to}, as of block {height}.
Every line is an entry of the patient's access log on chain; its number (<code>#n</code>) is the
state key <code>list/access/{patient}/n</code>, which any node serves with a proof.</p>
<h2>Disclosures ({count})</h2>
<table><tr><th>When (UTC)</th><th>To</th><th>Record</th><th>Purpose</th><th>Basis</th><th>Entry</th></tr>
{rows}</table>
<h2>Denied attempts ({denied_count})</h2>
<table><tr><th>When (UTC)</th><th>Who</th><th>Record</th><th>Purpose</th><th>Why denied</th><th>Entry</th></tr>
{denied}</table>
<p>Your own reads in this period: {own}.</p>
</body></html>
"#,
            patient = self.patient,
            chain = escape(&self.chain_id),
            from = escape(&self.from),
            to = escape(&self.to),
            height = self.as_of_height,
            count = self.disclosures.len(),
            denied_count = self.denied.len(),
            own = self.own_reads,
        )
    }
}

/// A patient's access log from entry `from`, each entry checked offline against `genesis`:
/// its state proof, the finalized header it is proven against, and that header's certificate.
pub async fn access_log_proven(
    client: &Client,
    genesis: &medchain_types::Genesis,
    patient: &PartyId,
    from: u64,
) -> Result<Vec<(medchain_types::records::AccessEntry, u64)>, RecordsError> {
    let count_answer = client
        .state(&format!("list/access/{patient}"), true)
        .await?;
    let proven = crate::verify::verify_state(genesis, &count_answer).map_err(|err| {
        RecordsError::Mismatch(format!("the log's length does not verify: {err}"))
    })?;
    let count = match proven.value {
        Some(bytes) => u64::from_be_bytes(
            bytes
                .try_into()
                .map_err(|_| RecordsError::Mismatch("a list count is 8 bytes".into()))?,
        ),
        None => 0,
    };
    let mut out = Vec::new();
    for seq in from..count {
        let answer = client
            .state(&format!("list/access/{patient}/{seq}"), true)
            .await?;
        let proven = crate::verify::verify_state(genesis, &answer).map_err(|err| {
            RecordsError::Mismatch(format!("access entry {seq} does not verify: {err}"))
        })?;
        let bytes = proven
            .value
            .ok_or_else(|| RecordsError::Mismatch(format!("access entry {seq} is missing")))?;
        let entry = medchain_types::records::AccessEntry::decode(bytes)
            .map_err(|err| RecordsError::Mismatch(err.to_string()))?;
        out.push((entry, proven.height));
    }
    Ok(out)
}
