//! `medchain bench-supply`: the supply chain against a running dev chain (or any chain whose
//! demo manufacturer and wholesaler keys are the dev ones).
//!
//! 1. Commissioning through aggregation: the manufacturer commissions `--units` units in
//!    cases of `--case-size` (one commissioning per case, straight into its case), then packs
//!    the cases onto pallets of `--pallet-cases` cases. Units/s is the time from the first
//!    submission to the last pallet's commit. Transactions go in batches of 500, at most
//!    4,000 pending (the mempool's window per signer).
//! 2. Custody events: every pallet is shipped to the wholesaler, then received by it; events/s
//!    (ships and receipts) and the units they moved per second.
//! 3. Verifications: `--verifications` verify-pack requests (a scanned GS1 element string of
//!    a random unit commissioned in phase 1), `--concurrency` in flight, spread over the
//!    `--node` URLs; verifications/s and latency p50/p99. With `--proof` each answer carries
//!    its proofs.
//!
//! Serials, lot and SSCCs are derived from the start time, so runs on one chain do not
//! collide.

use crate::bench::percentile_ms;
use crate::bench_records::send_pipelined;
use anyhow::{Context as _, bail};
use clap::Args;
use futures::StreamExt as _;
use medchain_client::{Client, keys::PartyKeys};
use medchain_types::{
    SignedTransaction, TxBody,
    api::PackVerdict,
    dev::party_id,
    gs1::{Gtin, Sscc},
    supply::{Commission, EventMeta, Objects, Pack, Receive, Serials, Ship, SupplyOp, UnitGroup},
    time::Date,
};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

#[derive(Args)]
pub struct BenchSupplyArgs {
    #[command(flatten)]
    nodes: crate::commands::NodeUrls,
    /// Units to commission.
    #[arg(long, default_value_t = 200_000)]
    units: u64,
    /// Units per case (one commissioning each).
    #[arg(long, default_value_t = 100)]
    case_size: u32,
    /// Cases per pallet.
    #[arg(long, default_value_t = 100)]
    pallet_cases: u64,
    /// Pack verifications to time.
    #[arg(long, default_value_t = 20_000)]
    verifications: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Ask for proofs with every verification.
    #[arg(long)]
    proof: bool,
}

/// The GTIN the bench commissions (company prefix 950600, synthetic).
fn bench_gtin() -> anyhow::Result<Gtin> {
    Ok(Gtin::from_payload("0950600013435")?)
}

/// Signs `ops` as `keys` from its next nonce.
async fn sign_all(
    client: &Client,
    keys: &PartyKeys,
    ops: Vec<SupplyOp>,
) -> anyhow::Result<Vec<SignedTransaction>> {
    let chain = client.status().await?.chain_id;
    let first = client.next_nonce(&keys.party_id).await?;
    Ok(ops
        .into_iter()
        .enumerate()
        .map(|(i, op)| keys.sign(&chain, first + i as u64, TxBody::Supply(op)))
        .collect())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub async fn run(args: BenchSupplyArgs) -> anyhow::Result<()> {
    if args.nodes.urls.is_empty() || args.case_size == 0 || args.pallet_cases == 0 {
        bail!("--node, --case-size and --pallet-cases must not be empty or zero");
    }
    let clients: Vec<Client> = args.nodes.urls.iter().map(Client::new).collect();
    let client = &clients[0];
    let status = client.status().await.context("cannot reach the node")?;
    let manufacturer = PartyKeys::dev("manufacturer");
    let wholesaler = PartyKeys::dev("wholesaler");
    let gtin = bench_gtin()?;
    let run_id = now_ms() % 1_000_000_000;
    let lot = format!("B{run_id}");
    let prefix = format!("R{run_id}-");
    let cases = args.units.div_ceil(u64::from(args.case_size));
    let pallets = cases.div_ceil(args.pallet_cases);
    let sscc = |n: u64| Sscc::from_payload(&format!("3{:016}", run_id * 10_000_000 + n));
    let expiry = Date::new(2030, 12, 31).context("date")?;

    // 1. Commission into cases, then pallets.
    let mut ops = Vec::with_capacity((cases + pallets) as usize);
    let mut made = 0u64;
    for case in 0..cases {
        let count = (args.units - made).min(u64::from(args.case_size)) as u32;
        ops.push(SupplyOp::Commission(Commission {
            meta: EventMeta::at(now_ms()),
            units: vec![UnitGroup {
                gtin,
                serials: Serials::Range {
                    prefix: prefix.clone(),
                    first: made,
                    count,
                    width: 8,
                },
            }],
            lot: lot.clone(),
            expiry,
            into: Some(sscc(case)?),
        }));
        made += u64::from(count);
    }
    let pallet_ids: Vec<Sscc> = (0..pallets)
        .map(|p| sscc(5_000_000 + p))
        .collect::<Result<_, _>>()?;
    for (p, pallet) in pallet_ids.iter().enumerate() {
        let first = p as u64 * args.pallet_cases;
        let last = (first + args.pallet_cases).min(cases);
        ops.push(SupplyOp::Pack(Pack {
            meta: EventMeta::at(now_ms()),
            parent: *pallet,
            children: Objects {
                units: vec![],
                containers: (first..last).map(sscc).collect::<Result<_, _>>()?,
            },
        }));
    }
    let txs = sign_all(client, &manufacturer, ops).await?;
    eprintln!(
        "commissioning {} units in {cases} cases on {pallets} pallets ({} transactions)...",
        args.units,
        txs.len()
    );
    let started = Instant::now();
    send_pipelined(client, &txs).await?;
    let commission_time = started.elapsed();

    // 2. Custody: ship every pallet, then receive every pallet.
    let pallet_objects = |pallet: &Sscc| Objects {
        units: vec![],
        containers: vec![*pallet],
    };
    let ships: Vec<SupplyOp> = pallet_ids
        .iter()
        .map(|pallet| {
            SupplyOp::Ship(Ship {
                meta: EventMeta::at(now_ms()),
                objects: pallet_objects(pallet),
                to: party_id("wholesaler"),
                is_return: false,
            })
        })
        .collect();
    let receipts: Vec<SupplyOp> = pallet_ids
        .iter()
        .map(|pallet| {
            SupplyOp::Receive(Receive {
                meta: EventMeta::at(now_ms()),
                objects: pallet_objects(pallet),
            })
        })
        .collect();
    eprintln!("shipping and receiving {pallets} pallets...");
    let ship_txs = sign_all(client, &manufacturer, ships).await?;
    let started = Instant::now();
    send_pipelined(client, &ship_txs).await?;
    let receive_txs = sign_all(client, &wholesaler, receipts).await?;
    send_pipelined(client, &receive_txs).await?;
    let custody_time = started.elapsed();

    // 3. Verifications of random units.
    eprintln!(
        "verifying {} packs, {} in flight, over {} node(s)...",
        args.verifications,
        args.concurrency,
        clients.len()
    );
    let scans: Vec<String> = (0..args.verifications)
        .map(|i| {
            let serial = medchain_types::hash_parts(
                b"medchain/bench-supply",
                &[&run_id.to_be_bytes(), &(i as u64).to_be_bytes()],
            );
            let n = u64::from_be_bytes(serial.0[..8].try_into().unwrap_or_default()) % made;
            format!("]d201{gtin}21{prefix}{n:08}\u{1d}10{lot}\u{1d}17301231")
        })
        .collect();
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(args.verifications)));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    futures::stream::iter(scans.into_iter().enumerate())
        .for_each_concurrent(args.concurrency, |(i, scan)| {
            let client = clients[i % clients.len()].clone();
            let (latencies, failures) = (latencies.clone(), failures.clone());
            let proof = args.proof;
            async move {
                let at = Instant::now();
                match client.verify_pack(&scan, proof).await {
                    Ok(answer) if answer.verdict == PackVerdict::Genuine => {
                        latencies.lock().expect("lock").push(at.elapsed());
                    }
                    Ok(answer) => failures
                        .lock()
                        .expect("lock")
                        .push(format!("{scan:?}: {:?}", answer.verdict)),
                    Err(err) => failures.lock().expect("lock").push(err.to_string()),
                }
            }
        })
        .await;
    let verify_time = started.elapsed();
    let mut latencies = latencies.lock().expect("lock").clone();
    latencies.sort();
    let failures = failures.lock().expect("lock").clone();
    let secs = |d: Duration| d.as_secs_f64();
    let result = serde_json::json!({
        "validators": status.validators.len(),
        "gtin": gtin.to_string(),
        "serial_prefix": prefix,
        "lot": lot,
        "units": made,
        "cases": cases,
        "pallets": pallets,
        "commission_transactions": txs.len(),
        "commission_seconds": secs(commission_time),
        "units_commissioned_per_second": made as f64 / secs(commission_time),
        "custody_events": ship_txs.len() + receive_txs.len(),
        "custody_seconds": secs(custody_time),
        "custody_events_per_second": (ship_txs.len() + receive_txs.len()) as f64 / secs(custody_time),
        "units_moved_per_second": 2.0 * made as f64 / secs(custody_time),
        "verifications_ok": latencies.len(),
        "verifications_failed": failures.len(),
        "first_failures": failures.iter().take(3).collect::<Vec<_>>(),
        "verifications_per_second": latencies.len() as f64 / secs(verify_time),
        "verify_latency_ms": { "p50": percentile_ms(&latencies, 0.5), "p99": percentile_ms(&latencies, 0.99), "max": percentile_ms(&latencies, 1.0) },
        "verify_with_proofs": args.proof,
        "concurrency": args.concurrency,
        "nodes_verified_at": clients.len(),
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    if !failures.is_empty() {
        bail!("{} verifications failed", failures.len());
    }
    Ok(())
}
