//! Records end to end on a dev chain: write, read, grant, organisation grants through the
//! custodial organisation key, denial, revocation, signed requests, erasure, and a scan for
//! plaintext in everything the node wrote.

use crate::{processes, submit_ok};
use medchain_client::{
    Client, ClientError,
    keys::PartyKeys,
    records::{self, NewGrant, NewRecord, RecordsError},
};
use medchain_types::{
    PartyKind, Role, Roles, TxBody,
    dev::party_id,
    records::{AccessBasis, AccessOutcome, Purpose, ResourceType, Scope},
};
use processes::Node;
use std::time::Duration;

/// A synthetic observation; the marker must never appear outside a reader's client.
const MARKER: &str = "SYNTHETIC-MARKER-7f3a9c-hemoglobin";

pub(crate) async fn practitioner(client: &Client, organisation: &str) -> PartyKeys {
    let keys = PartyKeys::generate().expect("keys");
    submit_ok(
        client,
        &PartyKeys::dev(organisation),
        TxBody::RegisterParty {
            kind: PartyKind::Practitioner,
            signing_key: keys.public_key(),
            encryption_key: keys.encryption_key(),
            label: format!("Dr E2E of the {organisation}"),
            roles: Roles::new([Role::Provider]),
        },
    )
    .await;
    keys
}

enum Signer<'a> {
    Session(&'a medchain_client::http::Session),
    Forged(&'a str),
}

/// A `DELETE` signed under a session (or a forged one), sent as is: (status, body).
async fn signed_raw(client: &Client, signer: Signer<'_>, path: &str) -> (u16, String) {
    send_signed(client, &sign_raw(client, signer, path)).await
}

fn sign_raw(
    client: &Client,
    signer: Signer<'_>,
    path: &str,
) -> (String, medchain_types::httpsig::SignedFields) {
    use medchain_types::httpsig;
    let authority = client.base().trim_start_matches("http://").to_string();
    let request = httpsig::Request {
        method: "DELETE",
        authority: &authority,
        path,
        query: None,
        headers: Vec::new(),
    };
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let nonce = hex::encode(medchain_envelope::random::<16>().expect("random"));
    let forged = [0x11u8; 32];
    let signer = match signer {
        Signer::Session(session) => httpsig::Signer::Session {
            id: &session.id,
            secret: session.secret(),
        },
        Signer::Forged(id) => httpsig::Signer::Session {
            id,
            secret: &forged,
        },
    };
    let fields = httpsig::sign_with(signer, &request, b"", created, &nonce);
    (path.to_string(), fields)
}

async fn send_signed(
    client: &Client,
    (path, fields): &(String, medchain_types::httpsig::SignedFields),
) -> (u16, String) {
    let answer = reqwest::Client::new()
        .delete(format!("{}{path}", client.base()))
        .header("signature-input", &fields.signature_input)
        .header("signature", &fields.signature)
        .send()
        .await
        .expect("answers");
    (
        answer.status().as_u16(),
        answer.text().await.expect("a body"),
    )
}

/// A session is refused for a replay, for a forged secret, and for opening another session.
async fn sessions_refuse_misuse(
    client: &Client,
    party: &PartyKeys,
    session: &medchain_client::http::Session,
) {
    let unknown = "/v1/sessions/ffeeddccbbaa99887766554433221100";
    let signed = sign_raw(client, Signer::Session(session), unknown);
    let first = send_signed(client, &signed).await;
    assert_eq!(
        first.0, 404,
        "authenticated, but no such session: {}",
        first.1
    );
    let again = send_signed(client, &signed).await;
    assert_eq!(again.0, 401, "{}", again.1);
    assert!(again.1.contains("replayed"), "{}", again.1);
    let forged = signed_raw(client, Signer::Forged(&session.id), unknown).await;
    assert_eq!(forged.0, 401, "{}", forged.1);
    assert!(forged.1.contains("bad_signature"), "{}", forged.1);
    let nested: Result<serde_json::Value, _> = client
        .signed_as(
            medchain_client::http::RequestSigner::Session(session),
            medchain_client::http::Method::POST,
            "/v1/sessions",
            "application/json",
            Vec::new(),
        )
        .await;
    match nested {
        Err(ClientError::Problem(problem)) => {
            assert_eq!(problem.code, "party_key_required", "{problem:?}")
        }
        other => panic!("a session opened another: {other:?}"),
    }
    assert_eq!(session.party, party.party_id);
}

fn denied_code(err: &RecordsError) -> Option<String> {
    match err {
        RecordsError::Client(ClientError::Problem(problem)) => Some(format!(
            "{} {} {}",
            problem.status, problem.code, problem.detail
        )),
        _ => None,
    }
}

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files_under(&path, out);
            } else {
                out.push(path);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_written_shared_read_denied_revoked_and_erased() {
    let dir = processes::temp_dir("records");
    let node = Node::dev(&dir);
    let client = node.client().await;
    processes::wait_for_height(&client, 1, Duration::from_secs(60)).await;
    let hospital = party_id("hospital");
    let patient = PartyKeys::dev("patient-1");
    let author = practitioner(&client, "hospital").await;
    let colleague = practitioner(&client, "hospital").await;
    let outsider = practitioner(&client, "clinic").await;
    let grantee = practitioner(&client, "clinic").await;
    let content = format!(
        r#"{{"resourceType":"Observation","status":"final","code":{{"text":"{MARKER}"}},"valueQuantity":{{"value":13.2,"unit":"g/dL"}}}}"#
    );
    let observation = ResourceType::new("Observation").expect("valid");

    // The author writes; only sealed bytes reach the node.
    let (id, version) = records::put(
        &client,
        &author,
        None,
        &NewRecord {
            patient: patient.party_id,
            resource_type: observation.clone(),
            category: None,
            media_type: "application/fhir+json".into(),
            content: content.clone().into_bytes(),
            custodians: vec![hospital],
        },
        None,
    )
    .await
    .expect("written");
    assert_eq!(version, 1);

    // The patient and the author read it, and it matches the anchor.
    let own = records::read(
        &client,
        &patient,
        &id,
        0,
        AccessBasis::Patient,
        Purpose::PatientRequest,
        hospital,
    )
    .await
    .expect("the patient reads");
    assert_eq!(own.content, content.as_bytes());
    let by_author = records::read(
        &client,
        &author,
        &id,
        0,
        AccessBasis::Author,
        Purpose::Treatment,
        hospital,
    )
    .await
    .expect("the author reads");
    assert_eq!(by_author.content, content.as_bytes());

    // Without a grant, another organisation's practitioner is denied, and it is logged.
    let err = records::read(
        &client,
        &outsider,
        &id,
        0,
        AccessBasis::Author,
        Purpose::Treatment,
        hospital,
    )
    .await
    .expect_err("no grant");
    let text = denied_code(&err).expect("a problem");
    assert!(text.starts_with("403 access_denied not_author"), "{text}");

    // The patient grants a clinic practitioner, sharing the key; the grantee reads.
    let now = client.status().await.expect("status").latest.time_ms;
    let grant = records::grant(
        &client,
        &patient,
        &NewGrant {
            grantee: grantee.party_id,
            scope: Scope::ResourceTypes(vec![observation.clone()]),
            read: true,
            write: false,
            purpose: Purpose::Treatment,
            valid_from_ms: now,
            valid_until_ms: now + 3_600_000,
            condition: None,
        },
        hospital,
    )
    .await
    .expect("granted");
    let read = records::read(
        &client,
        &grantee,
        &id,
        0,
        AccessBasis::Grant(grant),
        Purpose::Treatment,
        hospital,
    )
    .await
    .expect("the grantee reads");
    assert_eq!(read.content, content.as_bytes());

    // An organisation grant: the custodian re-wraps the organisation's key for its member.
    let to_hospital = records::grant(
        &client,
        &patient,
        &NewGrant {
            grantee: hospital,
            scope: Scope::All,
            read: true,
            write: false,
            purpose: Purpose::Operations,
            valid_from_ms: now,
            valid_until_ms: now + 3_600_000,
            condition: None,
        },
        hospital,
    )
    .await
    .expect("granted");
    let through_org = records::read(
        &client,
        &colleague,
        &id,
        0,
        AccessBasis::Grant(to_hospital),
        Purpose::Operations,
        hospital,
    )
    .await
    .expect("a hospital member reads through the organisation grant");
    assert_eq!(through_org.content, content.as_bytes());

    // Unsigned, and replayed, requests are refused before anything happens.
    let unsigned = reqwest::Client::new()
        .post(format!("{}/v1/records/{id}/read", client.base()))
        .body("{}")
        .send()
        .await
        .expect("answers");
    assert_eq!(unsigned.status(), 401);

    // Sessions: the grantee opens one and reads under it (HMAC-SHA256 request signatures).
    let session = client
        .open_session(&grantee, Some(600))
        .await
        .expect("a session opens");
    let in_session = records::read_with(
        &client,
        &grantee,
        Some(&session),
        &id,
        0,
        AccessBasis::Grant(grant),
        Purpose::Treatment,
        hospital,
    )
    .await
    .expect("the grantee reads under its session");
    assert_eq!(in_session.content, content.as_bytes());
    sessions_refuse_misuse(&client, &grantee, &session).await;
    client.end_session(&session).await.expect("ended");
    let err = records::read_with(
        &client,
        &grantee,
        Some(&session),
        &id,
        0,
        AccessBasis::Grant(grant),
        Purpose::Treatment,
        hospital,
    )
    .await
    .expect_err("an ended session");
    let text = denied_code(&err).expect("a problem");
    assert!(text.starts_with("401 unknown_session"), "{text}");
    // A key rotation ends a party's sessions at once.
    let rotating = practitioner(&client, "clinic").await;
    let session = client
        .open_session(&rotating, None)
        .await
        .expect("a session opens");
    let rotated = PartyKeys::generate().expect("keys");
    submit_ok(
        &client,
        &rotating,
        TxBody::RotateKeys {
            signing_key: rotated.public_key(),
            encryption_key: rotated.encryption_key(),
        },
    )
    .await;
    let answer = signed_raw(&client, Signer::Session(&session), "/v1/sessions/00").await;
    assert_eq!(answer.0, 401, "{}", answer.1);
    assert!(answer.1.contains("session_ended"), "{}", answer.1);

    // Revoked: the grantee is denied at once.
    records::submit(
        &client,
        &client.status().await.expect("status").chain_id,
        &patient,
        TxBody::Record(medchain_types::records::RecordOp::Revoke { grant }),
    )
    .await
    .expect("revoked");
    let err = records::read(
        &client,
        &grantee,
        &id,
        0,
        AccessBasis::Grant(grant),
        Purpose::Treatment,
        hospital,
    )
    .await
    .expect_err("revoked");
    let text = denied_code(&err).expect("a problem");
    assert!(
        text.starts_with("403 access_denied grant_revoked"),
        "{text}"
    );

    // The patient's access log has every attempt, granted or denied, in order.
    let log = records::access_log(&client, &patient.party_id, 0)
        .await
        .expect("log");
    let summary: Vec<(String, bool)> = log
        .iter()
        .map(|entry| {
            let who = if entry.reader == patient.party_id
                && matches!(entry.basis, AccessBasis::Sharing(_))
            {
                "patient sharing"
            } else if entry.reader == patient.party_id {
                "patient"
            } else if entry.reader == author.party_id {
                "author"
            } else if entry.reader == outsider.party_id {
                "outsider"
            } else if entry.reader == grantee.party_id {
                "grantee"
            } else if entry.reader == colleague.party_id {
                "colleague"
            } else {
                "other"
            };
            (who.to_string(), entry.outcome == AccessOutcome::Granted)
        })
        .collect();
    let expected: Vec<(String, bool)> = [
        ("patient", true),
        ("author", true),
        ("outsider", false),
        // Regression (issue 17): granting shares the key by opening the record as the
        // patient, logged as the sharing it is (under the grant), not as a read.
        ("patient sharing", true),
        ("grantee", true),
        ("patient sharing", true),
        ("colleague", true),
        // Under a session; the read with the ended session was refused before any transaction.
        ("grantee", true),
        ("grantee", false),
    ]
    .iter()
    .map(|(who, ok)| (who.to_string(), *ok))
    .collect();
    assert_eq!(summary, expected);
    // Every entry is provable: checked offline against the genesis.
    let genesis: medchain_types::Genesis =
        serde_json::from_str(&std::fs::read_to_string(dir.join("genesis.json")).expect("genesis"))
            .expect("json");
    let verifier = medchain_client::proven::Verifier::new(genesis.clone());
    let proven = records::access_log_proven(&client, &verifier, &patient.party_id, 0)
        .await
        .expect("every entry's proof verifies");
    assert_eq!(
        proven
            .into_iter()
            .map(|(entry, _)| entry)
            .collect::<Vec<_>>(),
        log
    );
    // The same log, and the record's history, from the /v1 patient and record endpoints.
    let page: serde_json::Value = reqwest::get(format!(
        "{}/v1/patients/{}/access-log?from=2&limit=3",
        client.base(),
        patient.party_id
    ))
    .await
    .expect("answers")
    .json()
    .await
    .expect("json");
    assert_eq!(page["count"], log.len() as u64);
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["seq"], 2);
    assert_eq!(
        items[0]["item"]["reader"],
        serde_json::to_value(log[2].reader).expect("json")
    );
    let grants: serde_json::Value = reqwest::get(format!(
        "{}/v1/patients/{}/grants",
        client.base(),
        patient.party_id
    ))
    .await
    .expect("answers")
    .json()
    .await
    .expect("json");
    assert_eq!(grants["count"], 2);
    let history: serde_json::Value = reqwest::get(format!("{}/v1/records/{id}", client.base()))
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!(history["versions"].as_array().expect("versions").len(), 1);

    // Erasure: the custodian deletes the content and keys; reads are denied.
    records::submit(
        &client,
        &client.status().await.expect("status").chain_id,
        &patient,
        TxBody::Record(medchain_types::records::RecordOp::Erase {
            record: id,
            reason: "patient request".into(),
        }),
    )
    .await
    .expect("erased");
    let blobs = dir.join("blobs");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut files = Vec::new();
        files_under(&blobs.join("objects"), &mut files);
        files_under(&blobs.join("keys"), &mut files);
        if files.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "erased content is still stored: {files:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let err = records::read(
        &client,
        &patient,
        &id,
        0,
        AccessBasis::Patient,
        Purpose::PatientRequest,
        hospital,
    )
    .await
    .expect_err("erased");
    let text = denied_code(&err).expect("a problem");
    assert!(
        text.starts_with("403 access_denied record_erased"),
        "{text}"
    );

    // Nothing the node wrote (state, event log, blob store, logs) holds the plaintext.
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    assert!(files.len() > 5);
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()),
            "plaintext found in {}",
            file.display()
        );
    }
}

/// Reads, retrying while the custodian has not received its replicas yet (nothing is logged
/// for those attempts: the custodian refuses, before committing it, a read it would grant but
/// cannot serve yet, and asks the other custodians for what it lacks).
async fn read_when_replicated(
    client: &Client,
    reader: &PartyKeys,
    id: &medchain_types::records::RecordId,
    basis: AccessBasis,
    purpose: Purpose,
    custodian: medchain_types::PartyId,
) -> Result<records::ReadRecord, RecordsError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match records::read(client, reader, id, 0, basis, purpose, custodian).await {
            Err(RecordsError::Client(ClientError::Problem(problem)))
                if matches!(
                    problem.code.as_str(),
                    "content_not_here_yet" | "no_key_for_reader"
                ) && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            other => return other,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_replicate_records_between_custodians() {
    let network = processes::Network::testnet(4);
    let clients = network.clients().await;
    for client in &clients {
        processes::wait_for_height(client, 2, Duration::from_secs(90)).await;
    }
    // Validator 1 is run by the hospital, validator 2 by the clinic: both custodians.
    let (at_hospital, at_clinic) = (&clients[0], &clients[1]);
    let (hospital, clinic) = (party_id("hospital"), party_id("clinic"));
    let patient = PartyKeys::dev("patient-1");
    let author = practitioner(at_hospital, "hospital").await;
    let grantee = practitioner(at_hospital, "clinic").await;
    let content = format!(r#"{{"resourceType":"Condition","code":{{"text":"{MARKER}"}}}}"#);
    let condition = ResourceType::new("Condition").expect("valid");
    let (id, _) = records::put(
        at_hospital,
        &author,
        None,
        &NewRecord {
            patient: patient.party_id,
            resource_type: condition.clone(),
            category: None,
            media_type: "application/fhir+json".into(),
            content: content.clone().into_bytes(),
            custodians: vec![hospital, clinic],
        },
        None,
    )
    .await
    .expect("written at the hospital's node");
    let now = at_hospital.status().await.expect("status").latest.time_ms;
    let grant = records::grant(
        at_hospital,
        &patient,
        &NewGrant {
            grantee: grantee.party_id,
            scope: Scope::ResourceTypes(vec![condition]),
            read: true,
            write: false,
            purpose: Purpose::Treatment,
            valid_from_ms: now,
            valid_until_ms: now + 3_600_000,
            condition: None,
        },
        hospital,
    )
    .await
    .expect("granted");

    // Read from the clinic's node: content and key were replicated there.
    let read = read_when_replicated(
        at_clinic,
        &grantee,
        &id,
        AccessBasis::Grant(grant),
        Purpose::Treatment,
        clinic,
    )
    .await
    .expect("the grantee reads from the other custodian");
    assert_eq!(read.content, content.as_bytes());

    // Revoked: denied there too, and the denial is in the patient's log on every node.
    records::submit(
        at_clinic,
        &at_clinic.status().await.expect("status").chain_id,
        &patient,
        TxBody::Record(medchain_types::records::RecordOp::Revoke { grant }),
    )
    .await
    .expect("revoked");
    let err = records::read(
        at_clinic,
        &grantee,
        &id,
        0,
        AccessBasis::Grant(grant),
        Purpose::Treatment,
        clinic,
    )
    .await
    .expect_err("revoked");
    assert!(
        denied_code(&err)
            .expect("a problem")
            .starts_with("403 access_denied grant_revoked"),
        "{err}"
    );
    // Break-glass: a licensed emergency physician of the hospital reads through the
    // hospital's node, which re-wraps the key from the hospital's custodial key.
    let board = PartyKeys::dev("licensing-board");
    let physician =
        medchain_types::credential::CredentialType::new("physician_licence").expect("valid");
    crate::govern(
        at_hospital,
        medchain_types::GovernanceAction::AccreditIssuer {
            issuer: board.party_id,
            credential_types: vec![physician.clone()],
            jurisdictions: vec![
                medchain_types::credential::Jurisdiction::new("US").expect("valid"),
            ],
        },
    )
    .await;
    crate::govern(
        at_hospital,
        medchain_types::GovernanceAction::SetCredentialRequirement {
            action: "break_glass".into(),
            requirement: Some(medchain_types::tx::CredentialRequirement {
                credential_type: physician.clone(),
                jurisdiction: None,
            }),
        },
    )
    .await;
    let er = practitioner(at_hospital, "hospital").await;
    let now = at_hospital.status().await.expect("status").latest.time_ms;
    submit_ok(
        at_hospital,
        &board,
        TxBody::IssueCredential {
            subject: er.party_id,
            credential_type: physician,
            jurisdiction: medchain_types::credential::Jurisdiction::new("US-CA").expect("valid"),
            number_commitment: medchain_types::credential::number_commitment(&[3; 32], "ER-1"),
            specialty: Some("emergency medicine".into()),
            valid_from_ms: now,
            valid_until_ms: now + 86_400_000,
        },
    )
    .await;
    let salt = medchain_types::Hash32([77; 32]);
    submit_ok(
        at_hospital,
        &er,
        TxBody::Record(medchain_types::records::RecordOp::BreakGlass {
            salt,
            patient: patient.party_id,
            justification: "unresponsive on arrival, no grant on file".into(),
            duration_ms: 3_600_000,
        }),
    )
    .await;
    let glass =
        medchain_types::records::BreakGlassId::derive(&er.party_id, &patient.party_id, &salt);
    let emergency = read_when_replicated(
        at_hospital,
        &er,
        &id,
        AccessBasis::BreakGlass(glass),
        Purpose::EmergencyTreatment,
        hospital,
    )
    .await
    .expect("break-glass read through the organisation's key");
    assert_eq!(emergency.content, content.as_bytes());

    // A third node, once it has the block holding the denial.
    let height = at_hospital.status().await.expect("status").latest.height;
    processes::wait_for_height(&clients[2], height, Duration::from_secs(60)).await;
    let year = 365 * 86_400_000;
    let report = records::disclosures(&clients[2], &patient.party_id, now - year, now + year)
        .await
        .expect("the report, from a third node");
    assert_eq!(report.disclosures.len(), 2, "{report:?}");
    assert_eq!(report.disclosures[0].recipient, grantee.party_id);
    assert_eq!(report.disclosures[0].custodian, clinic);
    assert!(!report.disclosures[0].break_glass);
    assert_eq!(report.disclosures[1].recipient, er.party_id);
    assert!(
        report.disclosures[1].break_glass,
        "flagged for the patient's review"
    );
    assert_eq!(report.denied.len(), 1);
    assert_eq!(report.denied[0].code, "grant_revoked");
    assert!(report.to_html().contains("grant_revoked"));
    // A period starting at the break-glass read holds it alone; one ending there, the rest.
    let split = report.disclosures[1].time_ms;
    let later = records::disclosures(&clients[2], &patient.party_id, split, now + year)
        .await
        .expect("the later part");
    assert_eq!(later.disclosures, report.disclosures[1..]);
    let earlier = records::disclosures(&clients[2], &patient.party_id, now - year, split)
        .await
        .expect("the earlier part");
    assert_eq!(earlier.disclosures, report.disclosures[..1]);
    let none = records::disclosures(&clients[2], &patient.party_id, now + year, now + 2 * year)
        .await
        .expect("an empty period");
    assert!(none.disclosures.is_empty() && none.denied.is_empty());

    // The node builds the same report (GET /v1/patients/{id}/disclosures), as JSON and HTML.
    let (from, to) = (
        medchain_types::time::rfc3339(now - year),
        medchain_types::time::rfc3339(now + year),
    );
    let base = format!(
        "{}/v1/patients/{}/disclosures",
        clients[2].base(),
        patient.party_id
    );
    let http = reqwest::Client::new();
    let served: records::DisclosureReport = http
        .get(format!("{base}?from={from}&to={to}"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("a report");
    assert_eq!(served.disclosures, report.disclosures);
    assert_eq!(served.denied, report.denied);
    assert_eq!(served.own_reads, report.own_reads);
    let page = http
        .get(format!("{base}?from={from}&to={to}&format=html"))
        .send()
        .await
        .expect("answers");
    assert_eq!(
        page.headers()["content-type"].to_str().expect("ascii"),
        "text/html; charset=utf-8"
    );
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("emergency access")
    );
    // A period that starts after it ends, and a malformed date, are refused by name.
    for (from, to, code) in [
        ("2026-02-01", "2026-01-01", "invalid_period"),
        ("2026-13-01", "2027-01-01", "invalid_period"),
    ] {
        let answer = http
            .get(format!("{base}?from={from}&to={to}"))
            .send()
            .await
            .expect("answers");
        assert_eq!(answer.status(), 400);
        assert!(answer.text().await.expect("body").contains(code));
    }
    // Only the period's entries: none before the record was written.
    let before: records::DisclosureReport = http
        .get(format!("{base}?from=2000-01-01&to=2001-01-01"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("a report");
    assert!(before.disclosures.is_empty() && before.denied.is_empty());
}

/// Regression (issue 16, "bind signatures to the node they are for"): a request signed for
/// another node (its `@authority`) is refused here, even with the Host header forged to match,
/// so a signed `POST /v1/sessions` or `POST /v1/blobs` cannot be replayed at every validator,
/// each with its own replay cache. Signed for this node, the same request authenticates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_signed_for_another_node_is_refused() {
    use medchain_types::httpsig;
    let (_dir, _node, client) = processes::dev_chain("authority").await;
    let party = PartyKeys::dev("hospital");
    let here = client.base().trim_start_matches("http://").to_string();
    let path = "/v1/sessions/ffeeddccbbaa99887766554433221100";
    let send = async |authority: &str| {
        let request = httpsig::Request {
            method: "DELETE",
            authority,
            path,
            query: None,
            headers: Vec::new(),
        };
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let nonce = hex::encode(medchain_envelope::random::<16>().expect("random"));
        let fields = httpsig::sign_with(
            httpsig::Signer::Party {
                keypair: &party.signing,
                party: &party.party_id,
            },
            &request,
            b"",
            created,
            &nonce,
        );
        let answer = reqwest::Client::new()
            .delete(format!("{}{path}", client.base()))
            .header(reqwest::header::HOST, authority)
            .header("signature-input", &fields.signature_input)
            .header("signature", &fields.signature)
            .send()
            .await
            .expect("answers");
        (
            answer.status().as_u16(),
            answer.text().await.expect("a body"),
        )
    };
    let (status, body) = send("127.0.0.1:1").await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("wrong_authority"), "{body}");
    let (status, body) = send(&here).await;
    assert_eq!(status, 404, "authenticated, but no such session: {body}");
}
