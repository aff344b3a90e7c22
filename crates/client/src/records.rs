//! Patient records from the client's side: encrypt, upload, anchor, share, read, erase.
//!
//! Content is encrypted here, never at a node: a fresh data key seals `salt || content`
//! (the salt opens the on-chain commitment, and is erased with the content), the sealed bytes go
//! to a custodian, and the data key is wrapped (HPKE) for the patient, the record's organisation
//! and the author. A reader's client signs an access transaction, the custodian runs it through
//! the chain, and only a granted read returns the content and the reader's wrapped key; the
//! client unwraps, opens, and checks the content against the anchor on chain.

use crate::{
    custodial::Holder,
    http::{Client, ClientError},
};
use commonware_codec::DecodeExt as _;
use medchain_envelope::{Binding, DataKey, WrappedKey};
use medchain_types::{
    ChainId, Hash32, PartyId, TxBody,
    api::{BlobUploadResponse, RecordReadResponse, TxState, TxStatusResponse},
    records::{
        AccessBasis, Category, Grant, GrantId, Purpose, Record, RecordId, RecordOp, RecordVersion,
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
    #[error("not proven: {0}")]
    Proven(#[from] crate::proven::ProvenError),
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
    keys: &impl Holder,
    body: TxBody,
) -> Result<TxStatusResponse, RecordsError> {
    let nonce = client.next_nonce(&keys.party_id()).await?;
    let answer = client
        .submit(&keys.sign_tx(chain, nonce, body).await?, true)
        .await?;
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
    author: &impl Holder,
    record: Option<RecordId>,
    new: &NewRecord,
    grant: Option<GrantId>,
) -> Result<(RecordId, u32), RecordsError> {
    put_checked(client, author, record, new, grant, None).await
}

/// [`put`], and with a `verifier`, every party the data key is wrapped for (the patient, the
/// record's organisation, the author) and the record being extended are proven: a node cannot
/// answer with an encryption key of its own and so receive the data key.
pub async fn put_checked(
    client: &Client,
    author: &impl Holder,
    record: Option<RecordId>,
    new: &NewRecord,
    grant: Option<GrantId>,
    verifier: Option<&crate::proven::Verifier>,
) -> Result<(RecordId, u32), RecordsError> {
    let chain = client.status().await?.chain_id;
    let author_id = author.party_id();
    let author_party = party_checked(client, verifier, &author_id).await?;
    let patient = party_checked(client, verifier, &new.patient).await?;
    let (id, salt, version, organisation) = match record {
        None => {
            let organisation = if author_id == new.patient {
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
            let current = record_checked(client, verifier, &id).await?;
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
        .signed_as(
            author.request_signer(),
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
    let mut recipients = vec![new.patient, organisation, author_id];
    recipients.sort();
    recipients.dedup();
    for recipient in recipients {
        let holder = party_checked(client, verifier, &recipient).await?;
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
    uploader: &impl Holder,
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
    let signature = uploader
        .sign_wrapped_key(record, version, recipient, &wrapped)
        .await?;
    let mut body = wrapped.to_vec();
    body.extend_from_slice(&signature.0);
    let _: Option<()> = client
        .signed_as(
            uploader.request_signer(),
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
    reader: &impl Holder,
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
    reader: &impl Holder,
    session: Option<&crate::http::Session>,
    record: &RecordId,
    version: u32,
    basis: AccessBasis,
    purpose: Purpose,
    custodian: PartyId,
) -> Result<ReadRecord, RecordsError> {
    read_checked(
        client, reader, session, record, version, basis, purpose, custodian, None,
    )
    .await
}

/// A proven state entry under `key` (the raw key, derived by the caller; `text` names it for
/// the request).
async fn proven_value(
    client: &Client,
    verifier: &crate::proven::Verifier,
    text: &str,
    key: &[u8],
) -> Result<Option<Vec<u8>>, RecordsError> {
    let answer = client.state(text, true).await?;
    Ok(verifier.verify_one(&answer, key)?.1)
}

/// [`read_with`], and with a `verifier`, trusting the custodian for nothing: the anchor the
/// content is checked against is proven (`rv/<record>/<version>`), and so is the read itself,
/// the entry of the patient's access log the custodian says it is (the record's patient from
/// the proven `r/<record>`; the entry must name this reader, record, version and transaction,
/// granted).
#[allow(clippy::too_many_arguments)]
pub async fn read_checked(
    client: &Client,
    reader: &impl Holder,
    session: Option<&crate::http::Session>,
    record: &RecordId,
    version: u32,
    basis: AccessBasis,
    purpose: Purpose,
    custodian: PartyId,
    verifier: Option<&crate::proven::Verifier>,
) -> Result<ReadRecord, RecordsError> {
    let chain = client.status().await?.chain_id;
    let nonce = client.next_nonce(&reader.party_id()).await?;
    let tx = reader
        .sign_tx(
            &chain,
            nonce,
            TxBody::Record(RecordOp::Access {
                record: *record,
                version,
                basis,
                purpose,
                custodian,
            }),
        )
        .await?;
    let signer = match session {
        Some(session) => crate::http::RequestSigner::Session(session),
        None => reader.request_signer(),
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
    let anchored = version_checked(client, verifier, record, answer.version).await?;
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
    let key = reader.unwrap_key(&wrapped, &binding).await?;
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
    if let Some(verifier) = verifier {
        let patient = record_checked(client, Some(verifier), record)
            .await?
            .patient;
        let names = medchain_state::lists::names::ACCESS;
        let bytes = proven_value(
            client,
            verifier,
            &format!("list/{names}/{patient}/{}", answer.access_seq),
            &medchain_state::lists::item_key(names, &patient.0, answer.access_seq),
        )
        .await?
        .ok_or_else(|| {
            RecordsError::Mismatch(format!(
                "the patient's access log has no entry {}",
                answer.access_seq
            ))
        })?;
        let entry = medchain_types::records::AccessEntry::decode(bytes)
            .map_err(|err| RecordsError::Mismatch(err.to_string()))?;
        let logged = entry.tx == answer.access_tx
            && entry.reader == reader.party_id()
            && entry.record == *record
            && entry.version == answer.version
            && entry.outcome == medchain_types::records::AccessOutcome::Granted;
        if !logged {
            return Err(RecordsError::Mismatch(format!(
                "access entry {} of the patient's log is not this read",
                answer.access_seq
            )));
        }
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
/// grant covers with the grantee (opening each as the patient, which the access log shows as
/// a key shared under the grant, [`AccessBasis::Sharing`]).
pub async fn grant(
    client: &Client,
    patient: &impl Holder,
    new: &NewGrant,
    custodian: PartyId,
) -> Result<GrantId, RecordsError> {
    grant_checked(client, patient, new, custodian, None).await
}

/// [`grant`], and with a `verifier`, the grantee's encryption key (which each data key is
/// wrapped for), the patient's records and each read as the patient are proven: a node
/// cannot answer with a key of its own, or leave a record out.
pub async fn grant_checked(
    client: &Client,
    patient: &impl Holder,
    new: &NewGrant,
    custodian: PartyId,
    verifier: Option<&crate::proven::Verifier>,
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
    let grantee = party_checked(client, verifier, &new.grantee).await?;
    let grant_id = GrantId::derive(&patient.party_id(), &salt);
    if new.read {
        for record in records_in(client, verifier, &patient.party_id()).await? {
            let id = record.id;
            if record.erased.is_some()
                || !new
                    .scope
                    .covers(&id, &record.resource_type, record.category.as_ref())
                || !record.latest.custodians.contains(&custodian)
            {
                continue;
            }
            // Logged as the sharing it is, under the grant, for the grant's purpose.
            let opened = read_checked(
                client,
                patient,
                None,
                &id,
                0,
                AccessBasis::Sharing(grant_id),
                new.purpose,
                custodian,
                verifier,
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
    Ok(grant_id)
}

/// A state entry: as the node serves it, or, with a `verifier`, proven (`key` is the raw key
/// derived by the caller; `text` names it for the request).
async fn entry_on_chain(
    client: &Client,
    verifier: Option<&crate::proven::Verifier>,
    text: &str,
    key: &[u8],
) -> Result<Option<Vec<u8>>, RecordsError> {
    match verifier {
        Some(verifier) => proven_value(client, verifier, text, key).await,
        None => client
            .state(text, false)
            .await?
            .value
            .map(|value| hex::decode(value).map_err(|_| RecordsError::Mismatch("bad hex".into())))
            .transpose(),
    }
}

/// Most grants to one grantee [`choose_basis`] looks through, newest first.
pub const BASIS_GRANTS_MAX: u64 = 256;

/// The basis on which `reader` may read `record` for `purpose` at `now_ms`, as the chain
/// would decide it: as its patient, as an author of a version, or under an active grant to the
/// reader (or to the reader's organisation) that covers the record for that purpose, newest
/// grant first. When none applies, the error says which bases were looked at and why none
/// covers the read. Each entry is proven when a `verifier` is given; the node decides the read
/// itself in any case, so a wrong choice is refused, never granted.
pub async fn choose_basis(
    client: &Client,
    verifier: Option<&crate::proven::Verifier>,
    reader: &PartyId,
    record: &RecordId,
    purpose: Purpose,
    now_ms: u64,
) -> Result<AccessBasis, RecordsError> {
    let anchored = record_checked(client, verifier, record).await?;
    if anchored.patient == *reader {
        return Ok(AccessBasis::Patient);
    }
    let author = medchain_state::records::author_key(record, reader);
    let text = medchain_state::keys::describe(&author);
    if entry_on_chain(client, verifier, &text, &author)
        .await?
        .is_some()
    {
        return Ok(AccessBasis::Author);
    }
    let party = party_checked(client, verifier, reader).await?;
    let mut grantees = vec![*reader];
    grantees.extend(party.organisation);
    let mut looked = Vec::new();
    for grantee in grantees {
        let name = medchain_state::lists::names::GRANTED;
        let count_key = medchain_state::lists::count_key(name, &grantee.0);
        let count = match entry_on_chain(
            client,
            verifier,
            &medchain_state::keys::describe(&count_key),
            &count_key,
        )
        .await?
        {
            Some(bytes) => u64::from_be_bytes(bytes.as_slice().try_into().map_err(|_| {
                RecordsError::Mismatch(format!("the count of grants to {grantee} is not 8 bytes"))
            })?),
            None => 0,
        };
        for seq in (count.saturating_sub(BASIS_GRANTS_MAX)..count).rev() {
            let item = medchain_state::lists::item_key(name, &grantee.0, seq);
            let Some(id) = entry_on_chain(
                client,
                verifier,
                &medchain_state::keys::describe(&item),
                &item,
            )
            .await?
            else {
                continue;
            };
            let id =
                GrantId::from_slice(&id).map_err(|err| RecordsError::Mismatch(err.to_string()))?;
            let key = medchain_state::records::grant_key(&id);
            let Some(bytes) =
                entry_on_chain(client, verifier, &format!("grant/{id}"), &key).await?
            else {
                continue;
            };
            let grant =
                Grant::decode(bytes).map_err(|err| RecordsError::Mismatch(err.to_string()))?;
            if grant.patient != anchored.patient {
                continue;
            }
            let why_not = if !grant.read {
                Some("it does not allow reading")
            } else if grant.revoked_ms.is_some() {
                Some("it was revoked")
            } else if now_ms < grant.valid_from_ms || now_ms >= grant.valid_until_ms {
                Some("it is not in force now")
            } else if grant.purpose != purpose {
                Some("it is for another purpose")
            } else if !grant.scope.covers(
                record,
                &anchored.resource_type,
                anchored.category.as_ref(),
            ) {
                Some("its scope does not cover this record")
            } else {
                None
            };
            match why_not {
                None => return Ok(AccessBasis::Grant(id)),
                Some(why) => looked.push(format!("grant:{id} ({why})")),
            }
        }
    }
    let grants = match looked.is_empty() {
        true => "no grant of this patient's is made to you or your organisation".to_string(),
        false => format!("the grants of this patient's to you: {}", looked.join("; ")),
    };
    Err(RecordsError::Invalid(format!(
        "no basis you hold covers reading record {record} for {}: you are not its patient, you wrote no version of it, and {grants}. Ask the patient for a grant, or, in an emergency, declare one (records break-glass) and read with --basis break-glass:<id>",
        purpose.name()
    )))
}

/// A party on chain, proven when a `verifier` is given.
async fn party_checked(
    client: &Client,
    verifier: Option<&crate::proven::Verifier>,
    id: &PartyId,
) -> Result<medchain_types::Party, RecordsError> {
    let bytes = entry_on_chain(
        client,
        verifier,
        &format!("party/{id}"),
        &medchain_state::keys::party(id),
    )
    .await?
    .ok_or_else(|| RecordsError::Invalid(format!("no party {id} on chain")))?;
    medchain_types::Party::decode(bytes).map_err(|err| RecordsError::Mismatch(err.to_string()))
}

/// The record as anchored on chain.
pub async fn record_on_chain(client: &Client, id: &RecordId) -> Result<Record, RecordsError> {
    record_checked(client, None, id).await
}

/// [`record_on_chain`], proven when a `verifier` is given.
pub async fn record_checked(
    client: &Client,
    verifier: Option<&crate::proven::Verifier>,
    id: &RecordId,
) -> Result<Record, RecordsError> {
    let bytes = entry_on_chain(
        client,
        verifier,
        &format!("record/{id}"),
        &medchain_state::records::record_key(id),
    )
    .await?
    .ok_or_else(|| RecordsError::Invalid(format!("no record {id} on chain")))?;
    Record::decode(bytes).map_err(|err| RecordsError::Mismatch(err.to_string()))
}

/// One version as anchored on chain.
pub async fn version_on_chain(
    client: &Client,
    id: &RecordId,
    version: u32,
) -> Result<RecordVersion, RecordsError> {
    version_checked(client, None, id, version).await
}

/// [`version_on_chain`], proven when a `verifier` is given.
pub async fn version_checked(
    client: &Client,
    verifier: Option<&crate::proven::Verifier>,
    id: &RecordId,
    version: u32,
) -> Result<RecordVersion, RecordsError> {
    let bytes = entry_on_chain(
        client,
        verifier,
        &format!("record-version/{id}/{version}"),
        &medchain_state::records::version_key(id, version),
    )
    .await?
    .ok_or_else(|| RecordsError::Invalid(format!("no version {version} of {id} on chain")))?;
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
    Ok(records_in(client, None, patient)
        .await?
        .into_iter()
        .map(|record| record.id)
        .collect())
}

/// A patient's records, oldest first, a page at a time: as served, or proven and complete
/// with a `verifier`.
async fn records_in(
    client: &Client,
    verifier: Option<&crate::proven::Verifier>,
    patient: &PartyId,
) -> Result<Vec<Record>, RecordsError> {
    use medchain_types::api::PatientItem;
    let items = patient_list_all(
        client,
        verifier,
        medchain_state::records::PatientList::Records,
        patient,
        0,
    )
    .await?;
    Ok(items
        .into_iter()
        .filter_map(|(item, _)| match item.item {
            PatientItem::Record(record) => Some(record),
            _ => None,
        })
        .collect())
}

/// A patient's access log, from entry `from`.
pub async fn access_log(
    client: &Client,
    patient: &PartyId,
    from: u64,
) -> Result<Vec<medchain_types::records::AccessEntry>, RecordsError> {
    Ok(access_log_checked(client, None, patient, from)
        .await?
        .into_iter()
        .map(|(entry, _)| entry)
        .collect())
}

/// A patient's access log from entry `from` to its end, a page at a time, each entry with the
/// height it was read (proven, with a `verifier`) at.
async fn access_log_checked(
    client: &Client,
    verifier: Option<&crate::proven::Verifier>,
    patient: &PartyId,
    from: u64,
) -> Result<Vec<(medchain_types::records::AccessEntry, u64)>, crate::proven::ProvenError> {
    use medchain_types::api::PatientItem;
    let items = patient_list_all(
        client,
        verifier,
        medchain_state::records::PatientList::AccessLog,
        patient,
        from,
    )
    .await?;
    Ok(items
        .into_iter()
        .filter_map(|(item, height)| match item.item {
            PatientItem::Access(entry) => Some((entry, height)),
            _ => None,
        })
        .collect())
}

pub use medchain_types::disclosures::{DeniedAttempt, Disclosure, DisclosureReport};

async fn access_entry(
    client: &Client,
    patient: &PartyId,
    seq: u64,
) -> Result<medchain_types::records::AccessEntry, RecordsError> {
    let bytes = list_item(client, "access", patient, seq).await?;
    medchain_types::records::AccessEntry::decode(bytes)
        .map_err(|err| RecordsError::Mismatch(err.to_string()))
}

/// The entries of `patient`'s access log in `[from_ms, to_ms)`. The log is in block order, so
/// its times never decrease: a binary search finds the first entry, and reading stops at the
/// first entry past the period.
pub async fn access_log_between(
    client: &Client,
    patient: &PartyId,
    from_ms: u64,
    to_ms: u64,
) -> Result<Vec<medchain_types::records::AccessEntry>, RecordsError> {
    let count = list_len(client, "access", patient).await?;
    let (mut low, mut high) = (0, count);
    while low < high {
        let middle = low + (high - low) / 2;
        if access_entry(client, patient, middle).await?.time_ms < from_ms {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    let mut out = Vec::new();
    for seq in low..count {
        let entry = access_entry(client, patient, seq).await?;
        if entry.time_ms >= to_ms {
            break;
        }
        out.push(entry);
    }
    Ok(out)
}

/// Builds the accounting of disclosures of `patient` for `[from_ms, to_ms)` from the node's
/// public state, reading only the period's part of the access log (the node also serves the
/// report: `GET /v1/patients/{id}/disclosures`).
pub async fn disclosures(
    client: &Client,
    patient: &PartyId,
    from_ms: u64,
    to_ms: u64,
) -> Result<DisclosureReport, RecordsError> {
    disclosures_checked(client, None, patient, from_ms, to_ms).await
}

/// [`disclosures`], and with a `verifier`, every line proven: the whole access log (complete
/// to its proven count, the period's entries taken from it), and each party's label and each
/// record's type from proven entries; the report is as of the highest height proven.
pub async fn disclosures_checked(
    client: &Client,
    verifier: Option<&crate::proven::Verifier>,
    patient: &PartyId,
    from_ms: u64,
    to_ms: u64,
) -> Result<DisclosureReport, RecordsError> {
    use medchain_types::disclosures as report;
    if to_ms <= from_ms {
        return Err(RecordsError::Invalid(
            "the period must end after it starts".into(),
        ));
    }
    let (log, chain_id, as_of_height) = match verifier {
        None => {
            let status = client.status().await?;
            let log = access_log_between(client, patient, from_ms, to_ms).await?;
            (log, status.chain_id.to_string(), status.latest.height)
        }
        Some(verifier) => {
            let log: Vec<_> = access_log_proven(client, verifier, patient, 0)
                .await?
                .into_iter()
                .map(|(entry, _)| entry)
                .filter(|entry| (from_ms..to_ms).contains(&entry.time_ms))
                .collect();
            (
                log,
                verifier.genesis().chain_id.to_string(),
                verifier.floor(),
            )
        }
    };
    let period = report::Period {
        patient: *patient,
        chain_id,
        from_ms,
        to_ms,
        as_of_height,
    };
    let (parties, records) = report::lookups(&period, &log);
    let mut organisations = std::collections::HashMap::new();
    let mut labels = std::collections::HashMap::new();
    // What is not on chain is left unlabelled; with proofs, an answer that does not verify
    // fails the report rather than leaving a line unlabelled.
    let strict = verifier.is_some();
    for id in parties {
        let found = optional(party_checked(client, verifier, &id).await, strict)?;
        let organisation = match found.as_ref().and_then(|p| p.organisation) {
            Some(org) if found.as_ref().is_some_and(|p| p.label.is_empty()) => {
                if let std::collections::hash_map::Entry::Vacant(slot) = organisations.entry(org) {
                    slot.insert(optional(
                        party_checked(client, verifier, &org).await,
                        strict,
                    )?);
                }
                organisations.get(&org).cloned().flatten()
            }
            _ => None,
        };
        labels.insert(id, report::label(found.as_ref(), organisation.as_ref()));
    }
    let mut types = std::collections::HashMap::new();
    for id in records {
        if let Some(record) = optional(record_checked(client, verifier, &id).await, strict)? {
            types.insert(id, record.resource_type.to_string());
        }
    }
    Ok(report::build(&period, &log, &labels, &types))
}

/// A lookup that may find nothing on chain: `None` for that, and, when `strict` (with
/// proofs), an error for anything else.
fn optional<T>(found: Result<T, RecordsError>, strict: bool) -> Result<Option<T>, RecordsError> {
    match found {
        Ok(value) => Ok(Some(value)),
        Err(RecordsError::Invalid(_)) => Ok(None),
        Err(err) if strict => Err(err),
        Err(_) => Ok(None),
    }
}

impl Client {
    /// `GET /v1/patients/{id}/{list}`: a page of a patient's records, grants, access log or
    /// break-glass declarations, as the node serves it (with the state entries it rests on,
    /// proven, when asked: check them with [`patient_list_proven`]).
    pub async fn patient_list(
        &self,
        list: medchain_state::records::PatientList,
        patient: &PartyId,
        from: u64,
        limit: u64,
        proof: bool,
    ) -> Result<serde_json::Value, ClientError> {
        self.get_settled(&format!(
            "/v1/patients/{patient}/{}?from={from}&limit={limit}&proof={proof}",
            list.path()
        ))
        .await
    }
}

/// A page of a patient's list, proven: the list's count, each item of the page and what it
/// names are verified at one fresh finalized height, and the page is recomputed from them by
/// [`medchain_state::records::patient_page`], so an entry left out, moved, replaced by
/// another's, or answered with a proof of another key is refused.
pub async fn patient_list_proven(
    client: &Client,
    verifier: &crate::proven::Verifier,
    list: medchain_state::records::PatientList,
    patient: &PartyId,
    from: u64,
    limit: u64,
) -> Result<
    crate::proven::Proven<medchain_types::api::PatientListResponse>,
    crate::proven::ProvenError,
> {
    let served = client
        .patient_list(list, patient, from, limit, true)
        .await?;
    check_patient_list(verifier, list, patient, from, limit, served).await
}

/// Checks a page of a patient's list served with proofs (as JSON) for the question (`list`,
/// `patient`, `from`, `limit`): see [`patient_list_proven`].
pub async fn check_patient_list(
    verifier: &crate::proven::Verifier,
    list: medchain_state::records::PatientList,
    patient: &PartyId,
    from: u64,
    limit: u64,
    mut served: serde_json::Value,
) -> Result<
    crate::proven::Proven<medchain_types::api::PatientListResponse>,
    crate::proven::ProvenError,
> {
    // The served page stays JSON: it is compared field by field with the recomputed one,
    // never trusted as typed data.
    let entries = served
        .as_object_mut()
        .and_then(|object| object.remove("entries"))
        .map(serde_json::from_value::<Vec<medchain_types::api::StateResponse>>)
        .transpose()
        .map_err(|err| crate::proven::ProvenError::Differs {
            field: format!("entries ({err})"),
        })?
        .unwrap_or_default();
    crate::proven::recompute_served(verifier, &served, entries, async |state| {
        medchain_state::records::patient_page(state, list, patient, from, limit, state.height).await
    })
    .await
}

/// A patient's whole list from item `from` to its end, page by page: proven by `verifier`
/// ([`patient_list_proven`]) when given, each item with the height it is proven at (pages are
/// proven at heights that never go back, and the last page's proven count says where the
/// list ends); as the node serves it otherwise, with the height it read.
pub async fn patient_list_all(
    client: &Client,
    verifier: Option<&crate::proven::Verifier>,
    list: medchain_state::records::PatientList,
    patient: &PartyId,
    from: u64,
) -> Result<Vec<(medchain_types::api::PatientListItem, u64)>, crate::proven::ProvenError> {
    use medchain_state::records::PAGE_MAX;
    let mut out = Vec::new();
    loop {
        let next = from + out.len() as u64;
        let page = match verifier {
            Some(verifier) => {
                patient_list_proven(client, verifier, list, patient, next, PAGE_MAX)
                    .await?
                    .answer
            }
            None => serde_json::from_value::<medchain_types::api::PatientListResponse>(
                client
                    .patient_list(list, patient, next, PAGE_MAX, false)
                    .await?,
            )
            .map_err(|err| {
                crate::proven::ProvenError::Node(ClientError::Unexpected {
                    url: client.base().to_string(),
                    status: 200,
                    body: format!("not a page of a patient's list: {err}"),
                })
            })?,
        };
        let height = page.height;
        let read = page.items.len();
        out.extend(page.items.into_iter().map(|item| (item, height)));
        if read == 0 || from + out.len() as u64 >= page.count {
            return Ok(out);
        }
    }
}

/// A patient's access log from entry `from` to its end, proven ([`patient_list_all`]); each
/// entry with the height it is proven at.
pub async fn access_log_proven(
    client: &Client,
    verifier: &crate::proven::Verifier,
    patient: &PartyId,
    from: u64,
) -> Result<Vec<(medchain_types::records::AccessEntry, u64)>, crate::proven::ProvenError> {
    access_log_checked(client, Some(verifier), patient, from).await
}
