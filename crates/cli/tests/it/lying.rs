//! A node that lies (issue 16): every proven answer, tampered with the ways a node or anything
//! on the path can tamper with it, is refused by the SDK and by the CLI.
//!
//! - The SDK is given a corpus of mutants of each honest answer: every field the proofs do
//!   not cover flipped (every leaf of the answer but its entries), list items reordered, each
//!   entry dropped, each entry replaced by the proof of another key of the same block, each
//!   proven value changed, and a genuine answer from before a revocation replayed.
//! - The CLI runs every `--genesis` command through a rewriting HTTP proxy between it and an
//!   honest node, once honest and once per kind of tampering.

use crate::{
    govern, processes,
    records::practitioner,
    submit_ok,
    supply::{GTIN, applied, gtin, now_ms, run, units},
};
use medchain_client::{
    Client,
    keys::PartyKeys,
    proven::{ProvenError, Verifier},
    records::{self, NewGrant, NewRecord},
};
use medchain_state::records::PatientList;
use medchain_types::{
    Genesis, TxBody,
    api::{
        CredentialCheckResponse, LineageResponse, LotHoldingsResponse, SupplyAlertsResponse,
        VerifyPackResponse,
    },
    credential::{CredentialStatus, CredentialType, Jurisdiction, number_commitment},
    dev::party_id,
    records::{AccessBasis, Purpose, ResourceType, Scope},
    supply::{Commission, EventMeta, SupplyOp, Transform},
    time::Date,
};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// A step into a JSON value.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// The paths of every leaf of `value`, except under the top-level `entries` (the proofs,
/// tampered with separately).
fn leaves(value: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if path.is_empty() && key == "entries" {
                    continue;
                }
                path.push(Step::Key(key.clone()));
                leaves(inner, path, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                path.push(Step::Index(i));
                leaves(inner, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

fn at<'v>(value: &'v mut Value, path: &[Step]) -> &'v mut Value {
    path.iter().fold(value, |value, step| match step {
        Step::Key(key) => &mut value[key.as_str()],
        Step::Index(i) => &mut value[*i],
    })
}

/// Changes a leaf to another value of its kind.
fn flip(leaf: &mut Value) {
    *leaf = match leaf.take() {
        Value::Bool(b) => Value::Bool(!b),
        Value::Number(n) => Value::from(n.as_u64().map_or(1, |n| n ^ 1)),
        Value::String(s) => {
            // A hex string (ids, hashes) stays hex: its last digit changes.
            let mut s = s;
            match s.pop() {
                Some(c) if c.is_ascii_hexdigit() => {
                    s.push(if c == '0' { '1' } else { '0' });
                }
                Some(c) => {
                    s.push(c);
                    s.push('X');
                }
                None => s.push('X'),
            }
            Value::String(s)
        }
        Value::Null => Value::Bool(true),
        other => other,
    };
}

/// Swaps the first two different items of the first list (outside `entries`) that has them.
fn reorder(value: &mut Value, top: bool) -> bool {
    match value {
        Value::Array(items) => {
            if let Some(j) = (1..items.len()).find(|&j| items[j] != items[0]) {
                items.swap(0, j);
                return true;
            }
            items.iter_mut().any(|inner| reorder(inner, false))
        }
        Value::Object(map) => map
            .iter_mut()
            .filter(|(key, _)| !(top && key.as_str() == "entries"))
            .any(|(_, inner)| reorder(inner, false)),
        _ => false,
    }
}

fn entries(value: &mut Value) -> &mut Vec<Value> {
    value["entries"]
        .as_array_mut()
        .expect("a proven answer has entries")
}

/// The ways a proven answer is tampered with.
#[derive(Clone, Debug)]
enum Tamper {
    /// The last entry replaced by the first: a genuine proof of another key, same block.
    Substitute,
    /// The last entry left out.
    Drop,
    /// Two items of a list swapped.
    Reorder,
    /// A top-level field changed.
    Flip(String),
    /// The body of an earlier answer to the same request, replayed.
    Replay,
}

/// Applies `tamper` to an answer; `false` when it does not apply to it (nothing changes).
fn tamper(tamper: &Tamper, value: &mut Value, replayed: Option<&Value>) -> bool {
    let before = value.clone();
    match tamper {
        Tamper::Substitute => {
            let list = entries(value);
            if list.len() < 2 {
                return false;
            }
            let first = list[0].clone();
            *list.last_mut().expect("two entries") = first;
        }
        Tamper::Drop => {
            entries(value).pop();
        }
        Tamper::Reorder => {
            reorder(value, true);
        }
        Tamper::Flip(field) => flip(&mut value[field.as_str()]),
        Tamper::Replay => match replayed {
            Some(old) => *value = old.clone(),
            None => return false,
        },
    }
    *value != before
}

/// Every mutant of `honest`, with what it is.
fn mutants(honest: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut paths = Vec::new();
    leaves(honest, &mut Vec::new(), &mut paths);
    for path in paths {
        let mut mutant = honest.clone();
        flip(at(&mut mutant, &path));
        out.push((format!("field {path:?} changed"), mutant));
    }
    let mut mutant = honest.clone();
    if reorder(&mut mutant, true) {
        out.push(("list items reordered".into(), mutant));
    }
    let count = honest["entries"].as_array().map_or(0, Vec::len);
    for i in 0..count {
        let mut mutant = honest.clone();
        entries(&mut mutant).remove(i);
        out.push((format!("entry {i} left out"), mutant));
        if count > 1 {
            let mut mutant = honest.clone();
            let other = mutant["entries"][(i + 1) % count].clone();
            entries(&mut mutant)[i] = other;
            out.push((
                format!("entry {i} replaced by the proof of another key"),
                mutant,
            ));
        }
        let mut mutant = honest.clone();
        let value = &mut mutant["entries"][i]["value"];
        if value.is_string() {
            flip(value);
            out.push((format!("entry {i}'s proven value changed"), mutant));
        }
    }
    out
}

/// Checks that `check` accepts `honest` and refuses each of its mutants.
async fn refuses_every_mutant(
    what: &str,
    honest: &Value,
    check: impl AsyncFn(Value) -> Result<(), String>,
) -> usize {
    check(honest.clone())
        .await
        .unwrap_or_else(|err| panic!("the honest {what} answer is refused: {err}"));
    let mutants = mutants(honest);
    for (how, mutant) in &mutants {
        assert!(
            check(mutant.clone()).await.is_err(),
            "{what}: a mutant was accepted ({how})"
        );
    }
    mutants.len()
}

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|err| format!("does not parse: {err}"))
}

/// A rewriting proxy in front of an honest node: it tampers with every answer that carries
/// proven entries as `mode` says, and passes everything else through.
struct Proxy {
    url: String,
    mode: Arc<Mutex<Option<Tamper>>>,
    /// The first body served for each request path, for replays.
    seen: Arc<Mutex<std::collections::HashMap<String, Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    async fn start(honest: String) -> Self {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let mode: Arc<Mutex<Option<Tamper>>> = Arc::default();
        let seen: Arc<Mutex<std::collections::HashMap<String, Value>>> = Arc::default();
        let (task_mode, task_seen) = (mode.clone(), seen.clone());
        let task = tokio::spawn(async move {
            let http = reqwest::Client::new();
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (http, honest) = (http.clone(), honest.clone());
                let (mode, seen) = (task_mode.clone(), task_seen.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        if socket.read_exact(&mut byte).await.is_err() || head.len() > 65_536 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head).to_string();
                    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                    let answer = http
                        .get(format!("{honest}{path}"))
                        .send()
                        .await
                        .expect("the honest node answers");
                    let status = answer.status().as_u16();
                    let mut body = answer.bytes().await.expect("a body").to_vec();
                    if let Ok(mut value) = serde_json::from_slice::<Value>(&body)
                        && (value.get("entries").is_some() || value.get("proof").is_some())
                    {
                        let earlier = seen
                            .lock()
                            .expect("lock")
                            .entry(path.clone())
                            .or_insert_with(|| value.clone())
                            .clone();
                        let tampering = mode.lock().expect("lock").clone();
                        if let Some(how) = tampering {
                            tamper(&how, &mut value, Some(&earlier));
                        }
                        body = serde_json::to_vec(&value).expect("json");
                    }
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                    let _ = socket.write_all(&body).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self {
            url,
            mode,
            seen,
            task,
        }
    }

    fn set(&self, mode: Option<Tamper>) {
        *self.mode.lock().expect("lock") = mode;
    }
}

/// Runs a `medchain` command: (exit success, stdout, stderr).
fn medchain(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(processes::BIN)
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.success() || out.status.code() == Some(3),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_node_is_caught_for_every_proven_answer() {
    let (dir, _node, client) = processes::dev_chain("lying").await;
    let genesis: Genesis = processes::genesis_in(&dir);
    let genesis_path = dir.join("genesis.json").display().to_string();

    // Credentials: a licence, checked before and after its revocation.
    let board = PartyKeys::dev("licensing-board");
    let physician = CredentialType::new("physician_licence").expect("valid");
    let us = Jurisdiction::new("US").expect("valid");
    govern(
        &client,
        medchain_types::GovernanceAction::AccreditIssuer {
            issuer: board.party_id,
            credential_types: vec![physician.clone()],
            jurisdictions: vec![us.clone()],
        },
    )
    .await;
    let doctor = PartyKeys::generate().expect("keys");
    let now = client.status().await.expect("status").latest.time_ms;
    let issued = submit_ok(
        &client,
        &board,
        TxBody::IssueCredential {
            subject: doctor.party_id,
            credential_type: physician.clone(),
            jurisdiction: Jurisdiction::new("US-CA").expect("valid"),
            number_commitment: number_commitment(&[7; 32], "A123456"),
            specialty: None,
            valid_from_ms: now,
            valid_until_ms: now + 86_400_000,
        },
    )
    .await;
    let credential = issued
        .events
        .iter()
        .find_map(|event| match event {
            medchain_types::Event::CredentialIssued { credential, .. } => Some(*credential),
            _ => None,
        })
        .expect("credential id");
    let check_creds = async |client: &Client| {
        client
            .credential_check(
                &doctor.party_id,
                "physician_licence",
                Some("US"),
                None,
                true,
            )
            .await
            .expect("a check")
    };
    let before_revocation = check_creds(&client).await;
    assert!(before_revocation.valid);
    submit_ok(
        &client,
        &board,
        TxBody::SetCredentialStatus {
            credential,
            status: CredentialStatus::Revoked,
            reason: "synthetic: revoked for the test".into(),
        },
    )
    .await;

    // Records: a record, read by its patient and author and refused to an outsider, and a
    // grant.
    let patient = PartyKeys::dev("patient-1");
    let hospital = party_id("hospital");
    let author = practitioner(&client, "hospital").await;
    let outsider = practitioner(&client, "clinic").await;
    let observation = ResourceType::new("Observation").expect("valid");
    // Written with every encryption key the data key is wrapped for proven.
    let (record, _) = records::put_checked(
        &client,
        &author,
        None,
        &NewRecord {
            patient: patient.party_id,
            resource_type: observation.clone(),
            category: None,
            media_type: "application/fhir+json".into(),
            content: br#"{"resourceType":"Observation","status":"final"}"#.to_vec(),
            custodians: vec![hospital],
        },
        None,
        Some(&Verifier::new(genesis.clone())),
    )
    .await
    .expect("written");
    for (reader, basis, purpose) in [
        (&patient, AccessBasis::Patient, Purpose::PatientRequest),
        (&author, AccessBasis::Author, Purpose::Treatment),
    ] {
        records::read(&client, reader, &record, 0, basis, purpose, hospital)
            .await
            .expect("a granted read");
    }
    records::read(
        &client,
        &outsider,
        &record,
        0,
        AccessBasis::Author,
        Purpose::Treatment,
        hospital,
    )
    .await
    .expect_err("denied");
    // A read checked against proofs: the anchor and the read's entry in the access log.
    let proven_read = records::read_checked(
        &client,
        &patient,
        None,
        &record,
        0,
        AccessBasis::Patient,
        Purpose::PatientRequest,
        hospital,
        Some(&Verifier::new(genesis.clone())),
    )
    .await
    .expect("a read proven against the chain");
    assert_eq!(proven_read.version, 1);
    let now = client.status().await.expect("status").latest.time_ms;
    records::grant_checked(
        &client,
        &patient,
        &NewGrant {
            grantee: outsider.party_id,
            scope: Scope::ResourceTypes(vec![observation]),
            read: true,
            write: false,
            purpose: Purpose::Treatment,
            valid_from_ms: now,
            valid_until_ms: now + 3_600_000,
            condition: None,
        },
        hospital,
        Some(&Verifier::new(genesis.clone())),
    )
    .await
    .expect("granted, the grantee's key and each record shared proven");

    // Supply: three packs, one commissioned twice (an alert), one transformed.
    let expiry = Date::new(2030, 1, 31).expect("date");
    let commission = |serials: &[&str]| {
        SupplyOp::Commission(Commission {
            meta: EventMeta::at(now_ms()),
            units: units(serials),
            lot: "L1".into(),
            expiry,
            into: None,
        })
    };
    applied(&client, "manufacturer", commission(&["A1", "A2", "A3"])).await;
    run(&client, "manufacturer", commission(&["A1"])).await;
    applied(
        &client,
        "manufacturer",
        SupplyOp::Transform(Transform {
            meta: EventMeta::at(now_ms()),
            inputs: units(&["A3"]),
            outputs: units(&["P1"]),
            lot: "PL".into(),
            expiry,
        }),
    )
    .await;
    let pack = format!("https://id.gs1.org/01/{GTIN}/21/A2");
    let product = format!("https://id.gs1.org/01/{GTIN}/21/P1");
    let holdings_asked = medchain_client::supply::HoldingsQuery {
        gtin: gtin(),
        lot: "L1".into(),
        custodian: None,
        in_chain_only: false,
        from: 0,
        limit: 100,
        proof: true,
    };

    // The SDK refuses every mutant of every proven answer.
    let fresh = || Verifier::new(genesis.clone());
    let mut refused = 0;
    let honest = serde_json::to_value(check_creds(&client).await).expect("json");
    refused += refuses_every_mutant("credential check", &honest, async |served| {
        medchain_client::credentials::check_served(
            &fresh(),
            &doctor.party_id,
            &physician,
            Some(&us),
            None,
            typed::<CredentialCheckResponse>(served)?,
        )
        .await
        .map(|proven| assert!(!proven.answer.valid, "revoked"))
        .map_err(|err| err.to_string())
    })
    .await;
    for list in PatientList::ALL {
        let honest = client
            .patient_list(list, &patient.party_id, 0, 100, true)
            .await
            .expect("a page");
        refused += refuses_every_mutant(list.path(), &honest, async |served| {
            records::check_patient_list(&fresh(), list, &patient.party_id, 0, 100, served)
                .await
                .map(|_| ())
                .map_err(|err| err.to_string())
        })
        .await;
    }
    // Lies told coherently, the answer changed to match the proofs swapped in: a patient's
    // access log hidden behind the proven absence of another list, every entry shown as
    // entry 0, and another party's valid licence shown for one whose licence is revoked.
    let page = async |list: PatientList| {
        client
            .patient_list(list, &patient.party_id, 0, 100, true)
            .await
            .expect("a page")
    };
    let check_log = async |served: Value| {
        records::check_patient_list(
            &fresh(),
            PatientList::AccessLog,
            &patient.party_id,
            0,
            100,
            served,
        )
        .await
    };
    let mut hidden = page(PatientList::BreakGlass).await;
    assert_eq!(hidden["count"], 0, "{hidden}");
    hidden["list"] = "access-log".into();
    let refusal = check_log(hidden).await;
    assert!(
        matches!(refusal, Err(ProvenError::Incomplete(_))),
        "{refusal:?}"
    );
    let mut all_first = page(PatientList::AccessLog).await;
    let first_key = all_first["items"][0]["key"].clone();
    let first_entry = all_first["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|entry| entry["key"] == first_key)
        .expect("entry 0 is proven")
        .clone();
    let first_item = all_first["items"][0]["item"].clone();
    let count = all_first["items"].as_array().expect("items").len();
    assert!(count >= 3, "{all_first}");
    for i in 1..count {
        let key = all_first["items"][i]["key"].clone();
        all_first["items"][i]["item"] = first_item.clone();
        for entry in entries(&mut all_first) {
            if entry["key"] == key {
                *entry = first_entry.clone();
            }
        }
    }
    let refusal = check_log(all_first).await;
    assert!(
        matches!(refusal, Err(ProvenError::Incomplete(_))),
        "{refusal:?}"
    );
    let mut borrowed = serde_json::to_value(&before_revocation).expect("json");
    let someone = author.party_id;
    borrowed["party"] = serde_json::to_value(someone).expect("json");
    let refusal = medchain_client::credentials::check_served(
        &fresh(),
        &someone,
        &physician,
        Some(&us),
        None,
        typed::<CredentialCheckResponse>(borrowed).expect("parses"),
    )
    .await;
    assert!(
        matches!(refusal, Err(ProvenError::Incomplete(_))),
        "{refusal:?}"
    );

    let honest = serde_json::to_value(client.verify_pack(&pack, true).await.expect("verdict"))
        .expect("json");
    refused += refuses_every_mutant("verify-pack", &honest, async |served| {
        medchain_client::supply::check_verify_pack(
            &fresh(),
            &pack,
            typed::<VerifyPackResponse>(served)?,
        )
        .await
        .map(|_| ())
        .map_err(|err| err.to_string())
    })
    .await;
    let honest = serde_json::to_value(
        client
            .supply_alerts(None, 0, 10, true)
            .await
            .expect("alerts"),
    )
    .expect("json");
    assert_eq!(honest["count"], 1, "{honest}");
    refused += refuses_every_mutant("alerts", &honest, async |served| {
        medchain_client::supply::check_alerts(
            &fresh(),
            None,
            0,
            10,
            typed::<SupplyAlertsResponse>(served)?,
        )
        .await
        .map(|_| ())
        .map_err(|err| err.to_string())
    })
    .await;
    let honest = serde_json::to_value(
        client
            .lot_holdings(&gtin(), "L1", None, false, 0, 100, true)
            .await
            .expect("holdings"),
    )
    .expect("json");
    refused += refuses_every_mutant("holdings", &honest, async |served| {
        medchain_client::supply::check_holdings(
            &fresh(),
            &holdings_asked,
            typed::<LotHoldingsResponse>(served)?,
        )
        .await
        .map(|_| ())
        .map_err(|err| err.to_string())
    })
    .await;
    let honest =
        serde_json::to_value(client.lineage(&product, true).await.expect("lineage")).expect("json");
    refused += refuses_every_mutant("lineage", &honest, async |served| {
        medchain_client::supply::check_lineage(
            &fresh(),
            &product,
            typed::<LineageResponse>(served)?,
        )
        .await
        .map(|_| ())
        .map_err(|err| err.to_string())
    })
    .await;
    // EPCIS: events by time a page at a time (two pages), a lot's events and one pack's; each
    // page the same document as served without proofs.
    let lot_uri = format!("https://id.gs1.org/01/{GTIN}/10/L1");
    let since = medchain_types::time::rfc3339(now_ms() - 3_600_000);
    let mut token: Option<String> = None;
    for (page, params) in [
        vec![("GE_eventTime", since.clone()), ("perPage", "1".into())],
        vec![("GE_eventTime", since.clone()), ("perPage", "1".into())],
        vec![("MATCH_anyEPCClass", lot_uri.clone())],
        vec![("MATCH_anyEPC", pack.clone())],
    ]
    .into_iter()
    .enumerate()
    {
        let mut params: Vec<(String, String)> = params
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        if page == 1 {
            let token = token
                .take()
                .expect("the first page of events by time has a next");
            params.push(("nextPageToken".into(), token));
        }
        let asked: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let served = client
            .epcis_events_with_proof(&asked)
            .await
            .expect("events with proofs");
        let (plain, next) = client.epcis_events_page(&asked).await.expect("events");
        let events =
            |doc: &Value| doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"].clone();
        assert_eq!(events(&served.document), events(&plain), "{params:?}");
        assert!(
            events(&plain)
                .as_array()
                .is_some_and(|list| !list.is_empty()),
            "{params:?}: {plain}"
        );
        assert_eq!(served.next_page_token, next, "{params:?}");
        if page == 0 {
            token = next;
        }
        let honest = serde_json::to_value(&served).expect("json");
        refused += refuses_every_mutant("EPCIS events", &honest, async |served| {
            medchain_client::supply::check_epcis_events(&fresh(), &params, typed(served)?)
                .await
                .map(|_| ())
                .map_err(|err| err.to_string())
        })
        .await;
        // A transaction the page rests on left out is refused.
        let mut short = served.clone();
        short.transactions.pop();
        let refusal = medchain_client::supply::check_epcis_events(&fresh(), &params, short).await;
        assert!(
            matches!(refusal, Err(ProvenError::Incomplete(_))),
            "{refusal:?}"
        );
    }
    eprintln!("{refused} tampered answers, each refused by the SDK");

    // Regression (issue 16): a genuine finality bundle with a link claiming height u64::MAX
    // is refused as malformed; its child height is never computed by wrapping (or, in a
    // debug build, by panicking).
    let answer = client
        .state(&format!("party/{}", doctor.party_id), true)
        .await
        .expect("a proven entry");
    let mut finality = answer.proof.expect("a proof").finality;
    medchain_client::verify::verify_finality(&genesis, &finality).expect("the genuine bundle");
    let mut top = finality.certified.clone();
    top.header.height = u64::MAX;
    finality.links.push(top);
    let refusal = medchain_client::verify::verify_finality(&genesis, &finality);
    assert!(
        matches!(
            refusal,
            Err(medchain_client::verify::VerifyError::NoParent { height: u64::MAX })
        ),
        "{refusal:?}"
    );

    // A genuine answer from before the revocation, replayed to a client that has since seen
    // a later block, is refused as stale; without that memory, a freshness bound catches it.
    let remembering = fresh();
    medchain_client::credentials::check_proven(
        &client,
        &remembering,
        &doctor.party_id,
        &physician,
        Some(&us),
        None,
    )
    .await
    .expect("the current answer");
    let replayed = medchain_client::credentials::check_served(
        &remembering,
        &doctor.party_id,
        &physician,
        Some(&us),
        None,
        before_revocation.clone(),
    )
    .await;
    assert!(
        matches!(replayed, Err(ProvenError::Stale { .. })),
        "{replayed:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let aged = medchain_client::credentials::check_served(
        &fresh().with_max_age_ms(1_000),
        &doctor.party_id,
        &physician,
        Some(&us),
        None,
        before_revocation.clone(),
    )
    .await;
    assert!(matches!(aged, Err(ProvenError::TooOld { .. })), "{aged:?}");

    // The CLI, through a rewriting proxy: each command is believed honest, refused tampered.
    let proxy = Proxy::start(client.base().to_string()).await;
    let lot_arg = format!("{GTIN}/L1");
    let credential_id = credential.to_string();
    let party_key = format!("party/{}", patient.party_id);
    let (party, patient_id) = (doctor.party_id.to_string(), patient.party_id.to_string());
    let commands: Vec<(&str, Vec<&str>)> = vec![
        (
            "creds verify",
            vec![
                "creds",
                "verify",
                "--party",
                &party,
                "--type",
                "physician_licence",
                "--jurisdiction",
                "US",
            ],
        ),
        (
            "access log",
            vec!["access", "log", "--patient", &patient_id],
        ),
        (
            "access break-glass",
            vec!["access", "break-glass", "--patient", &patient_id],
        ),
        (
            "records list",
            vec!["records", "list", "--patient", &patient_id],
        ),
        (
            "consent list",
            vec!["consent", "list", "--patient", &patient_id],
        ),
        ("verify-pack", vec!["verify-pack", &pack]),
        ("supply alerts", vec!["supply", "alerts"]),
        (
            "supply holdings",
            vec!["supply", "holdings", "--gtin", GTIN, "--lot", "L1"],
        ),
        ("supply lineage", vec!["supply", "lineage", &product]),
        (
            "supply events",
            vec!["supply", "events", "--lot", &lot_arg, "--per-page", "1"],
        ),
        ("party show", vec!["party", "show", &patient_id]),
        ("creds show", vec!["creds", "show", &credential_id]),
        ("state get", vec!["state", "get", &party_key]),
    ];
    let height = client
        .status()
        .await
        .expect("status")
        .latest
        .height
        .to_string();
    let mut cli_refused = 0;
    for (name, args) in &commands {
        let mut args = args.clone();
        args.extend(["--node", &proxy.url, "--genesis", &genesis_path]);
        proxy.set(None);
        proxy.seen.lock().expect("lock").clear();
        let (ok, stdout, stderr) = medchain(&args);
        assert!(ok, "{name}, honest: {stdout} {stderr}");
        assert!(stderr.contains("recomputed from"), "{name}: {stderr}");
        // A patient's list reads the same unchecked (typed items, parsed back from the
        // node's JSON) as proven.
        if matches!(
            *name,
            "access log" | "access break-glass" | "records list" | "consent list"
        ) {
            let plain: Vec<&str> = args[..args.len() - 4]
                .iter()
                .copied()
                .chain(["--node", client.base(), "--unverified"])
                .collect();
            let (ok, unproven, stderr) = medchain(&plain);
            assert!(ok, "{name}, without proofs: {unproven} {stderr}");
            assert!(
                stderr.contains("checked against nothing"),
                "{name}: {stderr}"
            );
            let unproven: Value = serde_json::from_str(&unproven).expect("json");
            let proven: Value = serde_json::from_str(&stdout).expect("json");
            assert_eq!(unproven, proven, "{name}");
        }
        // The honest answer as served, to see which tampering applies.
        let served = proxy
            .seen
            .lock()
            .expect("lock")
            .values()
            .find(|value| value.get("entries").is_some() || value.get("proof").is_some())
            .cloned();
        proxy.seen.lock().expect("lock").clear();
        let served = served.unwrap_or_else(|| panic!("{name}: no proven answer passed"));
        let mut kinds = if served.get("entries").is_some() {
            vec![Tamper::Substitute, Tamper::Drop, Tamper::Reorder]
        } else {
            Vec::new()
        };
        // One state entry: its key's text is derived from the question, never shown from
        // the answer, so changing it changes nothing to refuse.
        kinds.extend(
            served
                .as_object()
                .expect("an object")
                .iter()
                .filter(|(key, value)| {
                    *key != "entries" && *key != "key" && !value.is_object() && !value.is_array()
                })
                .map(|(key, _)| Tamper::Flip(key.clone())),
        );
        for kind in kinds {
            if !tamper(&kind, &mut served.clone(), None) {
                continue;
            }
            proxy.set(Some(kind.clone()));
            let (ok, stdout, stderr) = medchain(&args);
            assert!(
                !ok && stderr.contains("NOT proven"),
                "{name} believed a tampered answer ({kind:?}): {stdout} {stderr}"
            );
            cli_refused += 1;
            // Without --genesis, the same: the CLI checks against the genesis this machine
            // kept when the dev chain was made.
            let (ok, stdout, stderr) = medchain(&args[..args.len() - 2]);
            assert!(
                !ok && stderr.contains("NOT proven"),
                "{name} believed a tampered answer without --genesis ({kind:?}): {stdout} {stderr}"
            );
            cli_refused += 1;
        }
    }
    // Without --genesis, an honest answer is checked all the same; a chain this machine does
    // not know is refused, not shown unchecked.
    proxy.set(None);
    let mut args = commands[0].1.clone();
    args.extend(["--node", &proxy.url]);
    let (ok, stdout, stderr) = medchain(&args);
    assert!(
        ok && stderr.contains("recomputed from"),
        "{stdout} {stderr}"
    );
    let stranger = dir.join("a-home-that-knows-no-chain");
    // A `medchain` run whose home knows only the chains added to it here.
    let in_stranger = |args: &[&str]| {
        std::process::Command::new(processes::BIN)
            .args(args)
            .env("MEDCHAIN_HOME", &stranger)
            .output()
            .expect("runs")
    };
    let out = in_stranger(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("does not know chain"),
        "{stderr}"
    );
    let out = in_stranger(&["trust", "add", &genesis_path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = in_stranger(&args);
    // Answered, proven: no valid licence (revoked), exit 3.
    assert_eq!(
        out.status.code(),
        Some(3),
        "trusted once added: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Regression (issue 17): `creds verify` answering "no valid credential" (the licence is
    // revoked) prints the answer and exits 3, as its --help says.
    let out = std::process::Command::new(processes::BIN)
        .args(&commands[0].1)
        .args(["--node", client.base()])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("the answer");
    assert_eq!(printed["valid"], false, "{printed}");

    // The replayed answer from before the revocation: its height is below one the caller
    // saw finalized.
    proxy.set(None);
    let mut args = commands[0].1.clone();
    args.extend(["--node", &proxy.url, "--genesis", &genesis_path]);
    proxy.seen.lock().expect("lock").insert(
        format!(
            "/v1/credentials/check?party={party}&type=physician_licence&jurisdiction=US&proof=true"
        ),
        serde_json::to_value(&before_revocation).expect("json"),
    );
    proxy.set(Some(Tamper::Replay));
    let (ok, stdout, stderr) = medchain(&[args.as_slice(), &["--min-height", &height]].concat());
    assert!(
        !ok && stderr.contains("stale or replayed"),
        "a replayed answer was believed: {stdout} {stderr}"
    );
    cli_refused += 1;
    eprintln!("{cli_refused} tampered answers, each refused by the CLI");

    // Regression (issue 17): a proof file means only what it proves. `medchain verify` shows
    // the proven value, decoded, and refuses a file whose decoded view, key text or height
    // says anything else, naming the field.
    let file = dir.join("patient.proof.json");
    let party_key = format!("party/{}", patient.party_id);
    let (ok, _, stderr) = medchain(&[
        "state",
        "get",
        &party_key,
        "--proof",
        "--out",
        &file.display().to_string(),
        "--node",
        client.base(),
    ]);
    assert!(ok, "{stderr}");
    let file_text = file.display().to_string();
    let (ok, stdout, stderr) = medchain(&["verify", &file_text, "--genesis", &genesis_path]);
    assert!(ok && stdout.contains("verified"), "{stdout} {stderr}");
    assert!(
        stdout.contains("signing_key"),
        "the proven value is shown: {stdout}"
    );
    let honest: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("reads")).expect("json");
    let mut lies: Vec<(&str, Value)> = Vec::new();
    let mut lie = honest.clone();
    lie["decoded"]["signing_key"] = Value::String("00".repeat(32));
    lies.push(("decoded", lie));
    let mut lie = honest.clone();
    lie["decoded"]["roles"] = serde_json::json!(["registrar", "regulator"]);
    lies.push(("decoded", lie));
    let mut lie = honest.clone();
    lie["height"] = Value::from(honest["height"].as_u64().expect("a height") + 1);
    lies.push(("height", lie));
    let mut lie = honest.clone();
    lie["key"] = Value::String(format!("party/{}", author.party_id));
    lies.push(("key", lie));
    for (field, lie) in lies {
        std::fs::write(&file, serde_json::to_string(&lie).expect("json")).expect("writes");
        let (ok, stdout, stderr) = medchain(&["verify", &file_text, "--genesis", &genesis_path]);
        assert!(
            !ok && stderr.contains(&format!("`{field}`")),
            "a proof file lying in {field} was believed: {stdout} {stderr}"
        );
    }

    // The accounting of disclosures and a record's history, from proven state: the same
    // lines as without proofs.
    let (from_ms, to_ms) = (0, u64::MAX / 2);
    let plain = records::disclosures(&client, &patient.party_id, from_ms, to_ms)
        .await
        .expect("a report");
    let proven =
        records::disclosures_checked(&client, Some(&fresh()), &patient.party_id, from_ms, to_ms)
            .await
            .expect("a proven report");
    assert!(
        !proven.disclosures.is_empty() && !proven.denied.is_empty(),
        "{proven:?}"
    );
    assert_eq!(
        (&proven.disclosures, &proven.denied),
        (&plain.disclosures, &plain.denied)
    );
    let record_id = record.to_string();
    for args in [
        vec!["records", "history", record_id.as_str()],
        vec![
            "access",
            "report",
            "--patient",
            &patient_id,
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
        ],
    ] {
        let mut args = args.clone();
        args.extend(["--node", client.base(), "--genesis", &genesis_path]);
        let (ok, stdout, stderr) = medchain(&args);
        assert!(
            ok && stderr.contains("proven"),
            "{args:?}: {stdout} {stderr}"
        );
    }
}
