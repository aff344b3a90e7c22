//! The supply chain's rules: commissioning, packing, custody and its transfer, dispensing,
//! recalls, expiry, decommissioning, lineage, roles and licences, and the suspect-product
//! alerts refused operations raise.

use crate::{
    Chain,
    credentials::{code, govern},
    demo,
};
use commonware_codec::DecodeExt;
use medchain_state::{TxError, TxOutcome, lists, supply};
use medchain_types::{
    Event, GovernanceAction, Outcome, PartyId, TxBody,
    credential::{CredentialStatus, CredentialType, number_commitment},
    dev::party_id,
    gs1::{Gtin, Sscc},
    supply::{
        ALERTS_ALL, Alert, AlertKind, Commission, Container, Decommission, DecommissionReason,
        Dispense, EventMeta, Flag, FlagKind, Lot, LotRef, Object, Objects, Pack, Product, Recall,
        Receive, Serials, Ship, Shipment, Step, SupplyOp, Transform, Transformation, Unit,
        UnitGroup, UnitStatus, Unpack,
    },
    time::Date,
    tx::CredentialRequirement,
};

fn gtin() -> Gtin {
    Gtin::parse("09521111111115").expect("GTIN")
}

fn sscc(n: u64) -> Sscc {
    Sscc::from_payload(&format!("3952111{n:010}")).expect("SSCC")
}

fn expiry() -> Date {
    Date::new(2030, 1, 31).expect("date")
}

fn serials(list: &[&str]) -> Serials {
    Serials::List(list.iter().map(|s| s.to_string()).collect())
}

fn units(list: &[&str]) -> Vec<UnitGroup> {
    vec![UnitGroup {
        gtin: gtin(),
        serials: serials(list),
    }]
}

fn unit(serial: &str) -> Object {
    Object::Unit {
        gtin: gtin(),
        serial: serial.into(),
    }
}

/// Every event in these tests happened at the chain's start (never after a block's time).
fn meta() -> EventMeta {
    EventMeta::at(1_700_000_000_000)
}

fn run(chain: &mut Chain, who: &str, op: SupplyOp) -> Result<TxOutcome, TxError> {
    let tx = chain.tx(&demo(who), TxBody::Supply(op));
    chain.one(tx)
}

fn applied(chain: &mut Chain, who: &str, op: SupplyOp) -> TxOutcome {
    let outcome = run(chain, who, op).expect("committed");
    assert_eq!(outcome.receipt.outcome, Outcome::Applied, "{outcome:?}");
    outcome
}

/// The operation is committed as denied with a suspect-product alert of `kind`.
fn alerted(chain: &mut Chain, who: &str, op: SupplyOp, kind: AlertKind) -> TxOutcome {
    let outcome = run(chain, who, op).expect("committed as denied");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied, "{outcome:?}");
    assert!(
        outcome
            .events
            .iter()
            .any(|e| matches!(e, Event::SuspectProduct { kind: k, .. } if *k == kind)),
        "{outcome:?}"
    );
    outcome
}

fn refused(chain: &mut Chain, who: &str, op: SupplyOp, code: &str) -> TxError {
    let err = run(chain, who, op).expect_err("refused");
    assert_eq!(err.code(), code, "{err}");
    err
}

fn get<T: commonware_codec::Read<Cfg = ()>>(chain: &Chain, key: &[u8]) -> Option<T> {
    chain
        .state
        .entries()
        .get(key)
        .map(|bytes| T::decode(bytes.clone()).expect("stored values decode"))
}

fn stored_unit(chain: &Chain, serial: &str) -> Unit {
    get(chain, &supply::unit_key(&gtin(), serial)).expect("unit exists")
}

fn stored_container(chain: &Chain, n: u64) -> Container {
    get(chain, &supply::container_key(&sscc(n))).expect("container exists")
}

fn alerts(chain: &Chain, owner: &[u8; 32]) -> Vec<Alert> {
    let count: u64 = chain
        .state
        .entries()
        .get(&lists::count_key(lists::names::ALERTS, owner))
        .map_or(0, |b| {
            u64::from_be_bytes(b.as_slice().try_into().expect("8 bytes"))
        });
    (0..count)
        .map(|seq| get(chain, &lists::item_key(lists::names::ALERTS, owner, seq)).expect("item"))
        .collect()
}

fn commission(list: &[&str], into: Option<Sscc>) -> SupplyOp {
    SupplyOp::Commission(Commission {
        meta: meta(),
        units: units(list),
        lot: "L1".into(),
        expiry: expiry(),
        into,
    })
}

fn ship(objects: Objects, to: &str) -> SupplyOp {
    SupplyOp::Ship(Ship {
        meta: meta(),
        objects,
        to: party_id(to),
        is_return: false,
    })
}

fn receive(objects: Objects) -> SupplyOp {
    SupplyOp::Receive(Receive {
        meta: meta(),
        objects,
    })
}

fn dispense(serial: &str) -> SupplyOp {
    SupplyOp::Dispense(Dispense {
        meta: meta(),
        units: units(&[serial]),
        prescription: None,
    })
}

fn containers(list: &[u64]) -> Objects {
    Objects {
        units: vec![],
        containers: list.iter().map(|n| sscc(*n)).collect(),
    }
}

fn loose(list: &[&str]) -> Objects {
    Objects::units(units(list))
}

/// Manufacturer commissions four units into case 1 and two into case 2, packs both cases in
/// pallet 9, ships it to the wholesaler, who receives it.
fn pallet_at_wholesaler(chain: &mut Chain) {
    applied(
        chain,
        "manufacturer",
        commission(&["A1", "A2", "A3", "A4"], Some(sscc(1))),
    );
    applied(
        chain,
        "manufacturer",
        commission(&["B1", "B2"], Some(sscc(2))),
    );
    let op = SupplyOp::Pack(Pack {
        meta: meta(),
        parent: sscc(9),
        children: containers(&[1, 2]),
    });
    applied(chain, "manufacturer", op);
    applied(chain, "manufacturer", ship(containers(&[9]), "wholesaler"));
    applied(chain, "wholesaler", receive(containers(&[9])));
}

#[test]
fn commissioning_creates_units_their_lot_and_product() {
    let mut chain = Chain::dev();
    let outcome = applied(&mut chain, "manufacturer", commission(&["S1", "S2"], None));
    assert!(outcome.events.contains(&Event::SupplyStep {
        op: "supply_commission".into(),
        actor: party_id("manufacturer"),
        objects: 2,
        subject: format!("{}/L1", gtin()),
    }));
    let unit = stored_unit(&chain, "S1");
    assert_eq!(unit.status, UnitStatus::Active);
    assert_eq!(unit.tracking.custodian, party_id("manufacturer"));
    assert_eq!(unit.lot, "L1");
    assert_eq!(unit.tracking.history.len(), 1);
    assert_eq!(unit.tracking.history[0].step, Step::Commissioned);
    let lot: Lot = get(&chain, &supply::lot_key(&gtin(), "L1")).expect("lot");
    assert_eq!(
        (lot.units, lot.expiry, lot.manufacturer),
        (2, expiry(), party_id("manufacturer"))
    );
    let product: Product = get(&chain, &supply::product_key(&gtin())).expect("product");
    assert_eq!(product.units, 2);
    // A numeric range commissions in bulk.
    let op = SupplyOp::Commission(Commission {
        meta: meta(),
        units: vec![UnitGroup {
            gtin: gtin(),
            serials: Serials::Range {
                prefix: "R".into(),
                first: 1,
                count: 1000,
                width: 6,
            },
        }],
        lot: "L1".into(),
        expiry: expiry(),
        into: None,
    });
    applied(&mut chain, "manufacturer", op);
    assert_eq!(stored_unit(&chain, "R001000").serial, "R001000");
    let lot: Lot = get(&chain, &supply::lot_key(&gtin(), "L1")).expect("lot");
    assert_eq!(lot.units, 1002);
    // One lot, one expiry date.
    let op = SupplyOp::Commission(Commission {
        meta: meta(),
        units: units(&["S3"]),
        lot: "L1".into(),
        expiry: Date::new(2031, 1, 31).expect("date"),
        into: None,
    });
    refused(&mut chain, "manufacturer", op, "lot_expiry");
}

#[test]
fn a_second_commissioning_is_refused_flagged_and_alerted_and_nothing_else_is_stored() {
    let mut chain = Chain::dev();
    applied(&mut chain, "manufacturer", commission(&["S1"], None));
    let outcome = alerted(
        &mut chain,
        "manufacturer",
        commission(&["S2", "S1"], None),
        AlertKind::DuplicateCommission,
    );
    assert_eq!(outcome.receipt.outcome, Outcome::Denied);
    assert!(
        chain
            .state
            .entries()
            .get(&supply::unit_key(&gtin(), "S2"))
            .is_none(),
        "nothing of a refused commissioning is stored"
    );
    assert_eq!(
        stored_unit(&chain, "S1").tracking.flag,
        Some(FlagKind::Suspect)
    );
    let all = alerts(&chain, &ALERTS_ALL);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].kind, AlertKind::DuplicateCommission);
    assert_eq!(all[0].object, unit("S1"));
    assert_eq!(alerts(&chain, &party_id("manufacturer").0), all);
    // Another manufacturer may not commission the GTIN at all.
    let other = medchain_types::Keypair::from_seed([77; 32]);
    govern(
        &mut chain,
        GovernanceAction::AddOrganisation {
            label: "Other Pharma".into(),
            signing_key: other.public_key(),
            encryption_key: medchain_types::EncryptionKey([1; 32]),
            roles: medchain_types::Roles::new([medchain_types::Role::Manufacturer]),
        },
    );
    let tx = chain.tx(&other, TxBody::Supply(commission(&["X1"], None)));
    let outcome = chain.one(tx).expect("denied");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied);
    let all = alerts(&chain, &ALERTS_ALL);
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].kind, AlertKind::DuplicateCommission);
    assert_eq!(all[1].manufacturer, Some(party_id("manufacturer")));
    assert_eq!(alerts(&chain, &party_id("manufacturer").0).len(), 2);
}

#[test]
fn packing_and_unpacking_keep_contents_and_parents_consistent() {
    let mut chain = Chain::dev();
    applied(
        &mut chain,
        "manufacturer",
        commission(&["A1", "A2", "A3"], Some(sscc(1))),
    );
    // Commissioned straight into the case: one history entry names it.
    let unit = stored_unit(&chain, "A1");
    assert_eq!(unit.tracking.parent, Some(sscc(1)));
    assert_eq!(unit.tracking.history.len(), 1);
    assert_eq!(
        (
            unit.tracking.history[0].step,
            unit.tracking.history[0].container
        ),
        (Step::Commissioned, Some(sscc(1)))
    );
    let case = stored_container(&chain, 1);
    assert_eq!((case.contents, case.packed), (3, 3));
    assert_eq!(
        case.lots,
        [LotRef {
            gtin: gtin(),
            lot: "L1".into()
        }]
    );
    let op = SupplyOp::Pack(Pack {
        meta: meta(),
        parent: sscc(9),
        children: containers(&[1]),
    });
    applied(&mut chain, "manufacturer", op);
    assert_eq!(stored_container(&chain, 1).tracking.parent, Some(sscc(9)));
    // A packed unit is not packed again elsewhere, and a container never goes inside itself.
    let op = SupplyOp::Pack(Pack {
        meta: meta(),
        parent: sscc(2),
        children: loose(&["A1"]),
    });
    refused(&mut chain, "manufacturer", op, "already_packed");
    let op = SupplyOp::Pack(Pack {
        meta: meta(),
        parent: sscc(1),
        children: containers(&[9]),
    });
    refused(&mut chain, "manufacturer", op, "container_cycle");
    // Take one unit out, then empty the case.
    let op = SupplyOp::Unpack(Unpack {
        meta: meta(),
        parent: sscc(1),
        children: Some(loose(&["A2"])),
    });
    applied(&mut chain, "manufacturer", op);
    assert_eq!(stored_unit(&chain, "A2").tracking.parent, None);
    assert_eq!(stored_container(&chain, 1).contents, 2);
    let op = SupplyOp::Unpack(Unpack {
        meta: meta(),
        parent: sscc(1),
        children: Some(loose(&["A2"])),
    });
    refused(&mut chain, "manufacturer", op, "not_in_container");
    let op = SupplyOp::Unpack(Unpack {
        meta: meta(),
        parent: sscc(1),
        children: None,
    });
    let outcome = applied(&mut chain, "manufacturer", op);
    assert!(matches!(
        &outcome.events[0],
        Event::SupplyStep { objects: 2, .. }
    ));
    assert_eq!(stored_container(&chain, 1).contents, 0);
    for serial in ["A1", "A2", "A3"] {
        let unit = stored_unit(&chain, serial);
        assert_eq!(unit.tracking.parent, None);
        assert_eq!(unit.tracking.custodian, party_id("manufacturer"));
    }
    // Repacking a unit puts it back; the case lists it once.
    let op = SupplyOp::Pack(Pack {
        meta: meta(),
        parent: sscc(1),
        children: loose(&["A1"]),
    });
    applied(&mut chain, "manufacturer", op);
    let op = SupplyOp::Unpack(Unpack {
        meta: meta(),
        parent: sscc(1),
        children: None,
    });
    let outcome = applied(&mut chain, "manufacturer", op);
    assert!(matches!(
        &outcome.events[0],
        Event::SupplyStep { objects: 1, .. }
    ));
    // Three packed at commissioning and one repacked: four packings, none inside now.
    let case = stored_container(&chain, 1);
    assert_eq!((case.contents, case.packed), (0, 4));
}

#[test]
fn a_container_takes_a_bounded_number_of_packings_in_its_life() {
    use medchain_types::supply::{CONTAINER_PACKINGS_MAX, OBJECTS_PER_OP_MAX};
    let mut chain = Chain::dev();
    let many = Objects::units(vec![UnitGroup {
        gtin: gtin(),
        serials: Serials::Range {
            prefix: "F".into(),
            first: 0,
            count: OBJECTS_PER_OP_MAX as u32,
            width: 6,
        },
    }]);
    applied(
        &mut chain,
        "manufacturer",
        SupplyOp::Commission(Commission {
            meta: meta(),
            units: many.units.clone(),
            lot: "L1".into(),
            expiry: expiry(),
            into: Some(sscc(1)),
        }),
    );
    // Emptied and filled again, the case has had its lifetime's packings.
    let unpack_all = SupplyOp::Unpack(Unpack {
        meta: meta(),
        parent: sscc(1),
        children: None,
    });
    applied(&mut chain, "manufacturer", unpack_all.clone());
    let pack_all = SupplyOp::Pack(Pack {
        meta: meta(),
        parent: sscc(1),
        children: many.clone(),
    });
    applied(&mut chain, "manufacturer", pack_all.clone());
    let case = stored_container(&chain, 1);
    assert_eq!(case.packed as usize, CONTAINER_PACKINGS_MAX);
    assert_eq!(case.contents as usize, OBJECTS_PER_OP_MAX);
    applied(&mut chain, "manufacturer", unpack_all);
    let err = refused(&mut chain, "manufacturer", pack_all, "container_full");
    assert!(err.to_string().contains("use a new SSCC"), "{err}");
}

#[test]
fn a_pallet_travels_from_manufacturer_through_a_wholesaler_to_a_pharmacy_and_a_pack_is_dispensed() {
    let mut chain = Chain::dev();
    pallet_at_wholesaler(&mut chain);
    let pallet = stored_container(&chain, 9);
    assert_eq!(pallet.tracking.custodian, party_id("wholesaler"));
    assert_eq!(pallet.tracking.shipment, None);
    let steps: Vec<Step> = pallet.tracking.history.iter().map(|h| h.step).collect();
    assert_eq!(steps, [Step::Packed, Step::Shipped, Step::Received]);
    // The units inside moved with the pallet: the wholesaler holds them, so the manufacturer
    // can no longer ship one.
    alerted(
        &mut chain,
        "manufacturer",
        ship(loose(&["B1"]), "pharmacy"),
        AlertKind::NotCustodian,
    );
    assert_eq!(
        stored_unit(&chain, "B1").tracking.flag,
        Some(FlagKind::Suspect)
    );
    assert_eq!(stored_container(&chain, 9).lots.len(), 1);
    applied(&mut chain, "wholesaler", ship(containers(&[9]), "pharmacy"));
    let shipment: Shipment = get(
        &chain,
        &supply::shipment_key(
            &stored_container(&chain, 9)
                .tracking
                .shipment
                .expect("in transit"),
        ),
    )
    .expect("shipment");
    assert_eq!(
        (shipment.from, shipment.to, shipment.objects),
        (party_id("wholesaler"), party_id("pharmacy"), 1)
    );
    // In transit, custody stays with the wholesaler: the pharmacy cannot dispense yet.
    refused(&mut chain, "pharmacy", dispense("A1"), "not_received");
    applied(&mut chain, "pharmacy", receive(containers(&[9])));
    let shipment: Shipment = get(&chain, &supply::shipment_key(&shipment.id)).expect("shipment");
    assert_eq!(shipment.received, 1);
    // The pharmacy dispenses a unit straight from the case it holds.
    let outcome = applied(&mut chain, "pharmacy", dispense("A1"));
    assert!(matches!(
        &outcome.events[0],
        Event::SupplyStep { objects: 1, .. }
    ));
    let a1 = stored_unit(&chain, "A1");
    assert_eq!(a1.status, UnitStatus::Dispensed);
    assert_eq!(a1.tracking.parent, None);
    assert_eq!(a1.tracking.custodian, party_id("pharmacy"));
    assert_eq!(stored_container(&chain, 1).contents, 3);
    // The same pharmacy scanning the pack again is a repeated scan: answered with when it was
    // dispensed, and neither an alert nor a flag.
    let err = refused(&mut chain, "pharmacy", dispense("A1"), "already_dispensed");
    assert!(
        err.to_string()
            .contains("already dispensed by you at 2023-11-14T22:13"),
        "{err}"
    );
    assert!(
        alerts(&chain, &ALERTS_ALL)
            .iter()
            .all(|a| a.object != unit("A1"))
    );
    assert_eq!(stored_unit(&chain, "A1").tracking.flag, None);
    // Past the ten days a second dispensing is a copied serial, even at the same pharmacy.
    chain.time_ms += supply::REDISPENSE_WINDOW_MS;
    alerted(
        &mut chain,
        "pharmacy",
        dispense("A1"),
        AlertKind::AlreadyOut,
    );
    let alert = alerts(&chain, &ALERTS_ALL).pop().expect("alert");
    assert_eq!(
        (alert.kind, alert.actor, alert.object.clone()),
        (AlertKind::AlreadyOut, party_id("pharmacy"), unit("A1"))
    );
    assert_eq!(
        stored_unit(&chain, "A1").tracking.flag,
        Some(FlagKind::Suspect)
    );
    // A serial nobody commissioned is a counterfeit.
    alerted(
        &mut chain,
        "pharmacy",
        dispense("FAKE1"),
        AlertKind::UnknownSerial,
    );
}

/// The public pack check, as of the chain's last block.
fn check(chain: &Chain, serial: &str) -> medchain_types::api::VerifyPackResponse {
    let scan = medchain_types::api::ScanSummary {
        form: "element_string".into(),
        gtin: Some(gtin()),
        serial: Some(serial.into()),
        lot: None,
        expiry: None,
        sscc: None,
        digital_link: None,
    };
    futures::executor::block_on(supply::query::verify_pack(
        &chain.state,
        scan,
        chain.height,
        chain.time_ms,
    ))
    .expect("answered")
}

#[test]
fn dispensing_a_packed_unit_takes_it_out_of_its_case_and_the_answer_names_one_custodian() {
    let mut chain = Chain::dev();
    pallet_at_wholesaler(&mut chain);
    // Inside case 1 inside pallet 9, a unit is held by whoever holds the pallet, and the
    // answer says so everywhere it names a custodian.
    let answer = check(&chain, "A2");
    assert_eq!(answer.custodian, Some(party_id("wholesaler")));
    assert_eq!(
        answer.unit.expect("unit").tracking.custodian,
        party_id("wholesaler")
    );
    assert_eq!(answer.containers, [sscc(1), sscc(9)]);
    applied(&mut chain, "wholesaler", ship(containers(&[9]), "pharmacy"));
    applied(&mut chain, "pharmacy", receive(containers(&[9])));
    let answer = check(&chain, "A2");
    assert_eq!(answer.custodian, Some(party_id("pharmacy")));
    assert_eq!(
        answer.unit.expect("unit").tracking.custodian,
        party_id("pharmacy")
    );
    // Dispensed from the case, the unit leaves it (GS1 practice): unpacked, then dispensed,
    // and from then on in no container.
    applied(&mut chain, "pharmacy", dispense("A2"));
    let a2 = stored_unit(&chain, "A2");
    let steps: Vec<Step> = a2.tracking.history.iter().map(|h| h.step).collect();
    assert_eq!(steps.last_chunk(), Some(&[Step::Unpacked, Step::Dispensed]));
    assert_eq!(
        (a2.tracking.parent, a2.tracking.custodian),
        (None, party_id("pharmacy"))
    );
    assert_eq!(stored_container(&chain, 1).contents, 3);
    let answer = check(&chain, "A2");
    assert!(answer.containers.is_empty(), "{answer:?}");
    assert_eq!(answer.custodian, Some(party_id("pharmacy")));
}

#[test]
fn an_alert_is_resolved_by_clearing_its_flag_with_a_reason_and_the_pack_check_says_who_and_why() {
    let mut chain = Chain::dev();
    applied(&mut chain, "manufacturer", commission(&["R1", "R2"], None));
    // The wholesaler ships a pack it does not hold: an alert, and the pack is flagged suspect.
    alerted(
        &mut chain,
        "wholesaler",
        ship(loose(&["R1"]), "pharmacy"),
        AlertKind::NotCustodian,
    );
    let note = stored_unit(&chain, "R1")
        .tracking
        .flag_note
        .expect("a note");
    assert_eq!(
        (note.kind, note.by, note.alert),
        (FlagKind::Suspect, None, Some(0))
    );
    let answer = check(&chain, "R1");
    assert_eq!(
        answer.verdict,
        medchain_types::api::PackVerdict::Suspect,
        "{answer:?}"
    );
    assert!(
        answer.findings[0].starts_with("it is flagged suspect by suspect-product alert 0 at "),
        "{:?}",
        answer.findings
    );
    let clear = |serial: &str, reason: &str| {
        SupplyOp::Flag(Flag {
            meta: meta(),
            objects: loose(&[serial]),
            flag: FlagKind::Cleared,
            reason: reason.into(),
        })
    };
    // Clearing says why; only the manufacturer or a regulator clears; what is not flagged has
    // nothing to clear.
    let unsaid = clear("R1", " ")
        .check_shape()
        .expect_err("refused at admission");
    assert!(
        unsaid.to_string().contains("a flag gives its reason"),
        "{unsaid}"
    );
    refused(&mut chain, "pharmacy", clear("R1", "fine"), "missing_role");
    refused(
        &mut chain,
        "manufacturer",
        clear("R2", "fine"),
        "not_flagged",
    );
    let reason = "the wholesaler's scanner sent the wrong shipment; pack accounted for";
    applied(&mut chain, "manufacturer", clear("R1", reason));
    let r1 = stored_unit(&chain, "R1");
    assert_eq!(r1.tracking.flag, None);
    let note = r1.tracking.flag_note.expect("a note");
    assert_eq!(
        (note.kind, note.by, note.reason.as_str()),
        (FlagKind::Cleared, Some(party_id("manufacturer")), reason)
    );
    let answer = check(&chain, "R1");
    assert_eq!(answer.verdict, medchain_types::api::PackVerdict::Genuine);
    assert!(
        answer
            .findings
            .iter()
            .any(|f| f.starts_with("an earlier flag on it was cleared by ")
                && f.contains(&party_id("manufacturer").to_string())
                && f.ends_with(reason)),
        "{:?}",
        answer.findings
    );
    // The cleared pack moves on again.
    applied(&mut chain, "manufacturer", ship(loose(&["R1"]), "pharmacy"));
}

#[test]
fn only_the_party_a_shipment_names_receives_it() {
    let mut chain = Chain::dev();
    applied(&mut chain, "manufacturer", commission(&["A1"], None));
    applied(
        &mut chain,
        "manufacturer",
        ship(loose(&["A1"]), "wholesaler"),
    );
    alerted(
        &mut chain,
        "pharmacy",
        receive(loose(&["A1"])),
        AlertKind::WrongReceiver,
    );
    // A unit in no shipment is not received either.
    applied(&mut chain, "manufacturer", commission(&["A2"], None));
    alerted(
        &mut chain,
        "wholesaler",
        receive(loose(&["A2"])),
        AlertKind::WrongReceiver,
    );
    // The flag the wrong receipt raised holds the unit: it is not moved on until cleared.
    let a1 = stored_unit(&chain, "A1");
    assert_eq!(a1.tracking.flag, Some(FlagKind::Suspect));
    applied(&mut chain, "wholesaler", receive(loose(&["A1"])));
    alerted(
        &mut chain,
        "wholesaler",
        ship(loose(&["A1"]), "pharmacy"),
        AlertKind::Flagged,
    );
    let op = SupplyOp::Flag(Flag {
        meta: meta(),
        objects: loose(&["A1"]),
        flag: FlagKind::Cleared,
        reason: "investigated: a mis-keyed receipt".into(),
    });
    refused(&mut chain, "wholesaler", op.clone(), "missing_role");
    applied(&mut chain, "regulator", op);
    applied(&mut chain, "wholesaler", ship(loose(&["A1"]), "pharmacy"));
    // Only the custodian ships; a packed unit moves with its container.
    alerted(
        &mut chain,
        "wholesaler",
        ship(loose(&["A2"]), "pharmacy"),
        AlertKind::NotCustodian,
    );
    applied(
        &mut chain,
        "manufacturer",
        commission(&["A3"], Some(sscc(3))),
    );
    refused(
        &mut chain,
        "manufacturer",
        ship(loose(&["A3"]), "wholesaler"),
        "packed",
    );
}

#[test]
fn a_recall_stops_dispensing_wherever_the_units_are() {
    let mut chain = Chain::dev();
    pallet_at_wholesaler(&mut chain);
    let recall = || {
        SupplyOp::Recall(Recall {
            meta: meta(),
            gtin: gtin(),
            lot: "L1".into(),
            reason: "particulate contamination".into(),
        })
    };
    refused(&mut chain, "wholesaler", recall(), "missing_role");
    applied(&mut chain, "manufacturer", recall());
    refused(&mut chain, "regulator", recall(), "already_recalled");
    let lot: Lot = get(&chain, &supply::lot_key(&gtin(), "L1")).expect("lot");
    assert_eq!(lot.recall.expect("recalled").by, party_id("manufacturer"));
    // The wholesaler holds the pallet; it cannot move it on, only return it.
    alerted(
        &mut chain,
        "wholesaler",
        ship(containers(&[9]), "pharmacy"),
        AlertKind::Recalled,
    );
    let op = SupplyOp::Unpack(Unpack {
        meta: meta(),
        parent: sscc(9),
        children: None,
    });
    applied(&mut chain, "wholesaler", op);
    let op = SupplyOp::Unpack(Unpack {
        meta: meta(),
        parent: sscc(1),
        children: None,
    });
    applied(&mut chain, "wholesaler", op);
    alerted(
        &mut chain,
        "wholesaler",
        ship(loose(&["A1"]), "pharmacy"),
        AlertKind::Recalled,
    );
    let op = SupplyOp::Ship(Ship {
        meta: meta(),
        objects: loose(&["A1"]),
        to: party_id("manufacturer"),
        is_return: true,
    });
    applied(&mut chain, "wholesaler", op);
    // A regulator recalls too.
    applied(
        &mut chain,
        "manufacturer",
        SupplyOp::Commission(Commission {
            meta: meta(),
            units: units(&["C1"]),
            lot: "L2".into(),
            expiry: expiry(),
            into: None,
        }),
    );
    let op = SupplyOp::Recall(Recall {
        meta: meta(),
        gtin: gtin(),
        lot: "L2".into(),
        reason: "regulator order 2026-17".into(),
    });
    applied(&mut chain, "regulator", op);
}

#[test]
fn commissioning_a_lot_that_has_already_expired_is_refused() {
    let mut chain = Chain::dev(); // 2023-11-14
    for (expiry, code) in [
        (Date::new(2023, 11, 13), Some("lot_expired")),
        (Date::new(2023, 11, 14), None),
    ] {
        let op = SupplyOp::Commission(Commission {
            meta: meta(),
            units: units(&["X1"]),
            lot: "X".into(),
            expiry: expiry.expect("date"),
            into: None,
        });
        match code {
            Some(code) => {
                let err = refused(&mut chain, "manufacturer", op, code);
                assert!(
                    err.to_string().contains(
                        "lot X expires on 2023-11-13, before the block's date 2023-11-14"
                    ),
                    "{err}"
                );
                assert!(get::<Unit>(&chain, &supply::unit_key(&gtin(), "X1")).is_none());
            }
            // A lot that expires today may still be made and used today.
            None => {
                applied(&mut chain, "manufacturer", op);
            }
        }
    }
}

#[test]
fn expired_and_decommissioned_units_are_not_dispensed() {
    let mut chain = Chain::dev();
    let op = SupplyOp::Commission(Commission {
        meta: meta(),
        units: units(&["E1"]),
        lot: "OLD".into(),
        expiry: Date::new(2024, 1, 31).expect("date"),
        into: None,
    });
    applied(&mut chain, "manufacturer", op);
    // Two months on, lot OLD has expired.
    chain.time_ms = 1_709_251_200_000; // 2024-03-01
    applied(&mut chain, "manufacturer", commission(&["D1", "D2"], None));
    applied(
        &mut chain,
        "manufacturer",
        ship(loose(&["D1", "D2"]), "pharmacy"),
    );
    applied(&mut chain, "pharmacy", receive(loose(&["D1", "D2"])));
    let op = SupplyOp::Decommission(Decommission {
        meta: meta(),
        objects: loose(&["D1"]),
        reason: DecommissionReason::Stolen,
    });
    applied(&mut chain, "pharmacy", op);
    assert_eq!(
        stored_unit(&chain, "D1").status,
        UnitStatus::Decommissioned {
            reason: DecommissionReason::Stolen
        }
    );
    alerted(
        &mut chain,
        "pharmacy",
        dispense("D1"),
        AlertKind::AlreadyOut,
    );
    // The manufacturer cannot dispense (no dispenser role), nor ship the expired unit on.
    refused(&mut chain, "manufacturer", dispense("E1"), "missing_role");
    alerted(
        &mut chain,
        "manufacturer",
        ship(loose(&["E1"]), "pharmacy"),
        AlertKind::Expired,
    );
    // Decommissioning a pallet takes its contents with it.
    pallet_at_wholesaler(&mut chain);
    let op = SupplyOp::Decommission(Decommission {
        meta: meta(),
        objects: containers(&[9]),
        reason: DecommissionReason::Destroyed,
    });
    let outcome = applied(&mut chain, "wholesaler", op);
    assert!(
        matches!(&outcome.events[0], Event::SupplyStep { objects: 9, .. }),
        "{outcome:?}"
    );
    assert!(matches!(
        stored_unit(&chain, "B2").status,
        UnitStatus::Decommissioned { .. }
    ));
}

#[test]
fn a_transformation_consumes_its_inputs_and_its_outputs_trace_back_to_them() {
    let mut chain = Chain::dev();
    applied(
        &mut chain,
        "manufacturer",
        commission(&["CELL1", "CELL2"], None),
    );
    let therapy = Gtin::parse("09521111111122").expect("GTIN");
    let op = SupplyOp::Transform(Transform {
        meta: meta(),
        inputs: units(&["CELL1", "CELL2"]),
        outputs: vec![UnitGroup {
            gtin: therapy,
            serials: serials(&["DOSE1"]),
        }],
        lot: "T1".into(),
        expiry: expiry(),
    });
    let outcome = applied(&mut chain, "manufacturer", op);
    let cell = stored_unit(&chain, "CELL1");
    assert_eq!(cell.status, UnitStatus::Consumed);
    assert_eq!(cell.consumed_by, Some(outcome.receipt.tx));
    let dose: Unit = get(&chain, &supply::unit_key(&therapy, "DOSE1")).expect("output");
    let made_by = dose.made_by.expect("made by the transformation");
    let record: Transformation =
        get(&chain, &supply::transformation_key(&made_by)).expect("record");
    assert_eq!(record.inputs, vec![unit("CELL1"), unit("CELL2")]);
    assert_eq!(record.outputs, 1);
    // A consumed input is out of the chain.
    alerted(
        &mut chain,
        "manufacturer",
        ship(loose(&["CELL1"]), "pharmacy"),
        AlertKind::AlreadyOut,
    );
}

#[test]
fn roles_licences_and_event_times_gate_every_step() {
    let mut chain = Chain::dev();
    refused(
        &mut chain,
        "wholesaler",
        commission(&["S1"], None),
        "missing_role",
    );
    refused(
        &mut chain,
        "hospital",
        commission(&["S1"], None),
        "missing_role",
    );
    let mut op = commission(&["S1"], None);
    if let SupplyOp::Commission(c) = &mut op {
        c.meta.event_time_ms = chain.time_ms + 3_600_000;
    }
    refused(&mut chain, "manufacturer", op, "event_in_future");
    // Governance requires a wholesale licence to ship: the unlicensed are refused on the
    // record, the licensed ship, the suspended are refused again.
    let licence = CredentialType::new("wholesale_distributor_licence").expect("type");
    govern(
        &mut chain,
        GovernanceAction::AccreditIssuer {
            issuer: party_id("licensing-board"),
            credential_types: vec![licence.clone()],
            jurisdictions: vec![code("US")],
        },
    );
    govern(
        &mut chain,
        GovernanceAction::SetCredentialRequirement {
            action: "supply_ship".into(),
            requirement: Some(CredentialRequirement {
                credential_type: licence.clone(),
                jurisdiction: None,
            }),
        },
    );
    applied(&mut chain, "manufacturer", commission(&["S1"], None));
    applied(
        &mut chain,
        "manufacturer",
        SupplyOp::Commission(Commission {
            meta: meta(),
            units: units(&["S2"]),
            lot: "L1".into(),
            expiry: expiry(),
            into: None,
        }),
    );
    let outcome = run(
        &mut chain,
        "manufacturer",
        ship(loose(&["S1"]), "wholesaler"),
    )
    .expect("denied on the record");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied);
    assert!(
        outcome
            .events
            .iter()
            .any(|e| matches!(e, Event::ActionDenied { action, .. } if action == "supply_ship"))
    );
    let issue = |chain: &mut Chain, subject: PartyId| {
        let now = chain.time_ms;
        let tx = chain.tx(
            &demo("licensing-board"),
            TxBody::IssueCredential {
                subject,
                credential_type: licence.clone(),
                jurisdiction: code("US-CA"),
                number_commitment: number_commitment(&[3; 32], "WDL-1"),
                specialty: None,
                valid_from_ms: now,
                valid_until_ms: now + 365 * 86_400_000,
            },
        );
        let outcome = chain.one(tx).expect("issued");
        outcome
            .events
            .iter()
            .find_map(|e| match e {
                Event::CredentialIssued { credential, .. } => Some(*credential),
                _ => None,
            })
            .expect("credential id")
    };
    let credential = issue(&mut chain, party_id("manufacturer"));
    applied(
        &mut chain,
        "manufacturer",
        ship(loose(&["S1"]), "wholesaler"),
    );
    let tx = chain.tx(
        &demo("licensing-board"),
        TxBody::SetCredentialStatus {
            credential,
            status: CredentialStatus::Suspended,
            reason: "inspection pending".into(),
        },
    );
    chain.one(tx).expect("suspended");
    let outcome = run(
        &mut chain,
        "manufacturer",
        ship(loose(&["S2"]), "wholesaler"),
    )
    .expect("denied on the record");
    assert_eq!(outcome.receipt.outcome, Outcome::Denied);
}

#[test]
fn one_receipt_of_several_shipments_records_an_event_that_decodes() {
    let mut chain = Chain::dev();
    applied(&mut chain, "manufacturer", commission(&["A1", "A2"], None));
    applied(
        &mut chain,
        "manufacturer",
        ship(loose(&["A1"]), "wholesaler"),
    );
    applied(
        &mut chain,
        "manufacturer",
        ship(loose(&["A2"]), "wholesaler"),
    );
    let outcome = applied(&mut chain, "wholesaler", receive(loose(&["A1", "A2"])));
    let event = outcome.events[0].clone();
    assert!(
        matches!(&event, Event::SupplyStep { objects: 2, subject, .. } if subject == "2 shipments")
    );
    let bytes = commonware_codec::Encode::encode(&event);
    assert_eq!(Event::decode(bytes).expect("the event decodes"), event);
}
