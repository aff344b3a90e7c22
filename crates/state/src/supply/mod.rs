//! The drug supply chain: serialized units, their lots and containers, custody and its
//! transfers, dispensing, recalls, lineage and suspect-product alerts.
//!
//! Rules:
//! - **Who.** Commissioning and transformation take the manufacturer role; shipping, receiving,
//!   packing, unpacking and decommissioning a trading-partner role (manufacturer, distributor
//!   or dispenser); dispensing the dispenser role; recalls and flags the lot's or product's
//!   manufacturer, or a regulator. Each operation is also gated by the credential policy as
//!   `supply_<op>` (`supply_commission`, `supply_ship`, ...), so governance can require a valid
//!   trading-partner licence: an unlicensed or suspended partner is refused, on the record.
//! - **Identity.** A GTIN belongs to the manufacturer that first commissions it; a serial of a
//!   GTIN is commissioned once; a lot has one expiry date and one manufacturer.
//! - **Custody.** Every object has exactly one custodian: a loose object's own, and a packed
//!   object's outermost container's. Only the custodian ships, packs, unpacks, dispenses or
//!   decommissions; custody stays with the sender until the receiver named in the shipment
//!   receives. Only top-level objects move; packed units move with their container.
//! - **Out of the chain.** Dispensed, decommissioned and consumed units do nothing more.
//!   Recalled, expired and flagged units are not dispensed or moved on (except back as a
//!   return). A unit dispensed from inside a case leaves the case (its history says unpacked,
//!   then dispensed), so a dispensed unit is never inside a container.
//! - **A repeated scan.** A dispenser dispensing a pack it dispensed itself within
//!   [`REDISPENSE_WINDOW_MS`] (ten days) is refused as `already_dispensed`, saying when, with
//!   no alert: a pharmacist scanning the same pack twice is not a counterfeiter.
//! - **Alerts.** An operation refused for a reason that points at counterfeiting or diversion
//!   (a second commissioning, a move or dispensing by someone who does not hold the object, a
//!   receipt by someone it was not sent to, a second dispensing, an unknown serial, a recalled,
//!   expired or flagged unit dispensed) is committed as denied, the object is flagged suspect,
//!   and a suspect-product alert is listed for the manufacturer and for regulators.
//! - **Resolving.** The product's manufacturer or a regulator resolves an alert by clearing
//!   the flag with a reason (`flag` with `cleared`); every flag gives its reason, and the
//!   object keeps the last word on its flag ([`FlagNote`]: the alert or who flagged it, who
//!   cleared it and why), which every pack check shows.
//!
//! Keys: `sg/<gtin>` [`Product`], `sl/<gtin><lot>` [`Lot`], `su/<gtin><serial>` [`Unit`],
//! `sc/<sscc>` [`Container`], `ss/<id>` [`Shipment`], `sx/<tx>` [`Transformation`]; the lists
//! `contents` (per container: every object ever packed in it), `lot-batches` (per lot: the
//! serials of each commissioning) and `alerts` (per manufacturer, and for everyone under
//! [`ALERTS_ALL`]).

pub mod query;

use crate::{
    credentials,
    error::{StateError, TxError},
    executor::{TxContext, truncate},
    lists::{self, names},
    view::StateRead,
};
use commonware_codec::{Decode as _, Encode};
use medchain_types::{
    Event, Party, PartyId, Role, TxHash,
    event::SUPPLY_SUBJECT_BYTES_MAX,
    gs1::{Gtin, Sscc},
    hash::{Hash32, hash_parts},
    supply::{
        ALERT_REASON_BYTES_MAX, ALERTS_ALL, Alert, AlertKind, CONTAINER_LOTS_MAX,
        CONTAINER_PACKINGS_MAX, Commission, Container, ContainerStatus, Decommission, Dispense,
        EVENT_TIME_SKEW_MS, EventMeta, EventRef, Flag, FlagKind, FlagNote, HISTORY_MAX,
        HistoryEntry, Lot, LotBatch, LotRef, OBJECTS_PER_OP_MAX, Object, Objects, Pack, Product,
        Recall, RecallNotice, Receive, Ship, Shipment, Step, SupplyOp, Tracking, Transform,
        Transformation, Unit, UnitGroup, UnitStatus, Unpack, unit_objects,
    },
    time::Date,
};
use std::collections::{BTreeSet, HashMap, HashSet};

/// A hash map keyed by objects a transaction names. Commissioning touches every unit of a
/// case several times, so the hasher matters: foldhash is several times faster than SipHash
/// on these short keys, and its per-process random seed keeps chosen serials from colliding.
type ObjectMap<V> = HashMap<Object, V, foldhash::quality::RandomState>;
type ObjectSet = HashSet<Object, foldhash::quality::RandomState>;

/// How deep containers nest (unit in case in pallet in ...) before we stop following.
pub const NESTING_MAX: usize = 8;
/// Most objects one decommissioning of containers reaches, contents included.
pub const REACH_MAX: usize = OBJECTS_PER_OP_MAX;

/// `sg/<gtin>`.
pub fn product_key(gtin: &Gtin) -> Vec<u8> {
    [b"sg/".as_slice(), gtin.digits()].concat()
}

/// `sl/<gtin><lot>`.
pub fn lot_key(gtin: &Gtin, lot: &str) -> Vec<u8> {
    [b"sl/".as_slice(), gtin.digits(), lot.as_bytes()].concat()
}

/// `su/<gtin><serial>`.
pub fn unit_key(gtin: &Gtin, serial: &str) -> Vec<u8> {
    [b"su/".as_slice(), gtin.digits(), serial.as_bytes()].concat()
}

/// `sc/<sscc>`.
pub fn container_key(sscc: &Sscc) -> Vec<u8> {
    [b"sc/".as_slice(), sscc.digits()].concat()
}

/// `ss/<shipment id>`.
pub fn shipment_key(id: &Hash32) -> Vec<u8> {
    [b"ss/".as_slice(), &id.0].concat()
}

/// `sx/<transformation tx>`.
pub fn transformation_key(tx: &TxHash) -> Vec<u8> {
    [b"sx/".as_slice(), &tx.0].concat()
}

/// The owner of a container's `contents` list.
pub fn contents_owner(sscc: &Sscc) -> [u8; 32] {
    hash_parts(b"medchain/supply/contents", &[sscc.digits()]).0
}

/// The owner of a lot's `lot-batches` list.
pub fn lot_owner(gtin: &Gtin, lot: &str) -> [u8; 32] {
    hash_parts(b"medchain/supply/lot", &[gtin.digits(), lot.as_bytes()]).0
}

/// The UTC day (days since 1970-01-01) of a time in milliseconds, as `supply-days` lists it.
pub fn event_day(ms: u64) -> i64 {
    (ms / medchain_types::time::DAY_MS) as i64
}

/// The owner of the `supply-days` list of one UTC day ([`event_day`]).
pub fn day_owner(day: i64) -> [u8; 32] {
    hash_parts(b"medchain/supply/day", &[&day.to_be_bytes()]).0
}

/// The shipment a transaction's ship operation creates.
pub fn shipment_id(tx: &TxHash) -> Hash32 {
    hash_parts(b"medchain/supply/shipment", &[&tx.0])
}

/// The state key of an object.
pub fn object_key(object: &Object) -> Vec<u8> {
    match object {
        Object::Unit { gtin, serial } => unit_key(gtin, serial),
        Object::Container { sscc } => container_key(sscc),
    }
}

/// A refusal that points at counterfeiting or diversion: committed as denied, with an alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub kind: AlertKind,
    pub op: &'static str,
    pub object: Object,
    pub manufacturer: Option<PartyId>,
    pub reason: String,
}

fn violation(
    kind: AlertKind,
    op: &'static str,
    object: &Object,
    manufacturer: Option<PartyId>,
    reason: String,
) -> TxError {
    TxError::SuspectProduct(Box::new(Violation {
        kind,
        op,
        object: object.clone(),
        manufacturer,
        reason,
    }))
}

fn refused(code: &'static str, reason: String) -> TxError {
    TxError::Refused { code, reason }
}

/// A unit or a container, as stored.
#[derive(Clone, Debug)]
enum Entity {
    Unit(Unit),
    Container(Container),
}

impl Entity {
    fn tracking(&self) -> &Tracking {
        match self {
            Entity::Unit(u) => &u.tracking,
            Entity::Container(c) => &c.tracking,
        }
    }
    fn tracking_mut(&mut self) -> &mut Tracking {
        match self {
            Entity::Unit(u) => &mut u.tracking,
            Entity::Container(c) => &mut c.tracking,
        }
    }
    /// Why it can no longer move, if it cannot.
    fn out_of_chain(&self) -> Option<String> {
        match self {
            Entity::Unit(u) => match u.status {
                UnitStatus::Active => None,
                UnitStatus::Dispensed => Some("was already dispensed".into()),
                UnitStatus::Consumed => Some("was consumed by a transformation".into()),
                UnitStatus::Decommissioned { reason } => {
                    Some(format!("was decommissioned ({})", reason.name()))
                }
            },
            Entity::Container(c) => {
                (c.status == ContainerStatus::Decommissioned).then(|| "was decommissioned".into())
            }
        }
    }
    fn encode(&self) -> Vec<u8> {
        match self {
            Entity::Unit(u) => u.encode().to_vec(),
            Entity::Container(c) => c.encode().to_vec(),
        }
    }
}

/// Decodes an object's stored value.
fn decode_entity(object: &Object, key: &[u8], bytes: Vec<u8>) -> Result<Entity, TxError> {
    let corrupt = |err: commonware_codec::Error| {
        TxError::State(StateError::Corrupt {
            key: crate::keys::describe(key),
            reason: err.to_string(),
        })
    };
    Ok(match object {
        Object::Unit { .. } => Entity::Unit(Unit::decode_cfg(bytes, &()).map_err(corrupt)?),
        Object::Container { .. } => {
            Entity::Container(Container::decode_cfg(bytes, &()).map_err(corrupt)?)
        }
    })
}

/// One operation's working set: objects read once, written once at the end.
struct Work<'c, 'b, 'a, R: StateRead> {
    ctx: &'c mut TxContext<'b, 'a, R>,
    signer: PartyId,
    op: &'static str,
    tx: TxHash,
    entities: ObjectMap<Option<Entity>>,
    dirty: ObjectSet,
    lots: HashMap<(Gtin, String), Option<Lot>>,
    products: HashMap<Gtin, Option<Product>>,
}

impl<'c, 'b, 'a, R: StateRead> Work<'c, 'b, 'a, R> {
    fn new(
        ctx: &'c mut TxContext<'b, 'a, R>,
        signer: PartyId,
        op: &'static str,
        tx: TxHash,
    ) -> Self {
        Work {
            ctx,
            signer,
            op,
            tx,
            entities: ObjectMap::default(),
            dirty: ObjectSet::default(),
            lots: HashMap::new(),
            products: HashMap::new(),
        }
    }

    fn entry(&self, step: Step, party: Option<PartyId>, container: Option<Sscc>) -> HistoryEntry {
        HistoryEntry {
            step,
            by: self.signer,
            party,
            container,
            height: self.ctx.env().height,
            time_ms: self.ctx.env().time_ms,
            tx: self.tx,
        }
    }

    async fn load(&mut self, object: &Object) -> Result<Option<&mut Entity>, TxError> {
        if !self.entities.contains_key(object) {
            let key = object_key(object);
            let entity = match self.ctx.get(&key).await? {
                Some(bytes) => Some(decode_entity(object, &key, bytes)?),
                None => None,
            };
            self.entities.insert(object.clone(), entity);
        }
        Ok(self.entities.get_mut(object).and_then(Option::as_mut))
    }

    /// Reads the objects not read yet all at once, which costs the store far less than one
    /// read each (an operation names up to thousands).
    async fn preload<'o>(
        &mut self,
        objects: impl IntoIterator<Item = &'o Object>,
    ) -> Result<(), TxError> {
        let missing: Vec<&Object> = objects
            .into_iter()
            .filter(|object| !self.entities.contains_key(*object))
            .collect();
        if missing.len() < 2 {
            return Ok(());
        }
        let keys: Vec<Vec<u8>> = missing.iter().map(|object| object_key(object)).collect();
        let refs: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let values = self.ctx.get_many(&refs).await?;
        for ((object, key), value) in missing.into_iter().zip(&keys).zip(values) {
            let entity = match value {
                None => None,
                Some(bytes) => Some(decode_entity(object, key, bytes)?),
            };
            self.entities.insert(object.clone(), entity);
        }
        Ok(())
    }

    /// [`Self::preload`] for the objects an operation names.
    async fn preload_named(&mut self, objects: &Objects) -> Result<(), TxError> {
        let objects: Vec<Object> = objects.iter().collect();
        self.preload(&objects).await
    }

    async fn lot(&mut self, gtin: &Gtin, lot: &str) -> Result<Option<&mut Lot>, TxError> {
        let id = (*gtin, lot.to_string());
        if !self.lots.contains_key(&id) {
            let found = self.ctx.get_decoded::<Lot>(&lot_key(gtin, lot)).await?;
            self.lots.insert(id.clone(), found);
        }
        Ok(self.lots.get_mut(&id).and_then(Option::as_mut))
    }

    async fn product(&mut self, gtin: &Gtin) -> Result<Option<&mut Product>, TxError> {
        if !self.products.contains_key(gtin) {
            let found = self.ctx.get_decoded::<Product>(&product_key(gtin)).await?;
            self.products.insert(*gtin, found);
        }
        Ok(self.products.get_mut(gtin).and_then(Option::as_mut))
    }

    /// The manufacturer of a unit's product, for alerts.
    async fn manufacturer_of(&mut self, object: &Object) -> Result<Option<PartyId>, TxError> {
        match object {
            Object::Unit { gtin, .. } => Ok(self.product(gtin).await?.map(|p| p.manufacturer)),
            Object::Container { .. } => Ok(None),
        }
    }

    fn mark(&mut self, object: &Object) {
        if !self.dirty.contains(object) {
            self.dirty.insert(object.clone());
        }
    }

    /// Appends a history entry to an object, refusing once its history is full.
    async fn record(&mut self, object: &Object, entry: HistoryEntry) -> Result<(), TxError> {
        let entity = self.load(object).await?.expect("loaded by the caller");
        let history = &mut entity.tracking_mut().history;
        if history.len() >= HISTORY_MAX {
            return Err(refused(
                "history_full",
                format!("{object} has {HISTORY_MAX} history entries, the most one object keeps"),
            ));
        }
        history.push(entry);
        self.mark(object);
        Ok(())
    }

    /// The object, which must exist; an unknown serial raises an alert.
    async fn existing(&mut self, object: &Object) -> Result<&mut Entity, TxError> {
        if self.load(object).await?.is_none() {
            let manufacturer = self.manufacturer_of(object).await?;
            return Err(match object {
                Object::Unit { .. } => violation(
                    AlertKind::UnknownSerial,
                    self.op,
                    object,
                    manufacturer,
                    format!("{object} was never commissioned"),
                ),
                Object::Container { .. } => {
                    refused("unknown_container", format!("{object} was never packed"))
                }
            });
        }
        Ok(self.load(object).await?.expect("just checked"))
    }

    /// The outermost container holding an object (or the object itself), with its custodian
    /// and shipment.
    async fn root(
        &mut self,
        object: &Object,
    ) -> Result<(Object, PartyId, Option<Hash32>), TxError> {
        let mut current = object.clone();
        for _ in 0..=NESTING_MAX {
            let entity = self.existing(&current).await?;
            let tracking = entity.tracking();
            match tracking.parent {
                None => return Ok((current, tracking.custodian, tracking.shipment)),
                Some(parent) => current = Object::Container { sscc: parent },
            }
        }
        Err(refused(
            "nesting_too_deep",
            format!("{object} is nested more than {NESTING_MAX} containers deep"),
        ))
    }

    /// Refuses unless the signer holds the object (through its outermost container) and it
    /// is not on its way elsewhere; returns the outermost container (or the object).
    async fn require_holder(&mut self, object: &Object) -> Result<Object, TxError> {
        let (root, custodian, shipment) = self.root(object).await?;
        if custodian != self.signer
            && let Some(id) = shipment
            && self
                .ctx
                .get_decoded::<Shipment>(&shipment_key(&id))
                .await?
                .is_some_and(|s| s.to == self.signer)
        {
            // On its way to the signer: a step taken too early, not a sign of diversion.
            return Err(refused(
                "not_received",
                format!(
                    "{object} is on its way to {} (shipment {id}); receive it first",
                    self.signer
                ),
            ));
        }
        if custodian != self.signer {
            let manufacturer = self.manufacturer_of(object).await?;
            return Err(violation(
                AlertKind::NotCustodian,
                self.op,
                object,
                manufacturer,
                format!("{object} is held by {custodian}, not by {}", self.signer),
            ));
        }
        if let Some(id) = shipment {
            return Err(refused(
                "in_transit",
                format!("{object} is in transit (shipment {id}); it moves again once received"),
            ));
        }
        Ok(root)
    }

    /// Refuses a unit that is out of the chain, recalled, expired or flagged (for dispensing
    /// and moving on), each with an alert.
    async fn require_fit(&mut self, object: &Object, allow_recalled: bool) -> Result<(), TxError> {
        let manufacturer = self.manufacturer_of(object).await?;
        let entity = self.existing(object).await?;
        if let Some(why) = entity.out_of_chain() {
            return Err(violation(
                AlertKind::AlreadyOut,
                self.op,
                object,
                manufacturer,
                format!("{object} {why}"),
            ));
        }
        if let Some(flag @ (FlagKind::Suspect | FlagKind::Illegitimate)) = entity.tracking().flag
            && !allow_recalled
        {
            let flag = flag.name();
            return Err(violation(
                AlertKind::Flagged,
                self.op,
                object,
                manufacturer,
                format!("{object} is flagged {flag}; it stays where it is until cleared"),
            ));
        }
        let lots: Vec<LotRef> = match entity {
            Entity::Unit(unit) => vec![LotRef {
                gtin: unit.gtin,
                lot: unit.lot.clone(),
            }],
            Entity::Container(container) => container.lots.clone(),
        };
        if allow_recalled {
            return Ok(());
        }
        let today = Date::of_ms(self.ctx.env().time_ms);
        let op = self.op;
        for LotRef { gtin, lot: number } in lots {
            let Some(lot) = self.lot(&gtin, &number).await? else {
                return Err(refused(
                    "corrupt",
                    format!("{object} names lot {number} of GTIN {gtin}, which is missing"),
                ));
            };
            let inside = if matches!(object, Object::Container { .. }) {
                format!("{object} holds units of lot {number} of GTIN {gtin}, which")
            } else {
                format!("{object} is in lot {number}, which")
            };
            if let Some(recall) = &lot.recall {
                return Err(violation(
                    AlertKind::Recalled,
                    op,
                    object,
                    manufacturer.or(Some(lot.manufacturer)),
                    format!("{inside} is recalled: {}", recall.reason),
                ));
            }
            if lot.expiry < today {
                return Err(violation(
                    AlertKind::Expired,
                    op,
                    object,
                    manufacturer.or(Some(lot.manufacturer)),
                    format!("{inside} expired on {}", lot.expiry),
                ));
            }
        }
        Ok(())
    }

    /// The lots of an object: a unit's own, a container's contents'.
    async fn lots_of(&mut self, object: &Object) -> Result<Vec<LotRef>, TxError> {
        Ok(match self.existing(object).await? {
            Entity::Unit(unit) => vec![LotRef {
                gtin: unit.gtin,
                lot: unit.lot.clone(),
            }],
            Entity::Container(container) => container.lots.clone(),
        })
    }

    /// Adds lots to a container's, refusing past [`CONTAINER_LOTS_MAX`].
    async fn add_lots(&mut self, sscc: Sscc, lots: &[LotRef]) -> Result<(), TxError> {
        let object = Object::Container { sscc };
        if let Entity::Container(container) = self.existing(&object).await? {
            let before = container.lots.len();
            container.lots.extend(lots.iter().cloned());
            container.lots.sort();
            container.lots.dedup();
            if container.lots.len() > CONTAINER_LOTS_MAX {
                return Err(refused(
                    "too_many_lots",
                    format!(
                        "container {sscc} would hold units of more than {CONTAINER_LOTS_MAX} lots"
                    ),
                ));
            }
            if container.lots.len() != before {
                self.mark(&object);
            }
        }
        Ok(())
    }

    /// Writes every changed object, lot and product (in any order: a transaction's writes are
    /// kept sorted by key).
    fn flush(self) {
        for object in self.dirty {
            if let Some(Some(entity)) = self.entities.get(&object) {
                self.ctx.put(object_key(&object), entity.encode());
            }
        }
        for ((gtin, lot), value) in self.lots {
            if let Some(value) = value {
                self.ctx.put_encoded(lot_key(&gtin, &lot), &value);
            }
        }
        for (gtin, value) in self.products {
            if let Some(value) = value {
                self.ctx.put_encoded(product_key(&gtin), &value);
            }
        }
    }
}

fn trading_partner(party: &Party) -> bool {
    party.roles.contains(Role::Manufacturer)
        || party.roles.contains(Role::Distributor)
        || party.roles.contains(Role::Dispenser)
}

/// Checks the signer's role for `op` and the credential policy (`supply_<op>`).
async fn authorise<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
    signer: &Party,
    op: &SupplyOp,
) -> Result<(), TxError> {
    use Role::{Dispenser, Distributor, Manufacturer, Regulator};
    let name = op.name();
    let (roles, needed): (&[Role], &str) = match op {
        SupplyOp::Commission(_) | SupplyOp::Transform(_) => {
            (&[Manufacturer], "the manufacturer role")
        }
        SupplyOp::Dispense(_) => (&[Dispenser], "the dispenser role"),
        SupplyOp::Recall(_) | SupplyOp::Flag(_) => (
            &[Manufacturer, Regulator],
            "the manufacturer or regulator role",
        ),
        SupplyOp::Pack(_)
        | SupplyOp::Unpack(_)
        | SupplyOp::Ship(_)
        | SupplyOp::Receive(_)
        | SupplyOp::Decommission(_) => (
            &[Manufacturer, Distributor, Dispenser],
            "a trading-partner role (manufacturer, distributor or dispenser)",
        ),
    };
    if !roles.iter().any(|role| signer.roles.contains(*role)) {
        return Err(refused(
            "missing_role",
            format!("{} lacks {needed}, needed to {name}", signer.id),
        ));
    }
    credentials::require(ctx, name, &signer.id).await
}

fn check_event_time<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
    meta: &EventMeta,
) -> Result<(), TxError> {
    let limit = ctx.env().time_ms.saturating_add(EVENT_TIME_SKEW_MS);
    if meta.event_time_ms > limit {
        return Err(refused(
            "event_in_future",
            format!(
                "the event time {} is after the block time {} (plus {} minutes of clock skew)",
                medchain_types::time::rfc3339(meta.event_time_ms),
                medchain_types::time::rfc3339(ctx.env().time_ms),
                EVENT_TIME_SKEW_MS / 60_000
            ),
        ));
    }
    Ok(())
}

/// Applies a supply-chain operation.
pub async fn apply<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    op: &SupplyOp,
    tx: TxHash,
) -> Result<(), TxError> {
    let party = ctx.party(&signer).await?;
    authorise(ctx, &party, op).await?;
    check_event_time(ctx, op.meta())?;
    let is_regulator = party.roles.contains(Role::Regulator);
    let mut work = Work::new(ctx, signer, op.name(), tx);
    let (objects, subject) = match op {
        SupplyOp::Commission(c) => commission(&mut work, c).await?,
        SupplyOp::Pack(p) => pack(&mut work, p).await?,
        SupplyOp::Unpack(u) => unpack(&mut work, u).await?,
        SupplyOp::Ship(s) => ship(&mut work, s).await?,
        SupplyOp::Receive(r) => receive(&mut work, r).await?,
        SupplyOp::Dispense(d) => dispense(&mut work, d).await?,
        SupplyOp::Decommission(d) => decommission(&mut work, d).await?,
        SupplyOp::Recall(r) => recall(&mut work, r, is_regulator).await?,
        SupplyOp::Transform(t) => transform(&mut work, t).await?,
        SupplyOp::Flag(f) => flag(&mut work, f, is_regulator).await?,
    };
    work.flush();
    index(ctx, op, tx).await?;
    ctx.emit(Event::SupplyStep {
        op: op.name().to_string(),
        actor: signer,
        objects: objects as u32,
        subject: truncate(subject, SUPPLY_SUBJECT_BYTES_MAX),
    });
    Ok(())
}

/// Lists the event for EPCIS queries: under the day of its event time, and under the lots it
/// names (the lot it commissions or makes, the lot it recalls).
async fn index<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    op: &SupplyOp,
    tx: TxHash,
) -> Result<(), TxError> {
    let event_time_ms = op.meta().event_time_ms;
    let entry = EventRef {
        tx,
        height: ctx.env().height,
        event_time_ms,
    }
    .encode()
    .to_vec();
    let day = day_owner(event_day(event_time_ms));
    lists::push(ctx, names::EVENT_DAYS, &day, entry.clone()).await?;
    let lots: Vec<(Gtin, &str)> = match op {
        SupplyOp::Commission(c) => c.units.iter().map(|g| (g.gtin, c.lot.as_str())).collect(),
        SupplyOp::Transform(t) => t.outputs.iter().map(|g| (g.gtin, t.lot.as_str())).collect(),
        SupplyOp::Recall(r) => vec![(r.gtin, r.lot.as_str())],
        _ => Vec::new(),
    };
    for (gtin, lot) in lots {
        lists::push(
            ctx,
            names::LOT_EVENTS,
            &lot_owner(&gtin, lot),
            entry.clone(),
        )
        .await?;
    }
    Ok(())
}

/// Creates the units of `groups` in `lot`, held by the signer, for commissioning and
/// transformation; with `into`, already inside that container (which the caller packs them
/// into), their one history entry saying so.
async fn create_units<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    groups: &[UnitGroup],
    lot_number: &str,
    expiry: Date,
    made_by: Option<TxHash>,
    into: Option<Sscc>,
) -> Result<usize, TxError> {
    let signer = work.signer;
    let today = Date::of_ms(work.ctx.env().time_ms);
    if expiry < today {
        return Err(refused(
            "lot_expired",
            format!(
                "lot {lot_number} expires on {expiry}, before the block's date {today}: no unit \
                 is made into stock that has already expired"
            ),
        ));
    }
    let mut count = 0;
    for group in groups {
        let gtin = group.gtin;
        match work.product(&gtin).await? {
            Some(product) if product.manufacturer != signer => {
                let owner = product.manufacturer;
                let object = first_unit(group);
                return Err(violation(
                    AlertKind::DuplicateCommission,
                    work.op,
                    &object,
                    Some(owner),
                    format!(
                        "GTIN {gtin} belongs to manufacturer {owner}; {signer} may not commission it"
                    ),
                ));
            }
            Some(_) => {}
            None => {
                work.products.insert(
                    gtin,
                    Some(Product {
                        gtin,
                        manufacturer: signer,
                        units: 0,
                    }),
                );
            }
        }
        match work.lot(&gtin, lot_number).await? {
            Some(lot) if lot.manufacturer != signer => {
                return Err(refused(
                    "lot_taken",
                    format!(
                        "lot {lot_number} of GTIN {gtin} belongs to {}",
                        lot.manufacturer
                    ),
                ));
            }
            Some(lot) if lot.expiry != expiry => {
                return Err(refused(
                    "lot_expiry",
                    format!(
                        "lot {lot_number} of GTIN {gtin} expires on {}, not {expiry}",
                        lot.expiry
                    ),
                ));
            }
            Some(lot) if lot.recall.is_some() => {
                return Err(refused(
                    "lot_recalled",
                    format!("lot {lot_number} of GTIN {gtin} is recalled; no more units join it"),
                ));
            }
            Some(_) => {}
            None => {
                work.lots.insert(
                    (gtin, lot_number.to_string()),
                    Some(Lot {
                        gtin,
                        lot: lot_number.to_string(),
                        manufacturer: signer,
                        expiry,
                        units: 0,
                        recall: None,
                    }),
                );
            }
        }
        let entry = work.entry(Step::Commissioned, None, into);
        let mut tracking = Tracking::new(signer, entry);
        tracking.parent = into;
        let mut made = 0u64;
        work.entities.reserve(group.serials.len());
        work.dirty.reserve(group.serials.len());
        let objects: Vec<Object> = group
            .serials
            .iter()
            .map(|serial| Object::Unit { gtin, serial })
            .collect();
        work.preload(&objects).await?;
        for object in objects {
            let Object::Unit { serial, .. } = &object else {
                unreachable!("built as units above")
            };
            let serial = serial.clone();
            if work.load(&object).await?.is_some() {
                return Err(violation(
                    AlertKind::DuplicateCommission,
                    work.op,
                    &object,
                    Some(signer),
                    format!("{object} was already commissioned"),
                ));
            }
            work.entities.insert(
                object.clone(),
                Some(Entity::Unit(Unit {
                    gtin,
                    serial,
                    lot: lot_number.to_string(),
                    status: UnitStatus::Active,
                    tracking: tracking.clone(),
                    made_by,
                    consumed_by: None,
                })),
            );
            work.mark(&object);
            made += 1;
        }
        count += made as usize;
        if let Some(product) = work.product(&gtin).await? {
            product.units += made;
        }
        let first = match work.lot(&gtin, lot_number).await? {
            Some(lot) => {
                let first = lot.units;
                lot.units += made;
                first
            }
            None => 0,
        };
        let batch = LotBatch {
            first,
            serials: group.serials.clone(),
        };
        lists::push(
            work.ctx,
            names::LOT_BATCHES,
            &lot_owner(&gtin, lot_number),
            batch.encode().to_vec(),
        )
        .await?;
    }
    Ok(count)
}

fn first_unit(group: &UnitGroup) -> Object {
    Object::Unit {
        gtin: group.gtin,
        serial: group.serials.iter().next().unwrap_or_default(),
    }
}

async fn commission<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    op: &Commission,
) -> Result<(usize, String), TxError> {
    let count = create_units(work, &op.units, &op.lot, op.expiry, None, op.into).await?;
    if let Some(parent) = op.into {
        let children = Objects::units(op.units.clone());
        put_into(work, parent, &children, Some(&op.lot)).await?;
    }
    let subject = match op.units.as_slice() {
        [group] => format!("{}/{}", group.gtin, op.lot),
        _ => op.lot.clone(),
    };
    Ok((count, subject))
}

/// Creates or checks a container the signer packs into.
async fn open_container<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    sscc: Sscc,
) -> Result<(), TxError> {
    let object = Object::Container { sscc };
    if work.load(&object).await?.is_none() {
        let entry = work.entry(Step::Packed, None, None);
        work.entities.insert(
            object.clone(),
            Some(Entity::Container(Container {
                sscc,
                packed_by: work.signer,
                status: ContainerStatus::Active,
                tracking: Tracking::new(work.signer, entry),
                contents: 0,
                packed: 0,
                lots: Vec::new(),
            })),
        );
        work.mark(&object);
        return Ok(());
    }
    work.require_holder(&object).await?;
    let entity = work.existing(&object).await?;
    if let Some(why) = entity.out_of_chain() {
        return Err(refused("container_out", format!("{object} {why}")));
    }
    Ok(())
}

/// Packs `children` (each held by the signer and loose) into `parent`. `commissioned_in`
/// names the lot of units this operation has just commissioned into `parent` (held by the
/// signer, in no other container, fit, their one history entry already naming `parent`):
/// only the container's side is left to do.
async fn put_into<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    parent: Sscc,
    children: &Objects,
    commissioned_in: Option<&str>,
) -> Result<usize, TxError> {
    open_container(work, parent).await?;
    let count = children.len();
    let container = Object::Container { sscc: parent };
    let packed_before = match work.existing(&container).await? {
        Entity::Container(c) => c.packed,
        Entity::Unit(_) => 0,
    };
    if packed_before as usize + count > CONTAINER_PACKINGS_MAX {
        return Err(refused(
            "container_full",
            format!(
                "container {parent} has had {packed_before} objects packed in it; at most {CONTAINER_PACKINGS_MAX} ever are (an SSCC names one logistic unit: use a new SSCC)"
            ),
        ));
    }
    // A container may not go inside itself, however deep.
    let mut ancestor = Some(parent);
    let mut ancestors = Vec::new();
    while let Some(sscc) = ancestor {
        if ancestors.len() > NESTING_MAX {
            return Err(refused(
                "nesting_too_deep",
                format!("packing into {parent} would nest more than {NESTING_MAX} deep"),
            ));
        }
        ancestors.push(sscc);
        ancestor = work
            .existing(&Object::Container { sscc })
            .await?
            .tracking()
            .parent;
    }
    let mut lots: BTreeSet<LotRef> = BTreeSet::new();
    match commissioned_in {
        Some(lot) => lots.extend(children.units.iter().map(|group| LotRef {
            gtin: group.gtin,
            lot: lot.to_string(),
        })),
        None => pack_children(work, parent, children, &ancestors, &mut lots).await?,
    }
    // One list item per packing: the objects as the operation names them.
    lists::push(
        work.ctx,
        names::CONTENTS,
        &contents_owner(&parent),
        children.encode().to_vec(),
    )
    .await?;
    if let Entity::Container(c) = work.existing(&container).await? {
        c.contents += count as u64;
        c.packed += count as u64;
    }
    work.mark(&container);
    let lots: Vec<LotRef> = lots.into_iter().collect();
    for sscc in ancestors {
        work.add_lots(sscc, &lots).await?;
    }
    Ok(count)
}

/// The checks and steps of packing objects that already exist into `parent`.
async fn pack_children<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    parent: Sscc,
    children: &Objects,
    ancestors: &[Sscc],
    lots: &mut BTreeSet<LotRef>,
) -> Result<(), TxError> {
    work.preload_named(children).await?;
    let entry = work.entry(Step::Packed, None, Some(parent));
    for child in children.iter() {
        if let Object::Container { sscc } = &child
            && ancestors.contains(sscc)
        {
            return Err(refused(
                "container_cycle",
                format!("{child} holds container {parent}; it cannot go inside it"),
            ));
        }
        let entity = work.existing(&child).await?;
        if let Some(holder) = entity.tracking().parent {
            return Err(refused(
                "already_packed",
                format!("{child} is packed in container {holder}; unpack it first"),
            ));
        }
        work.require_holder(&child).await?;
        work.require_fit(&child, true).await?;
        lots.extend(work.lots_of(&child).await?);
        let entity = work.existing(&child).await?;
        entity.tracking_mut().parent = Some(parent);
        work.record(&child, entry.clone()).await?;
    }
    Ok(())
}

async fn pack<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    op: &Pack,
) -> Result<(usize, String), TxError> {
    let count = put_into(work, op.parent, &op.children, None).await?;
    Ok((count, op.parent.to_string()))
}

/// Every object whose parent is `sscc` now.
async fn contents_of<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    sscc: &Sscc,
) -> Result<Vec<Object>, TxError> {
    let owner = contents_owner(sscc);
    let len = lists::len(work.ctx, names::CONTENTS, &owner).await?;
    let (mut found, mut seen) = (Vec::new(), HashSet::new());
    for seq in 0..len {
        let key = lists::item_key(names::CONTENTS, &owner, seq);
        let Some(packing) = work.ctx.get_decoded::<Objects>(&key).await? else {
            continue;
        };
        for child in packing.iter() {
            // The list keeps every packing, so a repacked object is listed more than once.
            if work.existing(&child).await?.tracking().parent == Some(*sscc)
                && seen.insert(child.clone())
            {
                found.push(child);
            }
        }
    }
    Ok(found)
}

/// Takes `child` out of its container `parent`, into the signer's hands.
async fn take_out<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    parent: Sscc,
    child: &Object,
) -> Result<(), TxError> {
    let signer = work.signer;
    let entity = work.existing(child).await?;
    let tracking = entity.tracking_mut();
    tracking.parent = None;
    tracking.custodian = signer;
    let entry = work.entry(Step::Unpacked, None, Some(parent));
    work.record(child, entry).await?;
    let container = Object::Container { sscc: parent };
    if let Entity::Container(c) = work.existing(&container).await? {
        c.contents = c.contents.saturating_sub(1);
    }
    work.mark(&container);
    Ok(())
}

async fn unpack<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    op: &Unpack,
) -> Result<(usize, String), TxError> {
    let container = Object::Container { sscc: op.parent };
    work.require_holder(&container).await?;
    let children: Vec<Object> = match &op.children {
        Some(children) => {
            let listed: Vec<Object> = children.iter().collect();
            for child in &listed {
                if work.existing(child).await?.tracking().parent != Some(op.parent) {
                    return Err(refused(
                        "not_in_container",
                        format!("{child} is not in container {}", op.parent),
                    ));
                }
            }
            listed
        }
        None => contents_of(work, &op.parent).await?,
    };
    for child in &children {
        take_out(work, op.parent, child).await?;
    }
    // What is left decides the lots, here and in the containers around it.
    let mut level = Some(op.parent);
    while let Some(sscc) = level {
        let mut lots = Vec::new();
        for child in contents_of(work, &sscc).await? {
            lots.extend(work.lots_of(&child).await?);
        }
        lots.sort();
        lots.dedup();
        let object = Object::Container { sscc };
        let entity = work.existing(&object).await?;
        level = entity.tracking().parent;
        if let Entity::Container(container) = entity
            && container.lots != lots
        {
            container.lots = lots;
            work.mark(&object);
        }
    }
    Ok((children.len(), op.parent.to_string()))
}

async fn ship<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    op: &Ship,
) -> Result<(usize, String), TxError> {
    if op.to == work.signer {
        return Err(refused(
            "ship_to_self",
            "a shipment goes to another party".into(),
        ));
    }
    let receiver = work.ctx.party(&op.to).await?;
    if !trading_partner(&receiver) && !receiver.roles.contains(Role::Regulator) {
        return Err(refused(
            "not_trading_partner",
            format!(
                "{} is not a trading partner (manufacturer, distributor or dispenser)",
                op.to
            ),
        ));
    }
    let id = shipment_id(&work.tx);
    let entry = work.entry(Step::Shipped, Some(op.to), None);
    let mut count = 0u64;
    work.preload_named(&op.objects).await?;
    for object in op.objects.iter() {
        let root = work.require_holder(&object).await?;
        if root != object {
            return Err(refused(
                "packed",
                format!("{object} is packed in {root}; ship {root}, or unpack it first"),
            ));
        }
        // Recalled, expired or flagged goods go only back, as a return.
        work.require_fit(&object, op.is_return).await?;
        work.existing(&object).await?.tracking_mut().shipment = Some(id);
        work.record(&object, entry.clone()).await?;
        count += 1;
    }
    let shipment = Shipment {
        id,
        from: work.signer,
        to: op.to,
        is_return: op.is_return,
        objects: count,
        received: 0,
        height: work.ctx.env().height,
        time_ms: work.ctx.env().time_ms,
        tx: work.tx,
    };
    work.ctx.put_encoded(shipment_key(&id), &shipment);
    Ok((count as usize, id.to_hex()))
}

async fn receive<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    op: &Receive,
) -> Result<(usize, String), TxError> {
    let signer = work.signer;
    let mut shipments: HashMap<Hash32, Shipment> = HashMap::new();
    work.preload_named(&op.objects).await?;
    for object in op.objects.iter() {
        let manufacturer = work.manufacturer_of(&object).await?;
        let entity = work.existing(&object).await?;
        let Some(id) = entity.tracking().shipment else {
            return Err(violation(
                AlertKind::WrongReceiver,
                work.op,
                &object,
                manufacturer,
                format!("{object} was not shipped to {signer} (it is in no shipment)"),
            ));
        };
        let shipment = match shipments.entry(id) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let shipment = work
                    .ctx
                    .get_decoded::<Shipment>(&shipment_key(&id))
                    .await?
                    .ok_or_else(|| refused("corrupt", format!("shipment {id} is missing")))?;
                entry.insert(shipment)
            }
        };
        if shipment.to != signer {
            return Err(violation(
                AlertKind::WrongReceiver,
                work.op,
                &object,
                manufacturer,
                format!("{object} was shipped to {}, not to {signer}", shipment.to),
            ));
        }
        shipment.received += 1;
        let from = shipment.from;
        let entity = work.existing(&object).await?;
        let tracking = entity.tracking_mut();
        tracking.shipment = None;
        tracking.custodian = signer;
        let entry = work.entry(Step::Received, Some(from), None);
        work.record(&object, entry).await?;
    }
    let subject = match shipments.keys().next() {
        Some(id) if shipments.len() == 1 => id.to_hex(),
        _ => format!("{} shipments", shipments.len()),
    };
    for (id, shipment) in shipments {
        work.ctx.put_encoded(shipment_key(&id), &shipment);
    }
    Ok((op.objects.len(), subject))
}

/// How long a dispenser's second dispensing of a pack it dispensed itself is taken for a
/// repeated scan rather than a sign of a copied serial: ten days, the window in which the EU
/// Falsified Medicines Directive lets the same person at the same premises undo a pack's
/// decommissioning (Commission Delegated Regulation (EU) 2016/161, Article 13(1)(b)).
pub const REDISPENSE_WINDOW_MS: u64 = 10 * 24 * 60 * 60 * 1000;

/// When `unit` was dispensed by `dispenser` within [`REDISPENSE_WINDOW_MS`] of `now_ms`: that
/// dispensing's history entry.
fn dispensed_by(unit: &Unit, dispenser: &PartyId, now_ms: u64) -> Option<HistoryEntry> {
    if unit.status != UnitStatus::Dispensed {
        return None;
    }
    let last = unit
        .tracking
        .history
        .iter()
        .rev()
        .find(|entry| entry.step == Step::Dispensed)?;
    (last.by == *dispenser && now_ms.saturating_sub(last.time_ms) <= REDISPENSE_WINDOW_MS)
        .then(|| last.clone())
}

/// Dispensing: each unit must be held by the dispenser, in the chain and fit (not recalled,
/// expired or flagged). A unit still packed in a case leaves it, as GS1 practice has a unit
/// leave its container when dispensed: its history says it was unpacked, then dispensed, and
/// from then on it has one custodian of its own, the dispenser. A pack the same dispenser
/// dispensed within [`REDISPENSE_WINDOW_MS`] is a repeated scan: refused as
/// `already_dispensed` with when, and no alert.
async fn dispense<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    op: &Dispense,
) -> Result<(usize, String), TxError> {
    let objects: Vec<Object> = unit_objects(&op.units).collect();
    let entry = work.entry(Step::Dispensed, None, None);
    work.preload(&objects).await?;
    let (signer, now_ms) = (work.signer, work.ctx.env().time_ms);
    for object in &objects {
        if let Some(Entity::Unit(unit)) = work.load(object).await?
            && let Some(before) = dispensed_by(unit, &signer, now_ms)
        {
            return Err(refused(
                "already_dispensed",
                format!(
                    "{object} was already dispensed by you at {} (transaction {}); a repeated scan changes nothing and raises no alert",
                    medchain_types::time::rfc3339(before.time_ms),
                    before.tx
                ),
            ));
        }
    }
    for object in &objects {
        let object = object.clone();
        work.require_fit(&object, false).await?;
        work.require_holder(&object).await?;
        if let Some(parent) = work.existing(&object).await?.tracking().parent {
            take_out(work, parent, &object).await?;
        }
        if let Entity::Unit(unit) = work.existing(&object).await? {
            unit.status = UnitStatus::Dispensed;
        }
        work.record(&object, entry.clone()).await?;
    }
    let subject = match objects.as_slice() {
        [Object::Unit { gtin, serial }] => format!("{gtin}/{serial}"),
        _ => String::new(),
    };
    Ok((objects.len(), subject))
}

/// Every object inside `sscc`, at any depth.
async fn descendants<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    sscc: Sscc,
) -> Result<Vec<Object>, TxError> {
    let mut found = Vec::new();
    let mut queue = vec![sscc];
    while let Some(next) = queue.pop() {
        for child in contents_of(work, &next).await? {
            if let Object::Container { sscc } = &child {
                queue.push(*sscc);
            }
            found.push(child);
            if found.len() > REACH_MAX {
                return Err(refused(
                    "too_many_objects",
                    format!("container {sscc} holds more than {REACH_MAX} objects"),
                ));
            }
        }
    }
    Ok(found)
}

async fn decommission<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    op: &Decommission,
) -> Result<(usize, String), TxError> {
    let entry = work.entry(Step::Decommissioned, None, None);
    let mut count = 0;
    work.preload_named(&op.objects).await?;
    for object in op.objects.iter() {
        work.require_holder(&object).await?;
        let manufacturer = work.manufacturer_of(&object).await?;
        if let Some(why) = work.existing(&object).await?.out_of_chain() {
            return Err(violation(
                AlertKind::AlreadyOut,
                work.op,
                &object,
                manufacturer,
                format!("{object} {why}"),
            ));
        }
        let mut reach = vec![object.clone()];
        if let Object::Container { sscc } = &object {
            reach.extend(descendants(work, *sscc).await?);
        }
        for item in reach {
            match work.existing(&item).await? {
                Entity::Unit(unit) => {
                    if unit.status != UnitStatus::Active {
                        continue;
                    }
                    unit.status = UnitStatus::Decommissioned { reason: op.reason };
                }
                Entity::Container(container) => {
                    container.status = ContainerStatus::Decommissioned;
                }
            }
            work.record(&item, entry.clone()).await?;
            count += 1;
        }
    }
    Ok((count, op.reason.name().to_string()))
}

async fn recall<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    op: &Recall,
    is_regulator: bool,
) -> Result<(usize, String), TxError> {
    let signer = work.signer;
    let notice = RecallNotice {
        by: signer,
        reason: op.reason.clone(),
        height: work.ctx.env().height,
        time_ms: work.ctx.env().time_ms,
        tx: work.tx,
    };
    let Some(lot) = work.lot(&op.gtin, &op.lot).await? else {
        return Err(refused(
            "unknown_lot",
            format!("lot {} of GTIN {} was never commissioned", op.lot, op.gtin),
        ));
    };
    if lot.manufacturer != signer && !is_regulator {
        return Err(refused(
            "not_manufacturer",
            format!(
                "lot {} of GTIN {} is {}'s; only its manufacturer or a regulator recalls it",
                op.lot, op.gtin, lot.manufacturer
            ),
        ));
    }
    if lot.recall.is_some() {
        return Err(refused(
            "already_recalled",
            format!("lot {} of GTIN {} is already recalled", op.lot, op.gtin),
        ));
    }
    lot.recall = Some(notice);
    let units = lot.units as usize;
    Ok((units, format!("{}/{}", op.gtin, op.lot)))
}

async fn transform<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    op: &Transform,
) -> Result<(usize, String), TxError> {
    let inputs: Vec<Object> = unit_objects(&op.inputs).collect();
    let entry = work.entry(Step::Transformed, None, None);
    for input in &inputs {
        work.require_holder(input).await?;
        work.require_fit(input, false).await?;
        if let Some(parent) = work.existing(input).await?.tracking().parent {
            take_out(work, parent, input).await?;
        }
        let tx = work.tx;
        if let Entity::Unit(unit) = work.existing(input).await? {
            unit.status = UnitStatus::Consumed;
            unit.consumed_by = Some(tx);
        }
        work.record(input, entry.clone()).await?;
    }
    let outputs = create_units(work, &op.outputs, &op.lot, op.expiry, Some(work.tx), None).await?;
    let record = Transformation {
        tx: work.tx,
        by: work.signer,
        inputs,
        outputs: outputs as u64,
        lot: op.lot.clone(),
        height: work.ctx.env().height,
        time_ms: work.ctx.env().time_ms,
    };
    work.ctx.put_encoded(transformation_key(&work.tx), &record);
    Ok((outputs, work.tx.to_hex()))
}

async fn flag<R: StateRead>(
    work: &mut Work<'_, '_, '_, R>,
    op: &Flag,
    is_regulator: bool,
) -> Result<(usize, String), TxError> {
    let signer = work.signer;
    let entry = work.entry(Step::Flagged, None, None);
    let note = FlagNote {
        kind: op.flag,
        by: Some(signer),
        alert: None,
        reason: op.reason.clone(),
        height: entry.height,
        time_ms: entry.time_ms,
        tx: entry.tx,
    };
    let mut count = 0;
    work.preload_named(&op.objects).await?;
    for object in op.objects.iter() {
        let owner = match &object {
            Object::Unit { .. } => work.manufacturer_of(&object).await?,
            Object::Container { .. } => match work.existing(&object).await? {
                Entity::Container(c) => Some(c.packed_by),
                Entity::Unit(_) => None,
            },
        };
        work.existing(&object).await?;
        if !is_regulator && owner != Some(signer) {
            return Err(refused(
                "not_manufacturer",
                format!(
                    "{object} is not {signer}'s product; only its manufacturer or a regulator flags it"
                ),
            ));
        }
        let tracking = work.existing(&object).await?.tracking_mut();
        if op.flag == FlagKind::Cleared && tracking.flag.is_none() {
            return Err(refused(
                "not_flagged",
                format!("{object} is not flagged; there is nothing to clear"),
            ));
        }
        tracking.flag = match op.flag {
            FlagKind::Cleared => None,
            other => Some(other),
        };
        tracking.flag_note = Some(note.clone());
        work.record(&object, entry.clone()).await?;
        count += 1;
    }
    Ok((count, op.flag.name().to_string()))
}

/// Records a suspect-product alert in a denied transaction's emptied context: the alert, in
/// the manufacturer's list and the regulators'; the object flagged suspect (if it exists and
/// is not already flagged); and an event.
pub async fn record_alert<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    actor: PartyId,
    tx: TxHash,
    violation: &Violation,
) -> Result<(), TxError> {
    let alert = Alert {
        kind: violation.kind,
        actor,
        op: violation.op.to_string(),
        object: violation.object.clone(),
        manufacturer: violation.manufacturer,
        reason: truncate(violation.reason.clone(), ALERT_REASON_BYTES_MAX),
        height: ctx.env().height,
        time_ms: ctx.env().time_ms,
        tx,
    };
    let bytes = alert.encode().to_vec();
    let seq = lists::push(ctx, names::ALERTS, &ALERTS_ALL, bytes.clone()).await?;
    if let Some(manufacturer) = violation.manufacturer {
        lists::push(ctx, names::ALERTS, &manufacturer.0, bytes).await?;
    }
    let key = object_key(&violation.object);
    let note = FlagNote {
        kind: FlagKind::Suspect,
        by: None,
        alert: Some(seq),
        reason: alert.reason.clone(),
        height: alert.height,
        time_ms: alert.time_ms,
        tx,
    };
    let flag = |tracking: &mut Tracking| {
        let fresh = tracking.flag.is_none();
        if fresh {
            tracking.flag = Some(FlagKind::Suspect);
            tracking.flag_note = Some(note.clone());
        }
        fresh
    };
    match &violation.object {
        Object::Unit { .. } => {
            if let Some(mut unit) = ctx.get_decoded::<Unit>(&key).await?
                && flag(&mut unit.tracking)
            {
                ctx.put_encoded(key, &unit);
            }
        }
        Object::Container { .. } => {
            if let Some(mut container) = ctx.get_decoded::<Container>(&key).await?
                && flag(&mut container.tracking)
            {
                ctx.put_encoded(key, &container);
            }
        }
    }
    ctx.emit(Event::SuspectProduct {
        alert: seq,
        kind: violation.kind,
        actor,
        object: violation.object.clone(),
        manufacturer: violation.manufacturer,
    });
    Ok(())
}
