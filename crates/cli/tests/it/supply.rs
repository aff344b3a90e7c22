//! The supply chain over HTTP on a dev chain: a pallet from the manufacturer through the
//! wholesaler to the pharmacy, a pack dispensed, and packs verified from each stage (SDK with
//! proofs checked offline, and `medchain verify-pack`).

use crate::processes;
use medchain_client::{
    Client,
    keys::PartyKeys,
    proven::{Proven, ProvenError, Verifier},
};
use medchain_types::{
    TxBody,
    api::{PackVerdict, TxStatusResponse},
    dev::party_id,
    gs1::{Gtin, Sscc},
    supply::{
        Commission, Dispense, EventMeta, Object, Objects, Pack, Receive, Serials, Ship, Step,
        SupplyOp, UnitGroup,
    },
    time::Date,
};
use std::time::Duration;

pub(crate) const GTIN: &str = "09521111111115";

/// A verify-pack answer for `scan`, checked by a fresh verifier of `genesis`: recomputed from
/// its proofs, or refused.
async fn verify_pack_proofs(
    genesis: &medchain_types::Genesis,
    scan: &str,
    answer: &medchain_types::api::VerifyPackResponse,
) -> Result<Proven<medchain_types::api::VerifyPackResponse>, ProvenError> {
    medchain_client::supply::check_verify_pack(
        &Verifier::new(genesis.clone()),
        scan,
        answer.clone(),
    )
    .await
}

pub(crate) fn gtin() -> Gtin {
    Gtin::parse(GTIN).expect("GTIN")
}

fn sscc(n: u64) -> Sscc {
    Sscc::from_payload(&format!("3952111{n:010}")).expect("SSCC")
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
        - 60_000
}

pub(crate) fn units(serials: &[&str]) -> Vec<UnitGroup> {
    vec![UnitGroup {
        gtin: gtin(),
        serials: Serials::List(serials.iter().map(|s| s.to_string()).collect()),
    }]
}

pub(crate) async fn run(client: &Client, who: &str, op: SupplyOp) -> TxStatusResponse {
    let keys = PartyKeys::dev(who);
    let status = client.status().await.expect("status");
    let nonce = client.next_nonce(&keys.party_id).await.expect("nonce");
    let tx = keys.sign(&status.chain_id, nonce, TxBody::Supply(op));
    client.submit(&tx, true).await.expect("submitted")
}

pub(crate) async fn applied(client: &Client, who: &str, op: SupplyOp) {
    applied_batch(client, who, vec![op]).await;
}

fn datamatrix(serial: &str) -> String {
    format!("]d201{GTIN}21{serial}\u{1d}10L1\u{1d}17300131")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pallet_reaches_a_pharmacy_and_anyone_verifies_its_packs() {
    let (dir, _node, client) = processes::dev_chain("supply").await;
    let genesis = processes::genesis_in(&dir);
    let meta = || EventMeta::at(now_ms());
    let expiry = Date::new(2030, 1, 31).expect("date");

    for (case, serials) in [(1, vec!["A1", "A2", "A3", "A4"]), (2, vec!["B1", "B2"])] {
        let op = SupplyOp::Commission(Commission {
            meta: meta(),
            units: units(&serials),
            lot: "L1".into(),
            expiry,
            into: Some(sscc(case)),
        });
        applied(&client, "manufacturer", op).await;
    }
    let op = SupplyOp::Pack(Pack {
        meta: meta(),
        parent: sscc(9),
        children: Objects {
            units: vec![],
            containers: vec![sscc(1), sscc(2)],
        },
    });
    applied(&client, "manufacturer", op).await;
    let pallet = Objects {
        units: vec![],
        containers: vec![sscc(9)],
    };
    let ship = |to: &str| {
        SupplyOp::Ship(Ship {
            meta: meta(),
            objects: pallet.clone(),
            to: party_id(to),
            is_return: false,
        })
    };
    let receive = || {
        SupplyOp::Receive(Receive {
            meta: meta(),
            objects: pallet.clone(),
        })
    };

    // At the manufacturer.
    let answer = client
        .verify_pack(&datamatrix("A2"), true)
        .await
        .expect("verified");
    assert_eq!(answer.verdict, PackVerdict::Genuine, "{answer:?}");
    assert_eq!(answer.custodian, Some(party_id("manufacturer")));
    assert_eq!(answer.containers, vec![sscc(1), sscc(9)]);
    verify_pack_proofs(&genesis, &datamatrix("A2"), &answer)
        .await
        .expect("proofs verify");
    let at_manufacturer = answer;

    applied(&client, "manufacturer", ship("wholesaler")).await;
    // In transit to the wholesaler.
    let answer = client
        .verify_pack(&datamatrix("A2"), false)
        .await
        .expect("verified");
    assert_eq!(answer.in_transit_to, Some(party_id("wholesaler")));
    assert_eq!(answer.custodian, Some(party_id("manufacturer")));
    applied(&client, "wholesaler", receive()).await;
    let answer = client
        .verify_pack(&datamatrix("A2"), true)
        .await
        .expect("verified");
    assert_eq!(answer.custodian, Some(party_id("wholesaler")));
    assert_eq!(answer.verdict, PackVerdict::Genuine);
    verify_pack_proofs(&genesis, &datamatrix("A2"), &answer)
        .await
        .expect("proofs verify");

    applied(&client, "wholesaler", ship("pharmacy")).await;
    applied(&client, "pharmacy", receive()).await;
    let op = SupplyOp::Dispense(Dispense {
        meta: meta(),
        units: units(&["A1"]),
        prescription: None,
    });
    applied(&client, "pharmacy", op).await;

    // At the pharmacy: the chain of custody has the pallet's journey.
    let answer = client
        .verify_pack(&datamatrix("A2"), true)
        .await
        .expect("verified");
    assert_eq!(answer.verdict, PackVerdict::Genuine, "{answer:?}");
    assert_eq!(answer.custodian, Some(party_id("pharmacy")));
    assert_eq!(
        answer.custodian_label.as_deref(),
        Some("High Street Pharmacy (demo)")
    );
    verify_pack_proofs(&genesis, &datamatrix("A2"), &answer)
        .await
        .expect("proofs verify");
    let journey: Vec<(Step, Option<Object>)> = answer
        .custody
        .iter()
        .map(|s| (s.entry.step, Some(s.object.clone())))
        .collect();
    let pallet_object = Object::Container { sscc: sscc(9) };
    let pallet_moves = journey
        .iter()
        .filter(|(step, object)| {
            matches!(step, Step::Shipped | Step::Received)
                && object.as_ref() == Some(&pallet_object)
        })
        .count();
    assert_eq!(pallet_moves, 4, "{journey:?}");
    assert_eq!(answer.custody[0].entry.step, Step::Commissioned);

    // A tampered answer does not pass.
    let mut tampered = answer.clone();
    if let Some(unit) = tampered.unit.as_mut() {
        unit.tracking.custodian = party_id("wholesaler");
    }
    assert!(matches!(
        verify_pack_proofs(&genesis, &datamatrix("A2"), &tampered).await,
        Err(ProvenError::Differs { .. })
    ));
    // Nor does one put together from answers of two heights, though each proof holds: the
    // lot's entry has not changed since the manufacturer's answer, but it is of an older block.
    let old = at_manufacturer
        .entries
        .iter()
        .find(|old| {
            answer
                .entries
                .iter()
                .any(|new| new.key == old.key && new.value == old.value)
        })
        .expect("an entry unchanged since")
        .clone();
    let mut spliced = answer.clone();
    for entry in spliced.entries.iter_mut() {
        if entry.key == old.key {
            *entry = old.clone();
        }
    }
    let spliced = verify_pack_proofs(&genesis, &datamatrix("A2"), &spliced).await;
    assert!(
        matches!(spliced, Err(ProvenError::Heights { .. })),
        "{spliced:?}"
    );

    // The dispensed pack, scanned as a Digital Link.
    let link = format!("https://id.gs1.org/01/{GTIN}/10/L1/21/A1?17=300131");
    let answer = client.verify_pack(&link, true).await.expect("verified");
    assert_eq!(answer.verdict, PackVerdict::Dispensed, "{answer:?}");
    verify_pack_proofs(&genesis, &link, &answer)
        .await
        .expect("proofs verify");

    // A serial nobody commissioned: proven absent.
    let answer = client
        .verify_pack(&datamatrix("FAKE9"), true)
        .await
        .expect("verified");
    assert_eq!(answer.verdict, PackVerdict::UnknownSerial);
    verify_pack_proofs(&genesis, &datamatrix("FAKE9"), &answer)
        .await
        .expect("the absence is proven");

    // A pack printed with another lot than its serial's.
    let answer = client
        .verify_pack(&format!("(01){GTIN}(21)A3(10)L9(17)300131"), false)
        .await
        .expect("verified");
    assert_eq!(answer.verdict, PackVerdict::Mismatch, "{answer:?}");

    // Bad scans get a problem naming what was wrong.
    let err = client
        .verify_pack("]d2010952111111111221A3", false)
        .await
        .expect_err("a bad check digit");
    assert!(err.to_string().contains("check digit"), "{err}");

    // Regression (issue 17): the pharmacy scanning A1 again is a repeated scan, answered with
    // when it dispensed it, and no alert: the pack stays genuine-but-dispensed, not suspect.
    let op = SupplyOp::Dispense(Dispense {
        meta: meta(),
        units: units(&["A1"]),
        prescription: None,
    });
    let keys = PartyKeys::dev("pharmacy");
    let status = client.status().await.expect("status");
    let nonce = client.next_nonce(&keys.party_id).await.expect("nonce");
    let tx = keys.sign(&status.chain_id, nonce, TxBody::Supply(op));
    let err = client.submit(&tx, true).await.expect_err("a repeated scan");
    let medchain_client::ClientError::Problem(problem) = &err else {
        panic!("not a problem answer: {err}");
    };
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (409, "already_dispensed"),
        "{problem:?}"
    );
    assert!(
        problem.detail.contains("already dispensed by you at 20"),
        "{problem:?}"
    );
    let answer = client.verify_pack(&link, false).await.expect("verified");
    assert_eq!(answer.verdict, PackVerdict::Dispensed, "{answer:?}");
    // The manufacturer moving A1, which the pharmacy dispensed, is refused on the record and
    // flags it.
    let op = SupplyOp::Ship(Ship {
        meta: meta(),
        objects: Objects::units(units(&["A1"])),
        to: party_id("wholesaler"),
        is_return: false,
    });
    let answer = run(&client, "manufacturer", op).await;
    assert_eq!(
        answer.receipt.as_ref().map(|r| r.outcome),
        Some(medchain_types::Outcome::Denied),
        "{answer:?}"
    );
    // Regression (issue 17): the refusal names the rule that refused it, over HTTP and in
    // the CLI, not an empty reason.
    let rejection = answer.rejection.as_ref().expect("a denial says why");
    assert_eq!(rejection.code, "not_custodian", "{rejection:?}");
    assert!(
        rejection.reason.contains("suspect-product alert"),
        "{rejection:?}"
    );
    assert!(
        rejection.reason.len() > "suspect-product alert 0".len() + 5,
        "{rejection:?}"
    );
    let status = client.tx_status(&answer.hash).await.expect("status");
    assert_eq!(status.rejection, answer.rejection);
    let answer = client.verify_pack(&link, false).await.expect("verified");
    assert_eq!(answer.verdict, PackVerdict::Suspect);
    // The manufacturer and regulators list the alert, with proofs.
    for manufacturer in [Some(party_id("manufacturer")), None] {
        let alerts = client
            .supply_alerts(manufacturer.as_ref(), 0, 10, true)
            .await
            .expect("alerts");
        assert_eq!(alerts.count, 1, "{alerts:?}");
        let alert = &alerts.alerts[0];
        assert_eq!(alert.kind, medchain_types::supply::AlertKind::NotCustodian);
        assert_eq!(alert.actor, party_id("manufacturer"));
        medchain_client::supply::check_alerts(
            &Verifier::new(genesis.clone()),
            manufacturer.as_ref(),
            0,
            10,
            alerts,
        )
        .await
        .expect("the alert list's proofs verify");
    }

    // The command line: exit 0 for a genuine pack, 3 otherwise.
    let url = client.base().to_string();
    let genesis_path = dir.join("genesis.json").display().to_string();
    let out = std::process::Command::new(processes::BIN)
        .args([
            "verify-pack",
            &datamatrix("A2"),
            "--node",
            &url,
            "--genesis",
            &genesis_path,
        ])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("GENUINE"), "{stdout}");
    assert!(stdout.contains("High Street Pharmacy (demo)"), "{stdout}");
    // Regression (issue 17): the plain answer shows the product data and names, not only ids.
    assert!(
        stdout.contains(&format!("pack:      GTIN {GTIN} serial A2")),
        "{stdout}"
    );
    assert!(
        stdout.contains("lot:       L1 (expires 2030-01-31)"),
        "{stdout}"
    );
    let wholesaler = party_id("wholesaler");
    let labelled = stdout
        .lines()
        .filter(|line| line.contains("  by "))
        .all(|line| line.contains(" ("));
    assert!(labelled, "every step names its party by label: {stdout}");
    assert!(stdout.contains(&format!("({wholesaler})")), "{stdout}");
    let out = std::process::Command::new(processes::BIN)
        .args(["verify-pack", &link, "--node", &url])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("SUSPECT"));
    // Regression (issue 17): the same with --json (the whole answer printed, then 3).
    let out = std::process::Command::new(processes::BIN)
        .args(["verify-pack", &link, "--json", "--node", &url])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(3));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the answer");
    assert_eq!(printed["verdict"], "suspect", "{printed}");
    let help = std::process::Command::new(processes::BIN)
        .args(["verify-pack", "--help"])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&help.stdout).contains("Exit status: 0 genuine; 3"));

    // A recall: the pharmacy finds every pack of the lot it still holds, case by case.
    applied(
        &client,
        "manufacturer",
        SupplyOp::Recall(medchain_types::supply::Recall {
            meta: meta(),
            gtin: gtin(),
            lot: "L1".into(),
            reason: "synthetic: sterility assurance failure".into(),
        }),
    )
    .await;
    let pharmacy = party_id("pharmacy");
    let held = client
        .lot_holdings(&gtin(), "L1", Some(&pharmacy), true, 0, 100, true)
        .await
        .expect("holdings");
    assert!(held.lot.recall.is_some());
    let serials: Vec<&str> = held.units.iter().map(|u| u.serial.as_str()).collect();
    assert_eq!(serials, ["A2", "A3", "A4", "B1", "B2"], "{held:?}");
    assert!(held.units.iter().all(|u| u.custodian == pharmacy));
    assert_eq!(held.units[0].containers, vec![sscc(1), sscc(9)]);
    assert_eq!(held.next, None);
    // Checked against the question asked: (custodian, in the chain only, from, limit).
    let check = async |answer: &medchain_types::api::LotHoldingsResponse,
                       (custodian, in_chain_only, from, limit): (
        Option<medchain_types::PartyId>,
        bool,
        u64,
        u64,
    )| {
        let asked = medchain_client::supply::HoldingsQuery {
            gtin: gtin(),
            lot: "L1".into(),
            custodian,
            in_chain_only,
            from,
            limit,
            proof: true,
        };
        medchain_client::supply::check_holdings(
            &Verifier::new(genesis.clone()),
            &asked,
            answer.clone(),
        )
        .await
    };
    let held_asked = (Some(pharmacy), true, 0, 100);
    check(&held, held_asked)
        .await
        .expect("the holdings' proofs verify");
    let mut tampered = held.clone();
    tampered.units[0].containers = vec![sscc(2), sscc(9)];
    assert!(check(&tampered, held_asked).await.is_err(), "a wrong case");
    let mut tampered = held.clone();
    tampered.units[1].custodian = party_id("wholesaler");
    assert!(
        check(&tampered, held_asked).await.is_err(),
        "a wrong holder"
    );
    let mut tampered = held.clone();
    tampered.units.remove(2);
    assert!(
        check(&tampered, held_asked).await.is_err(),
        "a unit left out"
    );
    // Page by page over every unit, dispensed ones included; nobody else holds any.
    let first = client
        .lot_holdings(&gtin(), "L1", None, false, 0, 4, false)
        .await
        .expect("holdings");
    assert_eq!(first.units.len(), 4);
    assert_eq!(first.next, Some(4));
    let rest = client
        .lot_holdings(&gtin(), "L1", None, false, 4, 4, false)
        .await
        .expect("holdings");
    assert_eq!(rest.units.len(), 2);
    assert_eq!(rest.next, None);
    // With proofs, a page starts at the commissioning batch that holds its first unit (found
    // by bisection), not at the lot's first batch, and may cross into the next batch.
    let batch_key = |seq: u64| {
        hex::encode(medchain_state::lists::item_key(
            medchain_state::lists::names::LOT_BATCHES,
            &medchain_state::supply::lot_owner(&gtin(), "L1"),
            seq,
        ))
    };
    let middle = client
        .lot_holdings(&gtin(), "L1", None, false, 2, 3, true)
        .await
        .expect("holdings");
    let serials: Vec<&str> = middle.units.iter().map(|u| u.serial.as_str()).collect();
    assert_eq!(serials, ["A3", "A4", "B1"]);
    assert_eq!(middle.next, Some(5));
    check(&middle, (None, false, 2, 3))
        .await
        .expect("a page from the middle of a batch verifies");
    let last = client
        .lot_holdings(&gtin(), "L1", None, false, 5, 3, true)
        .await
        .expect("holdings");
    let serials: Vec<&str> = last.units.iter().map(|u| u.serial.as_str()).collect();
    assert_eq!(serials, ["B2"]);
    assert_eq!(last.next, None);
    check(&last, (None, false, 5, 3))
        .await
        .expect("the last page verifies");
    assert!(
        last.entries.iter().all(|e| e.key_hex != batch_key(0))
            && last.entries.iter().any(|e| e.key_hex == batch_key(1)),
        "the last page rests on the second batch only"
    );
    let mut tampered = last.clone();
    tampered.from = 4;
    assert!(
        check(&tampered, (None, false, 5, 3)).await.is_err(),
        "a page moved back a unit"
    );
    let wholesaler = party_id("wholesaler");
    let none = client
        .lot_holdings(&gtin(), "L1", Some(&wholesaler), false, 0, 100, false)
        .await
        .expect("holdings");
    assert!(none.units.is_empty());
    let err = client
        .lot_holdings(&gtin(), "NO-SUCH-LOT", None, false, 0, 100, false)
        .await
        .expect_err("unknown lot");
    assert!(err.to_string().contains("NO-SUCH-LOT"), "{err}");
    let err = client
        .lot_holdings(&gtin(), &"L".repeat(300), None, false, 0, 100, false)
        .await
        .expect_err("not a lot number");
    assert!(err.to_string().contains("character set 82"), "{err}");
    // Dispensing a recalled pack is refused.
    let answer = run(
        &client,
        "pharmacy",
        SupplyOp::Dispense(Dispense {
            meta: meta(),
            units: units(&["A2"]),
            prescription: None,
        }),
    )
    .await;
    assert_eq!(
        answer.receipt.as_ref().map(|r| r.outcome),
        Some(medchain_types::Outcome::Denied),
        "{answer:?}"
    );
    // The CLI names the rule too: a repeated scan, and what it changes (nothing).
    let cli = std::process::Command::new(processes::BIN)
        .args([
            "supply",
            "dispense",
            "--unit",
            &format!("{GTIN}:A1"),
            "--as",
            "dev:pharmacy",
        ])
        .args(["--node", client.base()])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&cli.stderr);
    assert!(
        !cli.status.success()
            && stderr.contains("already dispensed (409): ")
            && stderr.contains("already dispensed by you at")
            && stderr.contains("raises no alert"),
        "{stderr}"
    );
}

/// Waits until `hash` is committed (or fails the test after 60 seconds).
async fn committed(client: &Client, hash: &medchain_types::TxHash) -> TxStatusResponse {
    client
        .settled(hash, Duration::from_secs(60))
        .await
        .expect("status")
        .unwrap_or_else(|| panic!("transaction {hash} did not commit"))
}

fn event_ids(document: &serde_json::Value) -> Vec<String> {
    document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .expect("an event list")
        .iter()
        .map(|event| event["eventID"].as_str().expect("an eventID").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn epcis_documents_are_captured_and_queried_back() {
    let (_dir, _node, client) = processes::dev_chain("supply-epcis").await;
    let time = |offset_ms: u64| medchain_types::time::rfc3339(now_ms() + offset_ms);
    let wholesaler = format!("urn:medchain:party:{}", party_id("wholesaler"));
    let unit = |serial: &str| format!("https://id.gs1.org/01/{GTIN}/21/{serial}");
    let pallet = format!("https://id.gs1.org/00/{}", sscc(77));
    let document = serde_json::json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", { "ex": "https://ns.example.org/epcis/" }],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": time(0),
        "epcisBody": { "eventList": [
            {
                "type": "ObjectEvent", "eventTime": time(0), "eventTimeZoneOffset": "+01:00",
                "epcList": [unit("E1"), unit("E2"), format!("urn:epc:id:sgtin:9521111.011111.E3")],
                "action": "ADD", "bizStep": "commissioning", "disposition": "active",
                "readPoint": { "id": "urn:epc:id:sgln:9521111.00001.0" },
                "ilmd": { "cbvmda:lotNumber": "E-LOT", "cbvmda:itemExpirationDate": "2030-01-31" },
                "ex:line": "3"
            },
            {
                "type": "AggregationEvent", "eventTime": time(1_000), "eventTimeZoneOffset": "+01:00",
                "parentID": pallet, "childEPCs": [unit("E1"), unit("E2"), unit("E3")],
                "action": "ADD", "bizStep": "packing", "disposition": "in_progress"
            },
            {
                "type": "ObjectEvent", "eventTime": time(2_000), "eventTimeZoneOffset": "+01:00",
                "epcList": [pallet], "action": "OBSERVE", "bizStep": "shipping", "disposition": "in_transit",
                "destinationList": [{ "type": "owning_party", "destination": wholesaler }]
            }
        ]}
    });
    let keys = PartyKeys::dev("manufacturer");
    let status = client.status().await.expect("status");
    let nonce = client.next_nonce(&keys.party_id).await.expect("nonce");
    let signed =
        medchain_client::supply::capture_transactions(&document, &status.chain_id, &keys, nonce)
            .expect("a valid capture document");
    let (txs, captured_ids): (Vec<_>, Vec<_>) = signed.into_iter().unzip();
    let batch = client.submit_batch(&txs).await.expect("submitted");
    assert_eq!(batch.accepted, 3, "{batch:?}");
    for tx in &txs {
        let answer = committed(&client, &tx.hash()).await;
        assert_eq!(
            answer.receipt.map(|r| r.outcome),
            Some(medchain_types::Outcome::Applied)
        );
    }

    // By EPC: the unit was commissioned and packed; the pallet was packed and shipped.
    let by_unit = client
        .epcis_events(&[("MATCH_anyEPC", &unit("E2"))])
        .await
        .expect("query");
    assert_eq!(by_unit["type"], "EPCISQueryDocument");
    assert_eq!(event_ids(&by_unit), captured_ids[..2].to_vec());
    let by_pallet = client
        .epcis_events(&[("MATCH_anyEPC", &pallet), ("eventType", "ObjectEvent")])
        .await
        .expect("query");
    assert_eq!(event_ids(&by_pallet), captured_ids[2..].to_vec());
    let shipped = &by_pallet["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0];
    assert_eq!(shipped["destinationList"][0]["destination"], wholesaler);
    assert!(shipped["recordTime"].is_string());

    // By lot, and the extension and its namespace came back.
    let lot = format!("https://id.gs1.org/01/{GTIN}/10/E-LOT");
    let by_lot = client
        .epcis_events(&[("MATCH_anyEPCClass", &lot)])
        .await
        .expect("query");
    assert_eq!(event_ids(&by_lot), captured_ids[..1].to_vec());
    let commissioned = &by_lot["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0];
    assert_eq!(commissioned["ex:line"], "3");
    assert_eq!(by_lot["@context"][1]["ex"], "https://ns.example.org/epcis/");
    // Both filters hold: the unit's events of that lot, and none of another lot.
    let both = client
        .epcis_events(&[("MATCH_anyEPC", &unit("E2")), ("MATCH_anyEPCClass", &lot)])
        .await
        .expect("query");
    assert_eq!(event_ids(&both), captured_ids[..1].to_vec());
    let other_lot = format!("https://id.gs1.org/01/{GTIN}/10/OTHER");
    let neither = client
        .epcis_events(&[
            ("MATCH_anyEPC", &unit("E2")),
            ("MATCH_anyEPCClass", &other_lot),
        ])
        .await
        .expect("query");
    assert!(event_ids(&neither).is_empty(), "{neither}");

    // By time, a page at a time.
    let from = medchain_types::time::rfc3339(now_ms() - 3_600_000);
    let (first, token) = client
        .epcis_events_page(&[("GE_eventTime", &from), ("perPage", "2")])
        .await
        .expect("query");
    assert_eq!(event_ids(&first), captured_ids[..2].to_vec());
    let token = token.expect("a further page");
    let rest = client
        .epcis_events(&[
            ("GE_eventTime", &from),
            ("perPage", "2"),
            ("nextPageToken", &token),
        ])
        .await
        .expect("query");
    assert_eq!(event_ids(&rest), captured_ids[2..].to_vec());

    // A question it does not answer is named.
    let err = client
        .epcis_events(&[("MATCH_whatever", "x")])
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("MATCH_whatever"), "{err}");
    let err = client
        .epcis_events(&[("eventType", "ObjectEvent")])
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("name what to find"), "{err}");
}

/// A hospital pharmacist's custodial account captures through `POST /epcis/capture`: the node
/// signs each event with the account's key and submits only a capture every event of which
/// would apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custodial_account_captures_epcis_all_or_nothing() {
    use medchain_client::custodial;
    use medchain_types::{PartyKind, Role, Roles, api::TxState, totp};
    let (_dir, _node, client) = processes::dev_chain("supply-custodial").await;
    // The hospital (whose node keeps custodial accounts) runs a pharmacy.
    let hospital = PartyKeys::dev("hospital");
    let mut roles = medchain_types::dev::DEMO_PARTIES[0].roles.to_vec();
    roles.push(Role::Dispenser);
    crate::govern(
        &client,
        medchain_types::GovernanceAction::SetRoles {
            party: hospital.party_id,
            roles: Roles::new(roles),
        },
    )
    .await;
    let invited = custodial::invite(
        &client,
        &hospital,
        "pharmacist.one",
        PartyKind::Practitioner,
        "Hospital pharmacist (synthetic)",
        Roles::new([Role::Dispenser]),
    )
    .await
    .expect("the hospital opens a pharmacist's account");
    let password = "Synthetic-Passphrase-Supply";
    let enrolled = custodial::activate(
        &client,
        "pharmacist.one",
        &invited.activation_code,
        password,
    )
    .await
    .expect("activates");
    let secret = totp::base32_decode(&enrolled.totp_secret).expect("base32");
    let code = totp::code(&secret, (now_ms() + 60_000) / 1000);
    let pharmacist = custodial::sign_in(&client, "pharmacist.one", password, &code, Some(600))
        .await
        .expect("signs in");
    let pharmacist_id = invited.party_id;

    // The manufacturer ships three packs to the pharmacist.
    let serials = ["H1", "H2", "H3"];
    let expiry = Date::new(2030, 1, 31).expect("date");
    applied(
        &client,
        "manufacturer",
        SupplyOp::Commission(Commission {
            meta: EventMeta::at(now_ms()),
            units: units(&serials),
            lot: "H-LOT".into(),
            expiry,
            into: None,
        }),
    )
    .await;
    let packs = Objects {
        units: units(&serials),
        containers: vec![],
    };
    applied(
        &client,
        "manufacturer",
        SupplyOp::Ship(Ship {
            meta: EventMeta::at(now_ms()),
            objects: packs,
            to: pharmacist_id,
            is_return: false,
        }),
    )
    .await;

    let time = |offset_ms: u64| medchain_types::time::rfc3339(now_ms() + offset_ms);
    let unit = |serial: &str| format!("https://id.gs1.org/01/{GTIN}/21/{serial}");
    let receiving = serde_json::json!({
        "type": "ObjectEvent", "eventTime": time(1_000), "eventTimeZoneOffset": "+00:00",
        "epcList": [unit("H1"), unit("H2"), unit("H3")],
        "action": "OBSERVE", "bizStep": "receiving", "disposition": "in_progress"
    });
    let dispensing = |serial: &str, offset_ms: u64| {
        serde_json::json!({
            "type": "ObjectEvent", "eventTime": time(offset_ms), "eventTimeZoneOffset": "+00:00",
            "epcList": [unit(serial)],
            "action": "OBSERVE", "bizStep": "dispensing", "disposition": "dispensed"
        })
    };
    let document = |events: Vec<serde_json::Value>| {
        serde_json::json!({
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": time(0),
            "epcisBody": { "eventList": events }
        })
    };

    // Dispensing H1 twice: the third event would be refused, so nothing is submitted.
    let err = medchain_client::supply::capture_custodial(
        &pharmacist,
        &document(vec![
            receiving.clone(),
            dispensing("H1", 2_000),
            dispensing("H1", 3_000),
        ]),
    )
    .await
    .expect_err("refused");
    let medchain_client::ClientError::Problem(problem) = &err else {
        panic!("not a problem answer: {err}");
    };
    assert_eq!(
        (problem.status, problem.code.as_str()),
        (409, "epcis_capture_refused")
    );
    assert!(
        problem.detail.contains("event 2 (supply_dispense)")
            && problem.detail.contains("already_dispensed"),
        "{problem:?}"
    );
    assert_eq!(
        client.next_nonce(&pharmacist_id).await.expect("nonce"),
        0,
        "nothing was signed into the mempool"
    );
    let answer = client
        .verify_pack(&unit("H1"), false)
        .await
        .expect("verified");
    assert_eq!(answer.in_transit_to, Some(pharmacist_id), "{answer:?}");

    // Receiving them and dispensing H1 once is captured.
    let accepted = medchain_client::supply::capture_custodial(
        &pharmacist,
        &document(vec![receiving, dispensing("H1", 2_000)]),
    )
    .await
    .expect("captured");
    assert_eq!(accepted.transactions.len(), 2);
    let mut job = client
        .epcis_capture_job(&accepted.capture_id)
        .await
        .expect("the job");
    for _ in 0..600 {
        if !job.running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        job = client
            .epcis_capture_job(&accepted.capture_id)
            .await
            .expect("the job");
    }
    assert_eq!(job.success, Some(true), "{job:?}");
    assert!(job.errors.is_empty());
    assert!(
        job.events
            .iter()
            .all(|event| event.status == TxState::Committed),
        "{job:?}"
    );
    assert_eq!(
        job.events
            .iter()
            .map(|event| event.event_id.clone())
            .collect::<Vec<_>>(),
        accepted.event_ids
    );
    let answer = client
        .verify_pack(&unit("H1"), false)
        .await
        .expect("verified");
    assert_eq!(answer.verdict, PackVerdict::Dispensed, "{answer:?}");
    let answer = client
        .verify_pack(&unit("H2"), false)
        .await
        .expect("verified");
    assert_eq!(answer.custodian, Some(pharmacist_id), "{answer:?}");
    let by_unit = client
        .epcis_events(&[("MATCH_anyEPC", &unit("H1")), ("EQ_bizStep", "dispensing")])
        .await
        .expect("query");
    assert_eq!(event_ids(&by_unit), accepted.event_ids[1..].to_vec());

    // A party that keeps its own key is told to capture with the SDK; an unknown job is a 404.
    let err = client
        .signed::<medchain_types::api::EpcisCaptureAccepted>(
            &PartyKeys::dev("pharmacy"),
            reqwest::Method::POST,
            "/epcis/capture",
            "application/ld+json",
            b"{}".to_vec(),
        )
        .await
        .expect_err("not custodial");
    assert!(err.to_string().contains("capture_transactions"), "{err}");
    let err = client
        .epcis_capture_job("0123456789abcdef")
        .await
        .expect_err("unknown");
    assert!(err.to_string().contains("no capture job"), "{err}");
}

/// A cell therapy's lineage: a drug substance made from a cell-bank vial and a media bag, a
/// drug product made from the substance; the product's ancestry is traced back with proofs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lineage_traces_a_product_back_through_its_transformations() {
    use medchain_types::supply::Transform;
    let (dir, _node, client) = processes::dev_chain("supply-lineage").await;
    let genesis = processes::genesis_in(&dir);
    let expiry = Date::new(2030, 1, 31).expect("date");
    for (serials, lot) in [(vec!["CB1", "CB2"], "BANK-1"), (vec!["MEDIA1"], "MEDIA-1")] {
        applied(
            &client,
            "manufacturer",
            SupplyOp::Commission(Commission {
                meta: EventMeta::at(now_ms()),
                units: units(&serials),
                lot: lot.into(),
                expiry,
                into: None,
            }),
        )
        .await;
    }
    let transform = |inputs: &[&str], outputs: &[&str], lot: &str| {
        SupplyOp::Transform(Transform {
            meta: EventMeta::at(now_ms()),
            inputs: units(inputs),
            outputs: units(outputs),
            lot: lot.into(),
            expiry,
        })
    };
    applied(
        &client,
        "manufacturer",
        transform(&["CB1", "MEDIA1"], &["DS1", "DS2"], "DS-LOT"),
    )
    .await;
    applied(
        &client,
        "manufacturer",
        transform(&["DS1"], &["DP1"], "DP-LOT"),
    )
    .await;

    let product = format!("https://id.gs1.org/01/{GTIN}/21/DP1");
    let lineage = client.lineage(&product, true).await.expect("lineage");
    let nodes: Vec<(&str, u32, &str)> = lineage
        .ancestry
        .iter()
        .map(|n| (n.serial.as_str(), n.generation, n.lot.as_str()))
        .collect();
    assert_eq!(
        nodes,
        [
            ("DP1", 0, "DP-LOT"),
            ("DS1", 1, "DS-LOT"),
            ("CB1", 2, "BANK-1"),
            ("MEDIA1", 2, "MEDIA-1")
        ],
        "{lineage:?}"
    );
    assert!(!lineage.truncated);
    assert!(lineage.ancestry[2].made_by.is_none());
    assert_eq!(
        lineage.ancestry[1].made_by.as_ref().map(|t| t.by),
        Some(party_id("manufacturer"))
    );
    let check = async |answer: &medchain_types::api::LineageResponse| {
        medchain_client::supply::check_lineage(
            &Verifier::new(genesis.clone()),
            &product,
            answer.clone(),
        )
        .await
    };
    check(&lineage).await.expect("the lineage's proofs verify");
    let mut tampered = lineage.clone();
    tampered.ancestry[2].lot = "BANK-2".into();
    assert!(check(&tampered).await.is_err(), "a wrong lot");
    let mut tampered = lineage.clone();
    tampered.ancestry.pop();
    assert!(check(&tampered).await.is_err(), "an ancestor left out");

    // The consumed vial says so; an unknown serial and a scan without one are named.
    let vial = client
        .verify_pack(&format!("https://id.gs1.org/01/{GTIN}/21/CB1"), false)
        .await
        .expect("verified");
    assert_eq!(vial.verdict, PackVerdict::Consumed, "{vial:?}");
    let err = client
        .lineage(&format!("https://id.gs1.org/01/{GTIN}/21/NOPE"), false)
        .await
        .expect_err("unknown");
    assert!(err.to_string().contains("NOPE"), "{err}");
    let err = client
        .lineage(&format!("https://id.gs1.org/01/{GTIN}"), false)
        .await
        .expect_err("no serial");
    assert!(err.to_string().contains("serial"), "{err}");

    // A pool of 1,500 donations into one product: the answer stops at its limit and says so.
    let donations = Serials::Range {
        prefix: "DON".into(),
        first: 1,
        count: 1_500,
        width: 4,
    };
    applied(
        &client,
        "manufacturer",
        SupplyOp::Commission(Commission {
            meta: EventMeta::at(now_ms()),
            units: vec![UnitGroup {
                gtin: gtin(),
                serials: donations.clone(),
            }],
            lot: "DONATIONS".into(),
            expiry,
            into: None,
        }),
    )
    .await;
    applied(
        &client,
        "manufacturer",
        SupplyOp::Transform(Transform {
            meta: EventMeta::at(now_ms()),
            inputs: vec![UnitGroup {
                gtin: gtin(),
                serials: donations,
            }],
            outputs: units(&["POOL1"]),
            lot: "POOL-LOT".into(),
            expiry,
        }),
    )
    .await;
    let pooled = client
        .lineage(&format!("https://id.gs1.org/01/{GTIN}/21/POOL1"), true)
        .await
        .expect("lineage");
    assert!(pooled.truncated);
    assert!(pooled.ancestry.len() <= 1_000, "{}", pooled.ancestry.len());
    medchain_client::supply::check_lineage(
        &Verifier::new(genesis.clone()),
        &format!("https://id.gs1.org/01/{GTIN}/21/POOL1"),
        pooled,
    )
    .await
    .expect("a truncated lineage's proofs verify");
}

/// The serials of a holdings answer's units, in order.
fn serials_of(answer: &serde_json::Value) -> Vec<&str> {
    answer["units"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| u["serial"].as_str().expect("serial"))
        .collect()
}

/// Runs `medchain` with `args` against the node at `url`.
async fn cli(url: String, args: Vec<String>) -> Result<String, String> {
    let parts: Vec<&str> = args.iter().map(String::as_str).collect();
    crate::custodial::medchain(&parts, &[("MEDCHAIN_NODE", &url)]).await
}

/// [`cli`], expected to commit a transaction.
async fn cli_applied(url: String, args: Vec<String>) {
    let out = cli(url, args.clone())
        .await
        .unwrap_or_else(|err| panic!("{args:?}: {err}"));
    let answer: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(answer["status"], "committed", "{args:?}: {answer}");
}

/// A lot's life through `medchain supply ...`: commissioned into a case, shipped, unpacked,
/// a pack dispensed, the lot recalled, and the recall's holdings, alerts, events and lineage
/// read back with proofs; an EPCIS file captured; bad input named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supply_commands_run_a_lot_from_the_command_line() {
    use crate::custodial::medchain_json;
    let (dir, _node, client) = processes::dev_chain("supply-cli").await;
    let url = client.base().to_string();
    let env = [("MEDCHAIN_NODE", url.as_str())];
    let genesis = dir.join("genesis.json").display().to_string();
    let case = sscc(31).to_string();
    let op = |parts: &[&str], who: &str| {
        let mut args: Vec<String> = vec!["supply".into()];
        args.extend(parts.iter().map(|p| p.to_string()));
        args.extend(["--as".into(), format!("dev:{who}")]);
        args
    };
    let run = |args: Vec<String>| cli(url.clone(), args);
    let applied = |args: Vec<String>| cli_applied(url.clone(), args);

    // Regression (issue 17): `party list` prints the ids later steps ask for, proven.
    let listed = cli(url.clone(), vec!["party".into(), "list".into()])
        .await
        .expect("party list");
    let wholesaler = party_id("wholesaler").to_string();
    assert!(
        listed.lines().any(|line| line.starts_with("dev:wholesaler")
            && line.contains(&wholesaler)
            && line.contains("Central Wholesale Drug Co. (demo)")
            && line.contains("[distributor]")),
        "{listed}"
    );
    assert_eq!(
        listed.lines().count(),
        medchain_types::dev::DEMO_PARTIES.len(),
        "{listed}"
    );

    applied(op(
        &[
            "commission",
            "--gtin",
            GTIN,
            "--range",
            "C:1:6:3",
            "--lot",
            "CLI-LOT",
            "--expiry",
            "2030-01-31",
            "--into",
            &case,
        ],
        "manufacturer",
    ))
    .await;
    applied(op(
        &["ship", "--container", &case, "--to", "dev:wholesaler"],
        "manufacturer",
    ))
    .await;
    applied(op(&["receive", "--container", &case], "wholesaler")).await;
    applied(op(&["unpack", "--parent", &case], "wholesaler")).await;
    let pack = format!("{GTIN}:C001");
    applied(op(
        &["ship", "--unit", &pack, "--to", "dev:pharmacy"],
        "wholesaler",
    ))
    .await;
    let link = format!("https://id.gs1.org/01/{GTIN}/21/C001");
    applied(op(&["receive", "--unit", &link], "pharmacy")).await;
    let scanned = format!("(01){GTIN}(21)C001");
    applied(op(
        &[
            "dispense",
            "--unit",
            &scanned,
            "--prescription",
            "RX-SYNTH-0001",
        ],
        "pharmacy",
    ))
    .await;
    // Dispensing it again is a repeated scan: refused with when, and no alert.
    let err = run(op(&["dispense", "--unit", &scanned], "pharmacy"))
        .await
        .expect_err("dispensed twice");
    assert!(err.contains("already dispensed by you at"), "{err}");
    // The wholesaler shipping the pack the pharmacy dispensed is refused with an alert.
    let err = run(op(
        &["ship", "--unit", &scanned, "--to", "dev:pharmacy"],
        "wholesaler",
    ))
    .await
    .expect_err("not the custodian");
    assert!(err.contains("not_custodian"), "{err}");
    applied(op(
        &[
            "recall",
            "--gtin",
            GTIN,
            "--lot",
            "CLI-LOT",
            "--reason",
            "synthetic: label mix-up",
        ],
        "manufacturer",
    ))
    .await;

    // The wholesaler's holdings of the recalled lot, proven.
    let held = medchain_json(
        &[
            "supply",
            "holdings",
            "--gtin",
            GTIN,
            "--lot",
            "CLI-LOT",
            "--custodian",
            "dev:wholesaler",
            "--in-chain",
            "--genesis",
            &genesis,
        ],
        &env,
        "holdings",
    )
    .await;
    let serials = serials_of(&held);
    assert_eq!(serials, ["C002", "C003", "C004", "C005", "C006"], "{held}");
    assert!(held["lot"]["recall"].is_object());
    // Page by page to the lot's end, two units a page, each page's proofs checked.
    let every = medchain_json(
        &[
            "supply",
            "holdings",
            "--gtin",
            GTIN,
            "--lot",
            "CLI-LOT",
            "--from",
            "1",
            "--limit",
            "2",
            "--all",
            "--genesis",
            &genesis,
        ],
        &env,
        "holdings --all",
    )
    .await;
    let serials = serials_of(&every);
    assert_eq!(serials, ["C002", "C003", "C004", "C005", "C006"], "{every}");
    assert!(every.get("next").is_none(), "{every}");
    let alerts = medchain_json(
        &[
            "supply",
            "alerts",
            "--manufacturer",
            "dev:manufacturer",
            "--genesis",
            &genesis,
        ],
        &env,
        "alerts",
    )
    .await;
    assert_eq!(alerts["count"], 1, "{alerts}");
    assert_eq!(alerts["alerts"][0]["kind"], "not_custodian");

    // EPCIS: the lot's events, and a captured document's.
    let lot = format!("{GTIN}/CLI-LOT");
    let events = medchain_json(&["supply", "events", "--lot", &lot], &env, "events").await;
    let steps: Vec<&str> = events["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["bizStep"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(steps, ["commissioning", "holding"], "{events}");
    let time = medchain_types::time::rfc3339(now_ms());
    let document = serde_json::json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": time,
        "epcisBody": { "eventList": [{
            "type": "ObjectEvent", "eventTime": time, "eventTimeZoneOffset": "+00:00",
            "epcList": [format!("https://id.gs1.org/01/{GTIN}/21/X1")],
            "action": "ADD", "bizStep": "commissioning", "disposition": "active",
            "ilmd": { "cbvmda:lotNumber": "X-LOT", "cbvmda:itemExpirationDate": "2030-01-31" }
        }]}
    });
    let file = dir.join("capture.json");
    std::fs::write(&file, document.to_string()).expect("written");
    let file = file.display().to_string();
    let captured = medchain_json(
        &["supply", "capture", &file, "--as", "dev:manufacturer"],
        &env,
        "capture",
    )
    .await;
    assert_eq!(captured[0]["status"], "committed", "{captured}");
    let x1 = format!("https://id.gs1.org/01/{GTIN}/21/X1");
    let events = medchain_json(
        &["supply", "events", "--epc", &x1, "--per-page", "1"],
        &env,
        "events",
    )
    .await;
    assert_eq!(
        events["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["eventID"],
        captured[0]["eventID"]
    );
    let lineage = medchain_json(
        &["supply", "lineage", &x1, "--genesis", &genesis],
        &env,
        "lineage",
    )
    .await;
    assert_eq!(lineage["ancestry"][0]["lot"], "X-LOT");
    // The README's example document, as shipped.
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/examples/epcis-commissioning.json"
    );
    let captured = medchain_json(
        &["supply", "capture", example, "--as", "dev:manufacturer"],
        &env,
        "capture the example",
    )
    .await;
    assert_eq!(captured.as_array().map(Vec::len), Some(2), "{captured}");
    assert!(
        captured
            .as_array()
            .expect("list")
            .iter()
            .all(|event| event["status"] == "committed"),
        "{captured}"
    );
    let checked = client
        .verify_pack(&format!("(01){GTIN}(21)EX0001"), false)
        .await
        .expect("verified");
    assert_eq!(checked.verdict, PackVerdict::Genuine, "{checked:?}");
    assert_eq!(checked.lot.as_ref().map(|l| l.lot.as_str()), Some("EX1"));
    let sampled = client
        .verify_pack(&format!("(01){GTIN}(21)EX0003"), false)
        .await
        .expect("verified");
    assert_eq!(sampled.verdict, PackVerdict::Decommissioned, "{sampled:?}");

    // Bad input is named before anything is signed.
    for (args, named) in [
        (
            vec![
                "commission",
                "--gtin",
                GTIN,
                "--serials",
                "Z1",
                "--lot",
                "Z",
                "--expiry",
                "2030-13-01",
            ],
            "--expiry",
        ),
        (
            vec!["ship", "--unit", "not-a-unit", "--to", "dev:pharmacy"],
            "not-a-unit",
        ),
        (
            vec!["ship", "--unit", &pack, "--to", "dev:nobody"],
            "nobody",
        ),
        (
            vec!["decommission", "--unit", &pack, "--reason", "lost"],
            "--reason",
        ),
        (vec!["receive"], "--unit"),
    ] {
        let err = run(op(&args, "wholesaler")).await.expect_err("refused");
        assert!(err.contains(named), "{args:?}: {err}");
    }
}

/// Signs `ops` as `who` with consecutive nonces, submits them to `client` as one batch, and
/// waits until each is applied.
async fn applied_batch(client: &Client, who: &str, ops: Vec<SupplyOp>) {
    let keys = PartyKeys::dev(who);
    let chain = client.status().await.expect("status").chain_id;
    let nonce = client.next_nonce(&keys.party_id).await.expect("nonce");
    let txs: Vec<_> = ops
        .into_iter()
        .enumerate()
        .map(|(i, op)| keys.sign(&chain, nonce + i as u64, TxBody::Supply(op)))
        .collect();
    let batch = client.submit_batch(&txs).await.expect("submitted");
    assert_eq!(batch.accepted, txs.len(), "{batch:?}");
    for tx in &txs {
        let answer = committed(client, &tx.hash()).await;
        assert_eq!(
            answer.receipt.as_ref().map(|r| r.outcome),
            Some(medchain_types::Outcome::Applied),
            "{answer:?}"
        );
    }
}

/// Waits until every node has applied the blocks `client` has.
async fn synced(clients: &[Client], client: &Client) {
    let height = client.status().await.expect("status").latest.height;
    all_at(clients, height).await;
}

/// Waits until every node has applied block `height`.
async fn all_at(clients: &[Client], height: u64) {
    for client in clients {
        processes::wait_for_height(client, height, Duration::from_secs(60)).await;
    }
}

/// The end-to-end run on a 4-validator testnet over HTTP: the manufacturer
/// commissions a pallet of 10,000 units (100 cases of 100), ships it to the wholesaler, who
/// ships it on to the pharmacy; the pharmacy dispenses one pack; packs are verified, with
/// proofs, at each stage and from every validator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_carry_a_pallet_of_ten_thousand_units_to_a_pharmacy() {
    const CASES: u64 = 100;
    const PER_CASE: u32 = 100;
    let network = processes::Network::testnet(4);
    let genesis = network.genesis();
    let clients = network.clients().await;
    all_at(&clients, 1).await;
    let (at_manufacturer, at_wholesaler, at_pharmacy) = (&clients[0], &clients[1], &clients[2]);
    let meta = || EventMeta::at(now_ms());
    let expiry = Date::new(2030, 1, 31).expect("date");
    let pallet_sscc = sscc(5_000);

    // 100 cases of 100 units, then the pallet of 100 cases: one batch.
    let mut ops: Vec<SupplyOp> = (0..CASES)
        .map(|case| {
            SupplyOp::Commission(Commission {
                meta: meta(),
                units: vec![UnitGroup {
                    gtin: gtin(),
                    serials: Serials::Range {
                        prefix: "P".into(),
                        first: case * u64::from(PER_CASE) + 1,
                        count: PER_CASE,
                        width: 5,
                    },
                }],
                lot: "PALLET-LOT".into(),
                expiry,
                into: Some(sscc(1_000 + case)),
            })
        })
        .collect();
    ops.push(SupplyOp::Pack(Pack {
        meta: meta(),
        parent: pallet_sscc,
        children: Objects {
            units: vec![],
            containers: (0..CASES).map(|case| sscc(1_000 + case)).collect(),
        },
    }));
    applied_batch(at_manufacturer, "manufacturer", ops).await;
    synced(&clients, at_manufacturer).await;
    let lot = at_manufacturer
        .lot_holdings(&gtin(), "PALLET-LOT", None, false, 0, 1, false)
        .await
        .expect("holdings");
    assert_eq!(lot.lot.units, CASES * u64::from(PER_CASE));

    // Verified from every validator at each stage, with proofs.
    let pack = |serial: u64| format!("https://id.gs1.org/01/{GTIN}/21/P{serial:05}");
    let verify_everywhere = |scan: String, custodian: &'static str| {
        let clients = clients.clone();
        let genesis = genesis.clone();
        async move {
            let height = clients[0].status().await.expect("status").latest.height;
            all_at(&clients, height).await;
            for client in &clients {
                let answer = client.verify_pack(&scan, true).await.expect("verified");
                assert_eq!(answer.custodian, Some(party_id(custodian)), "{answer:?}");
                verify_pack_proofs(&genesis, &scan, &answer)
                    .await
                    .expect("proofs verify");
            }
        }
    };
    let answer = at_pharmacy
        .verify_pack(&pack(10_000), false)
        .await
        .expect("verified");
    assert_eq!(answer.verdict, PackVerdict::Genuine, "{answer:?}");
    assert_eq!(answer.containers, vec![sscc(1_099), pallet_sscc]);
    verify_everywhere(pack(1), "manufacturer").await;

    // Manufacturer to wholesaler, each signing at its own validator.
    let pallet = Objects {
        units: vec![],
        containers: vec![pallet_sscc],
    };
    let ship = |to: &str| {
        SupplyOp::Ship(Ship {
            meta: meta(),
            objects: pallet.clone(),
            to: party_id(to),
            is_return: false,
        })
    };
    let receive = || {
        SupplyOp::Receive(Receive {
            meta: meta(),
            objects: pallet.clone(),
        })
    };
    applied_batch(at_manufacturer, "manufacturer", vec![ship("wholesaler")]).await;
    synced(&clients, at_manufacturer).await;
    let answer = at_wholesaler
        .verify_pack(&pack(5_000), false)
        .await
        .expect("verified");
    assert_eq!(answer.in_transit_to, Some(party_id("wholesaler")));
    applied_batch(at_wholesaler, "wholesaler", vec![receive()]).await;
    verify_everywhere(pack(5_000), "wholesaler").await;

    // Wholesaler to pharmacy; the pharmacy opens a case and dispenses one pack.
    applied_batch(at_wholesaler, "wholesaler", vec![ship("pharmacy")]).await;
    synced(&clients, at_wholesaler).await;
    applied_batch(at_pharmacy, "pharmacy", vec![receive()]).await;
    verify_everywhere(pack(9_999), "pharmacy").await;
    applied_batch(
        at_pharmacy,
        "pharmacy",
        vec![SupplyOp::Dispense(Dispense {
            meta: meta(),
            units: vec![UnitGroup {
                gtin: gtin(),
                serials: Serials::List(vec!["P00042".into()]),
            }],
            prescription: None,
        })],
    )
    .await;
    let height = at_pharmacy.status().await.expect("status").latest.height;
    all_at(&clients, height).await;
    for client in &clients {
        let answer = client.verify_pack(&pack(42), true).await.expect("verified");
        assert_eq!(answer.verdict, PackVerdict::Dispensed, "{answer:?}");
        verify_pack_proofs(&genesis, &pack(42), &answer)
            .await
            .expect("proofs verify");
        let steps: Vec<Step> = answer.custody.iter().map(|s| s.entry.step).collect();
        assert_eq!(steps.first(), Some(&Step::Commissioned), "{steps:?}");
        assert_eq!(steps.last(), Some(&Step::Dispensed), "{steps:?}");
        assert_eq!(
            steps.iter().filter(|s| **s == Step::Received).count(),
            2,
            "{steps:?}"
        );
    }
    // The rest of the pallet is still genuine and at the pharmacy; the pharmacy's holdings
    // of the lot are every other unit, in its cases.
    let held = clients[3]
        .lot_holdings(
            &gtin(),
            "PALLET-LOT",
            Some(&party_id("pharmacy")),
            true,
            0,
            10_000,
            false,
        )
        .await
        .expect("holdings");
    assert_eq!(held.units.len(), 9_999);
    assert!(
        held.units
            .iter()
            .all(|u| u.containers.last() == Some(&pallet_sscc))
    );
    // Its EPCIS history from another validator: commissioned, packed into its case (the
    // commissioning's aggregation), dispensed.
    let by_pack = clients[3]
        .epcis_events(&[("MATCH_anyEPC", &pack(42))])
        .await
        .expect("query");
    let steps: Vec<&str> = by_pack["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["bizStep"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(steps, ["commissioning", "packing", "dispensing"]);
}

/// A proposer closes a block once it has written `BLOCK_WRITES_MAX` state keys or run for its
/// time budget, and leaves the rest for the next: twelve commissionings of 5,000 units each
/// (more writes than one block takes) are spread over several blocks, and all of them commit.
/// Before, such a batch went into one block that took longer to build than the leader
/// timeout, and every view timed out proposing it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_batches_are_split_across_blocks_and_all_commit() {
    let (_dir, _node, client) = processes::dev_chain("supply-budget").await;
    let keys = PartyKeys::dev("manufacturer");
    let chain = client.status().await.expect("status").chain_id;
    let nonce = client.next_nonce(&keys.party_id).await.expect("nonce");
    // Each well inside one block's time budget even on a loaded machine (a debug build
    // beside other tests), together more writes than one block takes.
    let (batches, count) = (12u64, 5_000u32);
    let txs: Vec<_> = (0..batches)
        .map(|i| {
            let op = SupplyOp::Commission(Commission {
                meta: EventMeta::at(now_ms()),
                units: vec![UnitGroup {
                    gtin: gtin(),
                    serials: Serials::Range {
                        prefix: format!("W{i}-"),
                        first: 0,
                        count,
                        width: 5,
                    },
                }],
                lot: "BUDGET".into(),
                expiry: Date::new(2030, 1, 31).expect("date"),
                into: None,
            });
            keys.sign(&chain, nonce + i, TxBody::Supply(op))
        })
        .collect();
    let batch = client.submit_batch(&txs).await.expect("submitted");
    assert_eq!(batch.accepted, batches as usize, "{batch:?}");
    let mut heights = Vec::new();
    for tx in &txs {
        let answer = committed(&client, &tx.hash()).await;
        let receipt = answer
            .receipt
            .clone()
            .unwrap_or_else(|| panic!("a receipt: {answer:?}"));
        assert_eq!(receipt.outcome, medchain_types::Outcome::Applied);
        heights.push(receipt.height);
    }
    assert!(
        (batches as usize * count as usize) > medchain_types::limits::BLOCK_WRITES_MAX,
        "the test must cross the budget"
    );
    assert!(heights.last() > heights.first(), "{heights:?}");
}

/// One transaction that alone takes longer to run than the chain allows for building a block
/// is refused as too costly, with a reason naming the limit, and the chain goes on. Before,
/// every leader proposed it again, view after view past the leader timeout, and the chain
/// stopped. Next in its signer's nonce order, it is refused at submission (its dry run takes
/// too long); further on, by the proposer that runs it. This chain has the shortest leader
/// timeout allowed (100 ms, so a block is built in at most 80 ms); the largest operation,
/// 20,000 units commissioned into one case, takes several times that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_too_costly_for_the_chains_timeouts_is_refused_and_the_chain_goes_on() {
    let net = processes::Network::testnet_with(1, &["--leader-timeout-ms", "100"]);
    assert_eq!(net.genesis().consensus.leader_timeout_ms, 100);
    let client = net.clients().await.remove(0);
    processes::wait_for_height(&client, 1, Duration::from_secs(60)).await;
    let commission = |prefix: &str, count: u32, case: u64| {
        TxBody::Supply(SupplyOp::Commission(Commission {
            meta: EventMeta::at(now_ms()),
            units: vec![UnitGroup {
                gtin: gtin(),
                serials: Serials::Range {
                    prefix: prefix.into(),
                    first: 0,
                    count,
                    width: 5,
                },
            }],
            lot: "COSTLY".into(),
            expiry: Date::new(2030, 1, 31).expect("date"),
            into: Some(sscc(case)),
        }))
    };
    let too_costly = |code: &str, reason: &str| {
        assert_eq!(code, "too_costly", "{reason}");
        assert!(
            reason.contains("over the 80 ms") && reason.contains("split it"),
            "{reason}"
        );
    };
    let keys = PartyKeys::dev("manufacturer");
    let chain = client.status().await.expect("status").chain_id;
    let nonce = client.next_nonce(&keys.party_id).await.expect("nonce");

    // Next in line: refused at submission.
    let big = keys.sign(&chain, nonce, commission("BIG-", 20_000, 301));
    match client.submit(&big, true).await {
        Err(medchain_client::ClientError::Problem(problem)) => {
            assert_eq!(problem.status, 422, "{problem:?}");
            too_costly(&problem.code, &problem.detail);
        }
        other => panic!("not refused at submission: {other:?}"),
    }

    // Behind another of its signer's transactions, it is not run at submission; the proposer
    // runs it, refuses it, and goes on.
    let small = keys.sign(&chain, nonce, commission("SMALL-", 10, 302));
    let big = keys.sign(&chain, nonce + 1, commission("BIG-", 20_000, 301));
    let batch = client
        .submit_batch(&[small.clone(), big.clone()])
        .await
        .expect("submitted");
    assert_eq!(batch.accepted, 2, "{batch:?}");
    let answer = committed(&client, &small.hash()).await;
    assert_eq!(
        answer.receipt.expect("committed").outcome,
        medchain_types::Outcome::Applied
    );
    let answer = client
        .settled(&big.hash(), Duration::from_secs(60))
        .await
        .expect("status")
        .expect("settled");
    assert!(answer.receipt.is_none(), "{answer:?}");
    let rejection = answer.rejection.expect("refused");
    too_costly(&rejection.code, &rejection.reason);
    // Nothing of it is stored.
    let answer = client
        .verify_pack(&datamatrix("BIG-00000"), false)
        .await
        .expect("verified");
    assert_eq!(answer.verdict, PackVerdict::UnknownSerial, "{answer:?}");
    // The chain goes on, and its nonce is free: a small operation in its place commits.
    let next = keys.sign(&chain, nonce + 1, commission("NEXT-", 10, 303));
    let answer = client.submit(&next, true).await.expect("submitted");
    assert_eq!(
        answer.receipt.expect("committed").outcome,
        medchain_types::Outcome::Applied
    );
}
