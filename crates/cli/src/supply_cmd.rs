//! `medchain verify-pack`: anyone checks a scanned pack; `medchain supply ...`: the supply
//! chain's operations, EPCIS capture and queries, alerts, recall holdings and lineage.

use crate::{
    commands::{NodeUrl, Signer, print_json},
    custodial_cmd::{AnyHolder, load_holder},
};
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use medchain_client::{Client, custodial::Holder, supply};
use medchain_types::{
    PartyId, TxBody, TxHash,
    api::{PackVerdict, TxState, TxStatusResponse},
    gs1::{Gtin, Sscc},
    supply::{
        Commission, Decommission, DecommissionReason, Dispense, EventMeta, Flag, FlagKind, Object,
        Objects, Pack, Recall, Receive, Serials, Ship, SupplyOp, Transform, UnitGroup, Unpack,
    },
    time::Date,
};
use std::path::{Path, PathBuf};

/// `medchain verify-pack`
#[derive(Args)]
pub struct VerifyPackArgs {
    /// What the scanner read: a GS1 element string (FNC1 as the GS character, perhaps after a
    /// symbology identifier such as `]d2`), the human-readable form
    /// (`(01)09521234543213(21)ABC123(17)270531(10)L1`) or a Digital Link URI.
    scan: String,
    #[command(flatten)]
    trust: crate::trust::Trust,
    /// Print the whole answer as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    node: NodeUrl,
}

pub async fn verify_pack(args: VerifyPackArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.node.url);
    let answer = match args.trust.verifier(&args.node.url).await? {
        Some(verifier) => {
            let proven = supply::verify_pack_proven(&client, &verifier, &args.scan)
                .await
                .context("the answer is NOT proven")?;
            crate::trust::remember(&args.trust, &verifier);
            proven_note(&proven);
            proven.answer
        }
        None => client.verify_pack(&args.scan, false).await?,
    };
    if args.json {
        print_json(&answer)?;
        if answer.verdict != PackVerdict::Genuine {
            std::process::exit(crate::EXIT_ANSWER_NO);
        }
        return Ok(());
    }
    let verdict = serde_json::to_value(answer.verdict)?
        .as_str()
        .unwrap_or_default()
        .to_uppercase()
        .replace('_', " ");
    println!("{verdict}");
    for finding in &answer.findings {
        println!("  - {finding}");
    }
    print!("{}", pack_lines(&answer));
    // A verdict other than genuine is an exit status a script can act on.
    if answer.verdict != PackVerdict::Genuine {
        std::process::exit(crate::EXIT_ANSWER_NO);
    }
    Ok(())
}

/// The on-chain hash of a prescription reference: 64 hex digits as they are, anything else
/// hashed ([`medchain_types::supply::prescription_ref`]).
fn prescription_hash(reference: &str) -> anyhow::Result<medchain_types::hash::Hash32> {
    let reference = reference.trim();
    if reference.is_empty() {
        bail!("--prescription is empty: give your prescription reference, or leave it out");
    }
    if reference.len() == 64 && reference.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(reference.parse()?);
    }
    Ok(medchain_types::supply::prescription_ref(reference))
}

/// A pack check's answer after its verdict and findings, for a person: the product, lot and
/// expiry, who holds it and where it is, and the chain of custody, with each party's name on
/// chain before its id.
fn pack_lines(answer: &medchain_types::api::VerifyPackResponse) -> String {
    use std::fmt::Write as _;
    let name = |party: &medchain_types::PartyId| match answer.labels.get(party) {
        Some(label) => format!("{label} ({party})"),
        None => party.to_string(),
    };
    let mut out = String::new();
    if let Some(unit) = &answer.unit {
        let _ = writeln!(out, "pack:      GTIN {} serial {}", unit.gtin, unit.serial);
    }
    if let Some(lot) = &answer.lot {
        let _ = writeln!(out, "lot:       {} (expires {})", lot.lot, lot.expiry);
        let _ = writeln!(out, "made by:   {}", name(&lot.manufacturer));
        if let Some(recall) = &lot.recall {
            let _ = writeln!(
                out,
                "recalled:  {} by {}: {}",
                medchain_types::time::rfc3339(recall.time_ms),
                name(&recall.by),
                recall.reason
            );
        }
    }
    if let Some(container) = &answer.container {
        let _ = writeln!(
            out,
            "container: (00){} holding {} objects",
            container.sscc, container.contents
        );
    }
    if let Some(custodian) = &answer.custodian {
        let _ = writeln!(out, "held by:   {}", name(custodian));
    }
    if let Some(to) = &answer.in_transit_to {
        let _ = writeln!(out, "going to:  {}", name(to));
    }
    for sscc in &answer.containers {
        let _ = writeln!(out, "inside:    (00){sscc}");
    }
    if !answer.custody.is_empty() {
        let _ = writeln!(out, "chain of custody:");
        for step in &answer.custody {
            let with = step
                .entry
                .party
                .map(|p| format!(" with {}", name(&p)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}  {:<14} {}  by {}{with}",
                medchain_types::time::rfc3339(step.entry.time_ms),
                step.entry.step.name(),
                step.object,
                name(&step.entry.by)
            );
        }
    }
    let _ = writeln!(out, "as of block {}", answer.height);
    out
}

/// `medchain supply`: the supply chain from the command line.
#[derive(Subcommand)]
pub enum SupplyCommand {
    /// Commission serialized units of a GTIN in a lot (manufacturer).
    Commission {
        /// The product's GTIN (8, 12, 13 or 14 digits, with its check digit).
        #[arg(long)]
        gtin: Gtin,
        /// Serials, comma-separated.
        #[arg(long, value_delimiter = ',', required_unless_present = "range")]
        serials: Vec<String>,
        /// A numeric range instead: PREFIX:FIRST:COUNT:WIDTH (`A:1:10000:6` is A000001 to
        /// A010000).
        #[arg(long, conflicts_with = "serials")]
        range: Option<String>,
        /// The lot (batch) number, GS1 AI 10: up to 20 characters of GS1's character set 82.
        #[arg(long)]
        lot: String,
        /// The lot's expiry date (YYYY-MM-DD).
        #[arg(long)]
        expiry: String,
        /// Pack them straight into this case (SSCC).
        #[arg(long)]
        into: Option<String>,
        #[command(flatten)]
        common: OpArgs,
    },
    /// Pack units and containers into a case or pallet.
    Pack {
        /// The case or pallet (SSCC).
        #[arg(long)]
        parent: String,
        #[command(flatten)]
        objects: ObjectArgs,
        #[command(flatten)]
        common: OpArgs,
    },
    /// Take objects out of a case or pallet (all of them when none is named).
    Unpack {
        /// The case or pallet (SSCC, 18 digits, or (00)... as scanned).
        #[arg(long)]
        parent: String,
        #[command(flatten)]
        objects: ObjectArgs,
        #[command(flatten)]
        common: OpArgs,
    },
    /// Ship objects to a trading partner (only their custodian can).
    Ship {
        #[command(flatten)]
        objects: ObjectArgs,
        /// The receiver: a party id or `dev:<name>`.
        #[arg(long)]
        to: String,
        /// A return to the sender it came from.
        #[arg(long = "return")]
        is_return: bool,
        #[command(flatten)]
        common: OpArgs,
    },
    /// Receive objects shipped to you.
    Receive {
        #[command(flatten)]
        objects: ObjectArgs,
        #[command(flatten)]
        common: OpArgs,
    },
    /// Dispense packs to a patient (dispenser). A pack you dispensed within the last ten days
    /// is answered "already dispensed by you at <time>" and raises no alert.
    Dispense {
        #[command(flatten)]
        objects: ObjectArgs,
        /// Your prescription reference (an e-prescription id or your system's number). Only its
        /// SHA-256 goes on chain (printed, to keep with your record); 64 hex digits are taken
        /// as that hash already.
        #[arg(long, value_name = "REF")]
        prescription: Option<String>,
        #[command(flatten)]
        common: OpArgs,
    },
    /// Take objects out of the supply chain: destroyed, sample, stolen or other.
    Decommission {
        #[command(flatten)]
        objects: ObjectArgs,
        /// destroyed, sample, stolen or other.
        #[arg(long)]
        reason: DecommissionReason,
        #[command(flatten)]
        common: OpArgs,
    },
    /// Recall a lot, wherever its units are (its manufacturer or a regulator).
    Recall {
        /// The product's GTIN.
        #[arg(long)]
        gtin: Gtin,
        /// The lot number.
        #[arg(long)]
        lot: String,
        /// Why (public on chain: no personal detail).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        common: OpArgs,
    },
    /// Flag objects suspect or illegitimate, or clear them (manufacturer or regulator).
    Flag {
        #[command(flatten)]
        objects: ObjectArgs,
        /// suspect, illegitimate or cleared.
        #[arg(long)]
        kind: FlagKind,
        /// What was found, or why it is cleared (public on chain: no personal detail). Clearing
        /// resolves the alert that flagged it.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        common: OpArgs,
    },
    /// Make new units of a lot from input units, which are consumed (manufacturer).
    Transform {
        /// Input units (repeat), as for --unit.
        #[arg(long = "input", required = true)]
        inputs: Vec<String>,
        /// Output units (repeat).
        #[arg(long = "output", required = true)]
        outputs: Vec<String>,
        /// The new lot's number.
        #[arg(long)]
        lot: String,
        /// The new lot's expiry date (YYYY-MM-DD).
        #[arg(long)]
        expiry: String,
        #[command(flatten)]
        common: OpArgs,
    },
    /// Capture an EPCIS 2.0 document (JSON or JSON-LD; `-` reads standard input): one
    /// transaction per event. A key signs locally; a custodial session captures through the
    /// node's EPCIS endpoint, all or nothing.
    Capture {
        /// The EPCIS document (a file, or - for standard input);
        /// docs/examples/epcis-shipping.json is one.
        file: PathBuf,
        #[command(flatten)]
        signer: Signer,
        #[command(flatten)]
        node: NodeUrl,
    },
    /// EPCIS events by EPC, lot or time, as an EPCISQueryDocument.
    Events {
        /// A unit or container (Digital Link or EPC URN); repeat for several.
        #[arg(long)]
        epc: Vec<String>,
        /// A lot: GTIN/LOT, a Digital Link (01 and 10) or an LGTIN class URN.
        #[arg(long)]
        lot: Vec<String>,
        /// From this time on (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        from: Option<String>,
        /// Before this time.
        #[arg(long)]
        to: Option<String>,
        /// ObjectEvent, AggregationEvent or TransformationEvent.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// A CBV business step (commissioning, shipping, ...).
        #[arg(long)]
        biz_step: Option<String>,
        /// Events per page (up to 1,000); every page is fetched unless --page-token is given.
        #[arg(long, default_value_t = 1000)]
        per_page: u32,
        /// Fetch the one page this token names.
        #[arg(long)]
        page_token: Option<String>,
        /// With --genesis, every page is rebuilt here from its proven indexes, transactions
        /// and blocks, and only what was rebuilt is shown.
        #[command(flatten)]
        check: CheckArgs,
    },
    /// Suspect-product alerts: a manufacturer's, or everyone's.
    Alerts {
        /// A party id or `dev:<name>`.
        #[arg(long)]
        manufacturer: Option<String>,
        /// The first alert to show (its position in the list, from 0).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Alerts per page (1 to 1,000).
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[command(flatten)]
        check: CheckArgs,
    },
    /// Where the units of a lot are (for a recall): each with its holder and containers.
    Holdings {
        /// The product's GTIN.
        #[arg(long)]
        gtin: Gtin,
        /// The lot number.
        #[arg(long)]
        lot: String,
        /// Only what this party holds or is being sent: a party id or `dev:<name>`.
        #[arg(long)]
        custodian: Option<String>,
        /// Only units still in the supply chain.
        #[arg(long)]
        in_chain: bool,
        /// The first unit to look at (its position in the lot, from 0).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Units looked at per page.
        #[arg(long, default_value_t = 1000)]
        limit: u64,
        /// Follow the pages to the lot's end (each checked with `--genesis`), and print every
        /// unit found as one answer; each page rests on the block it was read at.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        check: CheckArgs,
    },
    /// A unit's ancestry through transformations.
    Lineage {
        /// The unit: an element string, the human-readable form or a Digital Link.
        scan: String,
        #[command(flatten)]
        check: CheckArgs,
    },
}

/// Objects an operation names.
#[derive(Args, Clone, Default)]
pub struct ObjectArgs {
    /// A unit (repeat): a Digital Link, an EPC URN, an element string or GTIN:SERIAL.
    #[arg(long = "unit")]
    units: Vec<String>,
    /// A case or pallet (repeat): an SSCC, a Digital Link or an EPC URN.
    #[arg(long = "container")]
    containers: Vec<String>,
}

/// What every operation takes.
#[derive(Args, Clone)]
pub struct OpArgs {
    /// When it happened (RFC 3339); now by default.
    #[arg(long)]
    at: Option<String>,
    /// Where (EPCIS readPoint), such as urn:epc:id:sgln:...
    #[arg(long)]
    read_point: Option<String>,
    #[command(flatten)]
    signer: Signer,
    #[command(flatten)]
    node: NodeUrl,
}

/// Reading answers with their proofs.
#[derive(Args, Clone)]
pub struct CheckArgs {
    #[command(flatten)]
    trust: crate::trust::Trust,
    #[command(flatten)]
    node: NodeUrl,
}

fn parse_party(text: &str) -> anyhow::Result<PartyId> {
    if text.starts_with("dev:") {
        return Ok(crate::commands::load_signer(text)?.party_id);
    }
    if let Some(party) = medchain_formats::epcis::ids::parse_party(text) {
        return Ok(party);
    }
    PartyId::from_hex(text).map_err(|err| anyhow::anyhow!("{text:?} is not a party id: {err}"))
}

fn parse_expiry(text: &str) -> anyhow::Result<Date> {
    Date::parse(text).with_context(|| format!("--expiry {text:?} is not a date (YYYY-MM-DD)"))
}

fn parse_sscc(text: &str) -> anyhow::Result<Sscc> {
    // Digits alone are an SSCC or nothing: say what is wrong with them (length, check digit).
    if all_digits(text) {
        return Sscc::parse(text).map_err(|err| anyhow::anyhow!("{text:?} is not an SSCC: {err}"));
    }
    match medchain_formats::epcis::ids::parse_object(text) {
        Ok(Object::Container { sscc }) => Ok(sscc),
        Ok(_) => bail!("{text:?} names a unit, not a case or pallet"),
        Err(err) => bail!("{text:?} is not an SSCC: {err}"),
    }
}

/// Whether `text` is a GS1 key's digits and nothing else (a key, or a key with a wrong length
/// or check digit).
fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// A unit: GTIN:SERIAL, a Digital Link or EPC URN, or a scanned element string.
fn parse_unit(text: &str) -> anyhow::Result<(Gtin, String)> {
    if let Some((digits, serial)) = text.split_once(':')
        && all_digits(digits)
    {
        let gtin = Gtin::parse(digits)
            .map_err(|err| anyhow::anyhow!("{text:?}: {digits:?} is not a GTIN: {err}"))?;
        if serial.is_empty() {
            bail!("{text:?} has no serial number after the GTIN");
        }
        return Ok((gtin, serial.to_string()));
    }
    if let Ok(Object::Unit { gtin, serial }) = medchain_formats::epcis::ids::parse_object(text) {
        return Ok((gtin, serial));
    }
    let scan = medchain_formats::gs1::Scan::parse(text, Date::of_ms(0))
        .map_err(|err| anyhow::anyhow!("{text:?} is not a unit: {err}"))?;
    match (scan.gtin(), scan.serial()) {
        (Some(gtin), Some(serial)) => Ok((gtin, serial.to_string())),
        _ => bail!("{text:?} names no unit: a unit has a GTIN and a serial number"),
    }
}

/// Units grouped by GTIN, in the order given.
fn unit_groups(texts: &[String]) -> anyhow::Result<Vec<UnitGroup>> {
    let mut groups: Vec<(Gtin, Vec<String>)> = Vec::new();
    for text in texts {
        let (gtin, serial) = parse_unit(text)?;
        match groups.iter_mut().find(|(g, _)| *g == gtin) {
            Some((_, serials)) => serials.push(serial),
            None => groups.push((gtin, vec![serial])),
        }
    }
    Ok(groups
        .into_iter()
        .map(|(gtin, serials)| UnitGroup {
            gtin,
            serials: Serials::List(serials),
        })
        .collect())
}

impl ObjectArgs {
    fn objects(&self) -> anyhow::Result<Objects> {
        if self.units.is_empty() && self.containers.is_empty() {
            bail!("name what it is about: --unit and/or --container");
        }
        Ok(Objects {
            units: unit_groups(&self.units)?,
            containers: self
                .containers
                .iter()
                .map(|text| parse_sscc(text))
                .collect::<anyhow::Result<_>>()?,
        })
    }
}

impl OpArgs {
    fn meta(&self) -> anyhow::Result<EventMeta> {
        let event_time_ms = match &self.at {
            Some(text) => medchain_types::time::parse_rfc3339(text)
                .with_context(|| format!("--at {text:?} is not an RFC 3339 time"))?,
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("the clock is before 1970")?
                .as_millis() as u64,
        };
        Ok(EventMeta {
            read_point: self.read_point.clone(),
            ..EventMeta::at(event_time_ms)
        })
    }
}

fn parse_range(text: &str) -> anyhow::Result<Serials> {
    let parts: Vec<&str> = text.rsplitn(4, ':').collect();
    let [width, count, first, prefix] = parts.as_slice() else {
        bail!("--range is PREFIX:FIRST:COUNT:WIDTH, not {text:?}");
    };
    Ok(Serials::Range {
        prefix: prefix.to_string(),
        first: first
            .parse()
            .with_context(|| format!("--range: FIRST {first:?} is not a number"))?,
        count: count
            .parse()
            .with_context(|| format!("--range: COUNT {count:?} is not a number"))?,
        width: width
            .parse()
            .with_context(|| format!("--range: WIDTH {width:?} is not a number"))?,
    })
}

/// Signs, submits and (unless told not to) waits for one operation; prints where it went.
async fn run_op(common: &OpArgs, op: SupplyOp) -> anyhow::Result<()> {
    let client = Client::new(&common.node.url);
    let holder = load_holder(&common.signer.signer, &common.node)?;
    let chain = client.status().await?.chain_id;
    let name = op.name();
    let nonce = client.next_nonce(&holder.party_id()).await?;
    let tx = holder.sign_tx(&chain, nonce, TxBody::Supply(op)).await?;
    let answer = client.submit(&tx, !common.signer.no_wait).await?;
    print_json(&answer)?;
    match answer.status {
        TxState::Committed | TxState::Pending => Ok(()),
        _ => bail!(
            "{name} was not applied ({:?}): {}",
            answer.status,
            answer
                .rejection
                .map(|r| format!("{}: {}", r.code, r.reason))
                .unwrap_or_default()
        ),
    }
}

/// Waits for transactions to leave the pool; answers each one's final status.
async fn settle(client: &Client, hashes: &[TxHash]) -> anyhow::Result<Vec<TxStatusResponse>> {
    let mut done = Vec::with_capacity(hashes.len());
    for hash in hashes {
        done.push(
            client
                .settled(hash, std::time::Duration::from_secs(120))
                .await?
                .with_context(|| {
                    format!("transaction {hash} is still pending after two minutes")
                })?,
        );
    }
    Ok(done)
}

async fn capture(file: &Path, signer: &Signer, node: &NodeUrl) -> anyhow::Result<()> {
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let document: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let client = Client::new(&node.url);
    let (event_ids, hashes) = match load_holder(&signer.signer, node)? {
        AnyHolder::Keys(keys) => {
            let chain = client.status().await?.chain_id;
            let nonce = client.next_nonce(&keys.party_id).await?;
            let signed = supply::capture_transactions(&document, &chain, &keys, nonce)?;
            let (txs, ids): (Vec<_>, Vec<_>) = signed.into_iter().unzip();
            let batch = client.submit_batch(&txs).await?;
            if batch.accepted != txs.len() {
                bail!(
                    "the node accepted {} of the {} events: {}",
                    batch.accepted,
                    txs.len(),
                    serde_json::to_string(&batch)?
                );
            }
            (ids, txs.iter().map(|tx| tx.hash()).collect::<Vec<_>>())
        }
        AnyHolder::Custodial(custodial) => {
            let accepted = supply::capture_custodial(&custodial, &document).await?;
            eprintln!("capture job {}", accepted.capture_id);
            (accepted.event_ids, accepted.transactions)
        }
    };
    if signer.no_wait {
        return print_json(&serde_json::json!({ "eventIDs": event_ids, "transactions": hashes }));
    }
    let statuses = settle(&client, &hashes).await?;
    let events: Vec<_> = event_ids
        .iter()
        .zip(&statuses)
        .map(|(id, status)| {
            serde_json::json!({
                "eventID": id,
                "transaction": status.hash,
                "status": status.status,
                "rejection": status.rejection,
            })
        })
        .collect();
    print_json(&events)?;
    let failed = statuses
        .iter()
        .filter(|s| s.status != TxState::Committed)
        .count();
    if failed > 0 {
        bail!("{failed} of {} events were not recorded", statuses.len());
    }
    eprintln!("captured {} events", statuses.len());
    Ok(())
}

/// A lot for `events --lot`: GTIN/LOT, or a URI as EPCIS names lots.
fn lot_uri(text: &str) -> anyhow::Result<String> {
    if let Some((gtin, lot)) = text.split_once('/')
        && let Ok(gtin) = Gtin::parse(gtin)
    {
        return Ok(medchain_formats::epcis::ids::lot_uri(&gtin, lot));
    }
    medchain_formats::epcis::ids::parse_lot(text)
        .map_err(|err| anyhow::anyhow!("--lot {text:?}: {err}"))?;
    Ok(text.to_string())
}

#[allow(clippy::too_many_arguments)]
async fn events(
    epcs: Vec<String>,
    lots: Vec<String>,
    from: Option<String>,
    to: Option<String>,
    event_type: Option<String>,
    biz_step: Option<String>,
    per_page: u32,
    page_token: Option<String>,
    check: CheckArgs,
) -> anyhow::Result<()> {
    let time = |text: String| -> anyhow::Result<String> {
        if medchain_types::time::parse_rfc3339(&text).is_some() {
            return Ok(text);
        }
        let day = medchain_types::time::parse_date(&text)
            .with_context(|| format!("{text:?} is neither RFC 3339 nor YYYY-MM-DD"))?;
        Ok(medchain_types::time::rfc3339(day))
    };
    let mut params: Vec<(&str, String)> = Vec::new();
    if !epcs.is_empty() {
        params.push(("MATCH_anyEPC", epcs.join("|")));
    }
    if !lots.is_empty() {
        let uris = lots
            .iter()
            .map(|lot| lot_uri(lot))
            .collect::<anyhow::Result<Vec<_>>>()?;
        params.push(("MATCH_anyEPCClass", uris.join("|")));
    }
    if let Some(from) = from {
        params.push(("GE_eventTime", time(from)?));
    }
    if let Some(to) = to {
        params.push(("LT_eventTime", time(to)?));
    }
    if let Some(kind) = event_type {
        params.push(("eventType", kind));
    }
    if let Some(step) = biz_step {
        params.push(("EQ_bizStep", step));
    }
    params.push(("perPage", per_page.to_string()));
    let client = Client::new(&check.node.url);
    let verifier = check.trust.verifier(&check.node.url).await?;
    let (mut proven_entries, mut proven_pages, mut proven_height) = (0usize, 0usize, 0u64);
    let one_page = page_token.is_some();
    let mut token = page_token;
    let mut document: Option<serde_json::Value> = None;
    loop {
        let mut query: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if let Some(token) = &token {
            query.push(("nextPageToken", token));
        }
        let (page, next) = match &verifier {
            Some(verifier) => {
                let proven = supply::epcis_events_proven(&client, verifier, &query)
                    .await
                    .context("the answer is NOT proven")?;
                proven_entries += proven.entries;
                proven_pages += 1;
                proven_height = proven_height.max(proven.height);
                (proven.answer.document, proven.answer.next_page_token)
            }
            None => client.epcis_events_page(&query).await?,
        };
        match &mut document {
            None => document = Some(page),
            Some(doc) => {
                let more = &page["epcisBody"]["queryResults"]["resultsBody"]["eventList"];
                if let (Some(list), Some(more)) = (
                    doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array_mut(),
                    more.as_array(),
                ) {
                    list.extend(more.iter().cloned());
                }
            }
        }
        if one_page {
            if let Some(next) = &next {
                eprintln!("next page: --page-token {next}");
            }
            break;
        }
        match next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    if let Some(verifier) = &verifier {
        crate::trust::remember(&check.trust, verifier);
        eprintln!(
            "{} recomputed from {} and the transactions and blocks they select, the last proven at height {proven_height}, finalized by a quorum of the genesis validators (checked offline)",
            crate::trust::count(proven_pages, "page", "pages"),
            crate::trust::count(proven_entries, "proven state entry", "proven state entries"),
        );
    }
    print_json(&document)
}

/// Says on stderr what a proven answer rests on.
fn proven_note<T>(proven: &medchain_client::proven::Proven<T>) {
    crate::trust::note(proven.entries, proven.height);
}

pub async fn supply_command(command: SupplyCommand) -> anyhow::Result<()> {
    match command {
        SupplyCommand::Commission {
            gtin,
            serials,
            range,
            lot,
            expiry,
            into,
            common,
        } => {
            let serials = match range {
                Some(range) => parse_range(&range)?,
                None => Serials::List(serials),
            };
            let op = SupplyOp::Commission(Commission {
                meta: common.meta()?,
                units: vec![UnitGroup { gtin, serials }],
                lot,
                expiry: parse_expiry(&expiry)?,
                into: into.as_deref().map(parse_sscc).transpose()?,
            });
            run_op(&common, op).await
        }
        SupplyCommand::Pack {
            parent,
            objects,
            common,
        } => {
            let op = SupplyOp::Pack(Pack {
                meta: common.meta()?,
                parent: parse_sscc(&parent)?,
                children: objects.objects()?,
            });
            run_op(&common, op).await
        }
        SupplyCommand::Unpack {
            parent,
            objects,
            common,
        } => {
            let children = if objects.units.is_empty() && objects.containers.is_empty() {
                None
            } else {
                Some(objects.objects()?)
            };
            let op = SupplyOp::Unpack(Unpack {
                meta: common.meta()?,
                parent: parse_sscc(&parent)?,
                children,
            });
            run_op(&common, op).await
        }
        SupplyCommand::Ship {
            objects,
            to,
            is_return,
            common,
        } => {
            let op = SupplyOp::Ship(Ship {
                meta: common.meta()?,
                objects: objects.objects()?,
                to: parse_party(&to)?,
                is_return,
            });
            run_op(&common, op).await
        }
        SupplyCommand::Receive { objects, common } => {
            let op = SupplyOp::Receive(Receive {
                meta: common.meta()?,
                objects: objects.objects()?,
            });
            run_op(&common, op).await
        }
        SupplyCommand::Dispense {
            objects,
            prescription,
            common,
        } => {
            if !objects.containers.is_empty() {
                bail!("packs are dispensed one by one: name them with --unit");
            }
            let prescription = prescription.as_deref().map(prescription_hash).transpose()?;
            if let Some(hash) = &prescription {
                eprintln!("prescription reference on chain: {hash}");
            }
            let op = SupplyOp::Dispense(Dispense {
                meta: common.meta()?,
                units: objects.objects()?.units,
                prescription,
            });
            run_op(&common, op).await
        }
        SupplyCommand::Decommission {
            objects,
            reason,
            common,
        } => {
            let op = SupplyOp::Decommission(Decommission {
                meta: common.meta()?,
                objects: objects.objects()?,
                reason,
            });
            run_op(&common, op).await
        }
        SupplyCommand::Recall {
            gtin,
            lot,
            reason,
            common,
        } => {
            let op = SupplyOp::Recall(Recall {
                meta: common.meta()?,
                gtin,
                lot,
                reason,
            });
            run_op(&common, op).await
        }
        SupplyCommand::Flag {
            objects,
            kind,
            reason,
            common,
        } => {
            let op = SupplyOp::Flag(Flag {
                meta: common.meta()?,
                objects: objects.objects()?,
                flag: kind,
                reason,
            });
            run_op(&common, op).await
        }
        SupplyCommand::Transform {
            inputs,
            outputs,
            lot,
            expiry,
            common,
        } => {
            let op = SupplyOp::Transform(Transform {
                meta: common.meta()?,
                inputs: unit_groups(&inputs)?,
                outputs: unit_groups(&outputs)?,
                lot,
                expiry: parse_expiry(&expiry)?,
            });
            run_op(&common, op).await
        }
        SupplyCommand::Capture { file, signer, node } => capture(&file, &signer, &node).await,
        SupplyCommand::Events {
            epc,
            lot,
            from,
            to,
            event_type,
            biz_step,
            per_page,
            page_token,
            check,
        } => {
            events(
                epc, lot, from, to, event_type, biz_step, per_page, page_token, check,
            )
            .await
        }
        SupplyCommand::Alerts {
            manufacturer,
            from,
            limit,
            check,
        } => {
            let manufacturer = manufacturer.as_deref().map(parse_party).transpose()?;
            let client = Client::new(&check.node.url);
            match check.trust.verifier(&check.node.url).await? {
                Some(verifier) => {
                    let proven = supply::alerts_proven(
                        &client,
                        &verifier,
                        manufacturer.as_ref(),
                        from,
                        limit,
                    )
                    .await
                    .context("the answer is NOT proven")?;
                    crate::trust::remember(&check.trust, &verifier);
                    proven_note(&proven);
                    print_json(&proven.answer)
                }
                None => print_json(
                    &client
                        .supply_alerts(manufacturer.as_ref(), from, limit, false)
                        .await?,
                ),
            }
        }
        SupplyCommand::Holdings {
            gtin,
            lot,
            custodian,
            in_chain,
            from,
            limit,
            all,
            check,
        } => {
            let custodian = custodian.as_deref().map(parse_party).transpose()?;
            let client = Client::new(&check.node.url);
            let verifier = check.trust.verifier(&check.node.url).await?;
            let asked = |from: u64| supply::HoldingsQuery {
                gtin,
                lot: lot.clone(),
                custodian,
                in_chain_only: in_chain,
                from,
                limit,
                proof: verifier.is_some(),
            };
            // One page: recomputed from its proofs with --genesis, as served otherwise.
            let page = async |from: u64| -> anyhow::Result<(
                medchain_types::api::LotHoldingsResponse,
                usize,
            )> {
                match &verifier {
                    Some(verifier) => {
                        let proven = supply::holdings_proven(&client, verifier, &asked(from))
                            .await
                            .with_context(|| format!("the page from {from} is NOT proven"))?;
                        crate::trust::remember(&check.trust, verifier);
                        Ok((proven.answer, proven.entries))
                    }
                    None => Ok((
                        client
                            .lot_holdings(
                                &gtin,
                                &lot,
                                custodian.as_ref(),
                                in_chain,
                                from,
                                limit,
                                false,
                            )
                            .await?,
                        0,
                    )),
                }
            };
            let (mut answer, mut entries) = page(from).await?;
            if !all {
                if verifier.is_some() {
                    crate::trust::note(entries, answer.height);
                    answer.entries.clear();
                }
                return print_json(&answer);
            }
            let (mut whole, mut pages) = (answer.clone(), 0u64);
            whole.units.clear();
            loop {
                pages += 1;
                whole.units.append(&mut answer.units);
                (whole.lot, whole.height) = (answer.lot.clone(), answer.height);
                match answer.next {
                    Some(next) if next > answer.from => {
                        let (next_page, more) = page(next).await?;
                        answer = next_page;
                        entries += more;
                    }
                    Some(next) => bail!("the node's next page ({next}) does not move forward"),
                    None => break,
                }
            }
            if verifier.is_some() {
                eprintln!(
                    "{}, each recomputed from its proven state entries ({entries} in all), finalized by a quorum of the genesis validators (checked offline)",
                    crate::trust::count(pages as usize, "page", "pages")
                );
            }
            whole.next = None;
            whole.entries.clear();
            print_json(&whole)
        }
        SupplyCommand::Lineage { scan, check } => {
            parse_unit(&scan)?;
            let client = Client::new(&check.node.url);
            match check.trust.verifier(&check.node.url).await? {
                Some(verifier) => {
                    let proven = supply::lineage_proven(&client, &verifier, &scan)
                        .await
                        .context("the answer is NOT proven")?;
                    crate::trust::remember(&check.trust, &verifier);
                    proven_note(&proven);
                    print_json(&proven.answer)
                }
                None => print_json(&client.lineage(&scan, false).await?),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_check_digit_is_named() {
        // 09506000134352 is a valid GTIN; its last digit changed, it is not.
        let (gtin, serial) = parse_unit("09506000134352:S1").expect("valid");
        assert_eq!(
            (gtin.to_string().as_str(), serial.as_str()),
            ("09506000134352", "S1")
        );
        let err = parse_unit("09506000134353:S1").expect_err("bad check digit");
        assert!(err.to_string().contains("check digit"), "{err}");
        let err = parse_unit("0950600013435:S1").expect_err("13 digits");
        assert!(err.to_string().contains("is not a GTIN"), "{err}");
        let err = parse_unit("09506000134352:").expect_err("no serial");
        assert!(err.to_string().contains("no serial"), "{err}");

        let sscc = Sscc::from_payload("39506000100000001").expect("payload");
        assert_eq!(parse_sscc(&sscc.to_string()).expect("valid"), sscc);
        let mut wrong = sscc.to_string();
        let last = wrong.pop().and_then(|c| c.to_digit(10)).expect("digit");
        wrong.push(char::from_digit((last + 1) % 10, 10).expect("digit"));
        let err = parse_sscc(&wrong).expect_err("bad check digit");
        assert!(err.to_string().contains("check digit"), "{err}");
        let err = parse_sscc("123").expect_err("short");
        assert!(err.to_string().contains("is not an SSCC"), "{err}");
    }
}
