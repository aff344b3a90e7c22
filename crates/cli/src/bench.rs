//! `medchain bench`: a load generator against a running chain.
//!
//! 1. Registers `--accounts` fresh device parties under a registrar (default the dev chain's
//!    demo hospital), and waits until they are committed.
//! 2. Signs `--transactions` attestations, spread over the accounts in nonce order.
//! 3. Submits them over HTTP (canonical binary form) with `--concurrency` requests in flight,
//!    round-robin over the `--node` URLs, and watches finalized blocks on the first node.
//! 4. Reports finalized transactions per second (first submission to last commit),
//!    submit-to-finality latency (p50, p99, max; a commit is seen when the watcher fetches its
//!    block, so latency includes up to one polling interval, 20 ms) and, as the ceiling, this
//!    machine's strict Ed25519 verifications per second.

use anyhow::{Context as _, bail};
use clap::Args;
use commonware_codec::Encode as _;
use futures::StreamExt as _;
use medchain_client::{Client, keys::PartyKeys};
use medchain_types::{Hash32, PartyKind, Roles, SignedTransaction, TxBody, TxHash, api::TxState};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// A transaction's hash and canonical bytes.
type Encoded = (TxHash, Vec<u8>);

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    nodes: crate::commands::NodeUrls,
    /// Number of sending accounts.
    #[arg(long, default_value_t = 1_000)]
    accounts: usize,
    /// Number of transactions to send.
    #[arg(long, default_value_t = 50_000)]
    transactions: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// Transactions per HTTP request (1: `POST /v1/transactions`; more: `/v1/transactions/batch`).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Offered load in transactions per second (0: as fast as the node accepts them).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// The registrar that registers the accounts (a key file or `dev:<name>`).
    #[arg(long = "as", default_value = "dev:hospital")]
    registrar: String,
    /// Give up waiting for commits after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout_s: u64,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
}

/// The `fraction` percentile of sorted latencies, in milliseconds (0 for none).
pub(crate) fn percentile_ms(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// Strict Ed25519 verifications per second on this machine, on `threads` threads.
fn ed25519_ceiling(threads: usize) -> f64 {
    let keys = PartyKeys::from_seeds([3u8; 32], [4u8; 32]);
    let chain = medchain_types::ChainId::new("bench").expect("valid");
    let tx = keys.sign(
        &chain,
        0,
        TxBody::Attest {
            subject: Hash32::ZERO,
            digest: Hash32::ZERO,
        },
    );
    let per_thread = 20_000;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                for _ in 0..per_thread {
                    assert!(tx.verify_signature().is_ok());
                }
            });
        }
    });
    (per_thread * threads) as f64 / start.elapsed().as_secs_f64()
}

async fn wait_committed(
    client: &Client,
    hashes: &[TxHash],
    timeout: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    for hash in hashes {
        loop {
            let status = client.tx_status(hash).await?;
            match status.status {
                TxState::Committed => break,
                TxState::Rejected | TxState::Denied => bail!(
                    "setup transaction {hash} was refused: {}",
                    status.rejection.map(|r| r.reason).unwrap_or_default()
                ),
                _ if Instant::now() > deadline => {
                    bail!("setup transaction {hash} did not commit in time")
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    Ok(())
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!args.nodes.urls.is_empty(), "give at least one --node");
    anyhow::ensure!(
        args.accounts > 0 && args.transactions > 0,
        "accounts and transactions must be positive"
    );
    let clients: Vec<Client> = args.nodes.urls.iter().map(Client::new).collect();
    let watcher = clients[0].clone();
    let status = watcher
        .status()
        .await
        .context("cannot reach the first node")?;
    let chain_id = status.chain_id.clone();
    eprintln!(
        "chain {} at height {}, {} validators",
        chain_id,
        status.latest.height,
        status.validators.len()
    );

    // 1. Accounts.
    let registrar = if let Some(name) = args.registrar.strip_prefix("dev:") {
        PartyKeys::dev(name)
    } else {
        PartyKeys::load(std::path::Path::new(&args.registrar))?
    };
    let mut nonce = watcher.next_nonce(&registrar.party_id).await?;
    let accounts: Vec<PartyKeys> = (0..args.accounts)
        .map(|_| PartyKeys::generate())
        .collect::<Result<_, _>>()?;
    eprintln!("registering {} accounts...", accounts.len());
    let mut setup_hashes = Vec::new();
    for (index, account) in accounts.iter().enumerate() {
        let tx = registrar.sign(
            &chain_id,
            nonce,
            TxBody::RegisterParty {
                kind: PartyKind::Device,
                signing_key: account.public_key(),
                encryption_key: account.encryption_key(),
                label: format!("bench device {index}"),
                roles: Roles::default(),
            },
        );
        nonce += 1;
        setup_hashes.push(tx.hash());
        watcher.submit_binary(tx.encode().to_vec()).await?;
    }
    wait_committed(&watcher, &setup_hashes, Duration::from_secs(args.timeout_s)).await?;

    // 2. Transactions, signed ahead of time.
    eprintln!("signing {} transactions...", args.transactions);
    let per_account = args.transactions.div_ceil(accounts.len());
    let mut txs: Vec<SignedTransaction> = Vec::with_capacity(args.transactions);
    for round in 0..per_account {
        for (index, account) in accounts.iter().enumerate() {
            if txs.len() == args.transactions {
                break;
            }
            txs.push(account.sign(
                &chain_id,
                round as u64,
                TxBody::Attest {
                    subject: Hash32([(index % 251) as u8; 32]),
                    digest: medchain_types::sha256(&(round as u64).to_be_bytes()),
                },
            ));
        }
    }
    let encoded: Vec<(TxHash, Vec<u8>)> = txs
        .iter()
        .map(|tx| (tx.hash(), tx.encode().to_vec()))
        .collect();
    let expected = encoded.len();

    // 3. Watch blocks.
    let submitted: Arc<Mutex<HashMap<TxHash, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::new(Mutex::new(Vec::new()));
    let last_commit: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let start_height = watcher.status().await?.latest.height;
    let watch = {
        let submitted = submitted.clone();
        let latencies = latencies.clone();
        let last_commit = last_commit.clone();
        let watcher = watcher.clone();
        let timeout = Duration::from_secs(args.timeout_s);
        tokio::spawn(async move {
            let deadline = Instant::now() + timeout;
            let mut next = start_height + 1;
            let mut committed = 0usize;
            while committed < expected && Instant::now() < deadline {
                let tip = match watcher.status().await {
                    Ok(status) => status.latest.height,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                while next <= tip {
                    let Ok(block) = watcher.block(next).await else {
                        break;
                    };
                    let seen = Instant::now();
                    let submitted = submitted.lock().expect("lock");
                    let mut latencies = latencies.lock().expect("lock");
                    for hash in &block.transactions {
                        if let Some(at) = submitted.get(hash) {
                            latencies.push(seen.duration_since(*at));
                            committed += 1;
                        }
                    }
                    *last_commit.lock().expect("lock") = Some(seen);
                    next += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            committed
        })
    };

    // 4. Submit.
    eprintln!(
        "submitting {expected} transactions to {} node(s), {} in flight...",
        clients.len(),
        args.concurrency
    );
    let started = Instant::now();
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let rate = args.rate;
    let batch = args.batch.max(1);
    // Batches of `batch` consecutive transactions (single transactions when batch is 1).
    let chunks: Vec<(usize, Vec<Encoded>)> = encoded
        .chunks(batch)
        .enumerate()
        .map(|(index, chunk)| (index * batch, chunk.to_vec()))
        .collect();
    futures::stream::iter(chunks.into_iter().enumerate())
        .for_each_concurrent(args.concurrency, |(request, (first, chunk))| {
            let client = clients[request % clients.len()].clone();
            let submitted = submitted.clone();
            let errors = errors.clone();
            async move {
                if rate > 0 {
                    // Open-loop pacing: transaction i leaves at i / rate seconds.
                    let due = started + Duration::from_secs_f64(first as f64 / rate as f64);
                    tokio::time::sleep_until(due.into()).await;
                }
                {
                    let now = Instant::now();
                    let mut submitted = submitted.lock().expect("lock");
                    for (hash, _) in &chunk {
                        submitted.insert(*hash, now);
                    }
                }
                let outcome = if chunk.len() == 1 {
                    let (_, bytes) = chunk.into_iter().next().expect("one transaction");
                    client.submit_binary(bytes).await.map(|_| None)
                } else {
                    let mut body = Vec::new();
                    let txs: Vec<SignedTransaction> = chunk
                        .iter()
                        .filter_map(|(_, bytes)| SignedTransaction::decode_canonical(bytes).ok())
                        .collect();
                    body.extend(txs);
                    client.submit_batch(&body).await.map(|answer| {
                        answer
                            .results
                            .into_iter()
                            .find_map(|item| item.problem)
                            .map(|problem| problem.detail)
                    })
                };
                let failure = match outcome {
                    Ok(None) => None,
                    Ok(Some(detail)) => Some(detail),
                    Err(err) => Some(err.to_string()),
                };
                if let Some(failure) = failure {
                    let mut errors = errors.lock().expect("lock");
                    if errors.len() < 5 {
                        errors.push(failure);
                    }
                }
            }
        })
        .await;
    let submit_elapsed = started.elapsed();
    let committed = watch.await.context("the block watcher failed")?;
    let errors = errors.lock().expect("lock").clone();
    let mut latencies = latencies.lock().expect("lock").clone();
    latencies.sort();
    let elapsed = last_commit
        .lock()
        .expect("lock")
        .map_or(submit_elapsed, |at| at.duration_since(started));
    let tps = committed as f64 / elapsed.as_secs_f64();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ceiling_one = ed25519_ceiling(1);
    let ceiling_all = ed25519_ceiling(threads);
    let report = serde_json::json!({
        "validators": status.validators.len(),
        "nodes": args.nodes.urls,
        "accounts": args.accounts,
        "batch": args.batch.max(1),
        "offered_rate": if args.rate == 0 { serde_json::Value::from("max") } else { serde_json::Value::from(args.rate) },
        "transactions_sent": expected,
        "transactions_committed": committed,
        "submit_seconds": submit_elapsed.as_secs_f64(),
        "seconds_to_last_commit": elapsed.as_secs_f64(),
        "finalized_tx_per_second": tps,
        "latency_ms": {
            "p50": percentile_ms(&latencies, 0.50),
            "p99": percentile_ms(&latencies, 0.99),
            "max": latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        },
        "ed25519_strict_verifications_per_second": { "one_core": ceiling_one, "all_cores": ceiling_all, "cores": threads },
        "submit_errors": errors,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    }
    if committed < expected {
        bail!("only {committed} of {expected} transactions committed before the timeout");
    }
    Ok(())
}
