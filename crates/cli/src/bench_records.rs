//! `medchain bench-records`: audited reads and grants against a running dev chain or testnet.
//!
//! 1. Registers `--readers` practitioners under the demo clinic.
//! 2. The demo patient-1 writes one record of `--size` bytes (sealed) through the custodian at
//!    the first `--node`.
//! 3. Grants: the patient signs `--grants` consent grants (to the readers, round robin) and
//!    sends them in batches, keeping its mempool window full; grants/s is the time from the
//!    first submission to the last commit.
//! 4. The patient shares the record's key with every reader.
//! 5. Audited reads: `--reads` reads, `--concurrency` in flight, spread over the readers (each
//!    with its own nonce sequence) and over the `--node` URLs. Each read is a signed access
//!    transaction, posted with an RFC 9421 signature: by default under a session each reader
//!    opened on each node before the timed phase (HMAC-SHA256), with `--party-signatures` with
//!    the reader's Ed25519 key on every request. The custodian commits it (consent check and
//!    access-log entry in a block) and only then returns the ciphertext and the reader's
//!    wrapped key. Reports reads/s (first request to last answer) and latency p50/p99. The
//!    first answer is decrypted and checked against the chain.

use anyhow::{Context as _, bail};
use clap::Args;
use futures::StreamExt as _;
use medchain_client::{
    Client,
    http::RequestSigner,
    keys::PartyKeys,
    records::{self, NewRecord},
};
use medchain_types::{
    Hash32, PartyKind, Role, Roles, SignedTransaction, TxBody, TxHash,
    api::{RecordReadResponse, TxState},
    records::{AccessBasis, GrantId, Purpose, RecordOp, ResourceType, Scope},
};
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

#[derive(Args)]
pub struct BenchRecordsArgs {
    #[command(flatten)]
    nodes: crate::commands::NodeUrls,
    /// Reader parties, each holding a grant.
    #[arg(long, default_value_t = 200)]
    readers: usize,
    /// Audited reads to time.
    #[arg(long, default_value_t = 20_000)]
    reads: usize,
    /// Consent grants to time.
    #[arg(long, default_value_t = 5_000)]
    grants: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 512)]
    concurrency: usize,
    /// Record size in bytes.
    #[arg(long, default_value_t = 4_096)]
    size: usize,
    /// Sign every read request with the reader's Ed25519 key instead of a session.
    #[arg(long)]
    party_signatures: bool,
}

fn reader_keys(index: usize) -> PartyKeys {
    let seed = |what: &[u8]| {
        medchain_types::hash_parts(
            b"medchain/bench-reader",
            &[what, &(index as u64).to_be_bytes()],
        )
        .0
    };
    PartyKeys::from_seeds(seed(b"signing"), seed(b"encryption"))
}

async fn wait_committed(client: &Client, hash: &TxHash) -> anyhow::Result<()> {
    match client.settled(hash, Duration::from_secs(120)).await? {
        Some(status) if status.status == TxState::Committed => Ok(()),
        Some(_) => bail!("transaction {hash} was refused"),
        None => bail!("transaction {hash} did not commit"),
    }
}

/// Sends one signer's transactions in batches of 500, at most 4,000 pending, and waits for all.
pub(crate) async fn send_pipelined(
    client: &Client,
    txs: &[SignedTransaction],
) -> anyhow::Result<()> {
    let mut sent = 0;
    for batch in txs.chunks(500) {
        let end = sent + batch.len();
        if end > 4_000 {
            wait_committed(client, &txs[end - 4_000 - 1].hash()).await?;
        }
        let answer = client.submit_batch(batch).await?;
        if let Some(problem) = answer.results.iter().find_map(|item| item.problem.as_ref()) {
            bail!("submission refused: {}", problem.detail);
        }
        sent = end;
    }
    if let Some(last) = txs.last() {
        wait_committed(client, &last.hash()).await?;
    }
    Ok(())
}

pub async fn run(args: BenchRecordsArgs) -> anyhow::Result<()> {
    if args.readers == 0 || args.nodes.urls.is_empty() {
        bail!("--readers and --node must not be empty");
    }
    let clients: Vec<Client> = args.nodes.urls.iter().map(Client::new).collect();
    let client = &clients[0];
    let status = client.status().await.context("cannot reach the node")?;
    let chain = status.chain_id.clone();
    let mut custodians = Vec::new();
    for node in &clients {
        custodians.push(
            node.status()
                .await?
                .node_party
                .context("a --node is run by no organisation")?,
        );
    }
    let clinic = PartyKeys::dev("clinic");
    let patient = PartyKeys::dev("patient-1");

    // 1. Readers.
    let readers: Vec<PartyKeys> = (0..args.readers).map(reader_keys).collect();
    let mut missing = Vec::new();
    for reader in &readers {
        if client
            .state(&format!("party/{}", reader.party_id), false)
            .await?
            .value
            .is_none()
        {
            missing.push(reader);
        }
    }
    if !missing.is_empty() {
        eprintln!("registering {} readers...", missing.len());
        let mut nonce = client.next_nonce(&clinic.party_id).await?;
        let txs: Vec<SignedTransaction> = missing
            .iter()
            .map(|reader| {
                let tx = clinic.sign(
                    &chain,
                    nonce,
                    TxBody::RegisterParty {
                        kind: PartyKind::Practitioner,
                        signing_key: reader.public_key(),
                        encryption_key: reader.encryption_key(),
                        label: String::new(),
                        roles: Roles::new([Role::Provider]),
                    },
                );
                nonce += 1;
                tx
            })
            .collect();
        send_pipelined(client, &txs).await?;
    }

    // 2. The record.
    let content: Vec<u8> = (0..args.size)
        .map(|i| b"synthetic-observation "[i % 22])
        .collect();
    eprintln!("writing a {}-byte record...", args.size);
    let (record, _) = records::put(
        client,
        &patient,
        None,
        &NewRecord {
            patient: patient.party_id,
            resource_type: ResourceType::new("Observation")?,
            category: None,
            media_type: "application/fhir+json".into(),
            content: content.clone(),
            custodians: custodians.clone(),
        },
        None,
    )
    .await?;

    // 3. Grants.
    eprintln!("granting {} times...", args.grants.max(args.readers));
    let now = client.status().await?.latest.time_ms;
    let mut nonce = client.next_nonce(&patient.party_id).await?;
    let base: u64 = rand_salt_base();
    let count = args.grants.max(args.readers);
    let mut grant_ids = Vec::with_capacity(args.readers);
    let txs: Vec<SignedTransaction> = (0..count)
        .map(|i| {
            let salt = Hash32(
                medchain_types::hash_parts(
                    b"medchain/bench-grant",
                    &[&base.to_be_bytes(), &(i as u64).to_be_bytes()],
                )
                .0,
            );
            if i < args.readers {
                grant_ids.push(GrantId::derive(&patient.party_id, &salt));
            }
            let tx = patient.sign(
                &chain,
                nonce,
                TxBody::Record(RecordOp::Grant {
                    salt,
                    grantee: readers[i % args.readers].party_id,
                    scope: Scope::Records(vec![record]),
                    read: true,
                    write: false,
                    purpose: Purpose::Treatment,
                    valid_from_ms: now,
                    valid_until_ms: now + 86_400_000,
                    condition: None,
                }),
            );
            nonce += 1;
            tx
        })
        .collect();
    let started = Instant::now();
    send_pipelined(client, &txs).await?;
    let grant_time = started.elapsed();

    // 4. Keys, shared with each reader at each custodian.
    eprintln!("sharing the key with {} readers...", readers.len());
    let opened = records::read(
        client,
        &patient,
        &record,
        0,
        AccessBasis::Patient,
        Purpose::PatientRequest,
        custodians[0],
    )
    .await?;
    for reader in &readers {
        records::share_key(
            client,
            &patient,
            &record,
            opened.version,
            &reader.party_id,
            &reader.encryption_key(),
            opened.data_key(),
        )
        .await?;
    }
    // Let the other custodians receive their replicas.
    tokio::time::sleep(Duration::from_secs(3)).await;

    // 5. Audited reads.
    eprintln!(
        "reading {} times, {} in flight, over {} node(s)...",
        args.reads,
        args.concurrency,
        clients.len()
    );
    let mut nonces = Vec::with_capacity(readers.len());
    for reader in &readers {
        nonces.push(AtomicU64::new(client.next_nonce(&reader.party_id).await?));
    }
    let nonces = Arc::new(nonces);
    // sessions[node][reader]
    let mut sessions = Vec::new();
    if !args.party_signatures {
        for client in &clients {
            let mut opened = Vec::with_capacity(readers.len());
            for reader in &readers {
                opened.push(
                    client
                        .open_session(reader, Some(3_600))
                        .await
                        .context("opening a request-signing session")?,
                );
            }
            sessions.push(opened);
        }
    }
    let sessions = Arc::new(sessions);
    let readers = Arc::new(readers);
    let grant_ids = Arc::new(grant_ids);
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(args.reads)));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let checked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = Instant::now();
    futures::stream::iter(0..args.reads)
        .for_each_concurrent(args.concurrency, |i| {
            let (readers, nonces, grant_ids) = (readers.clone(), nonces.clone(), grant_ids.clone());
            let sessions = sessions.clone();
            let (latencies, failures, checked) =
                (latencies.clone(), failures.clone(), checked.clone());
            let node = i % clients.len();
            let client = clients[node].clone();
            let custodian = custodians[node];
            let chain = chain.clone();
            let content = content.clone();
            async move {
                let k = i % readers.len();
                let reader = &readers[k];
                let nonce = nonces[k].fetch_add(1, Ordering::Relaxed);
                let tx = reader.sign(
                    &chain,
                    nonce,
                    TxBody::Record(RecordOp::Access {
                        record,
                        version: 0,
                        basis: AccessBasis::Grant(grant_ids[k]),
                        purpose: Purpose::Treatment,
                        custodian,
                    }),
                );
                let body = match serde_json::to_vec(&tx) {
                    Ok(body) => body,
                    Err(err) => {
                        failures.lock().expect("lock").push(err.to_string());
                        return;
                    }
                };
                let at = Instant::now();
                let signer = match sessions.get(node) {
                    Some(opened) => RequestSigner::Session(&opened[k]),
                    None => RequestSigner::Party(reader),
                };
                let answer: Result<RecordReadResponse, _> = client
                    .signed_as(
                        signer,
                        medchain_client::http::Method::POST,
                        &format!("/v1/records/{record}/read"),
                        "application/json",
                        body,
                    )
                    .await;
                match answer {
                    Ok(answer) => {
                        latencies.lock().expect("lock").push(at.elapsed());
                        if !checked.swap(true, Ordering::Relaxed) {
                            let ok = check(&answer, reader, &content);
                            if let Err(err) = ok {
                                failures.lock().expect("lock").push(format!("check: {err}"));
                            }
                        }
                    }
                    Err(err) => failures.lock().expect("lock").push(err.to_string()),
                }
            }
        })
        .await;
    let read_time = started.elapsed();
    let mut latencies = latencies.lock().expect("lock").clone();
    latencies.sort();
    let failures = failures.lock().expect("lock").clone();
    let result = serde_json::json!({
        "validators": status.validators.len(),
        "nodes_read_from": clients.len(),
        "record_bytes": args.size,
        "grants": count,
        "grants_per_second": count as f64 / grant_time.as_secs_f64(),
        "reads_ok": latencies.len(),
        "reads_failed": failures.len(),
        "first_failures": failures.iter().take(3).collect::<Vec<_>>(),
        "audited_reads_per_second": latencies.len() as f64 / read_time.as_secs_f64(),
        "read_latency_ms": { "p50": crate::bench::percentile_ms(&latencies, 0.5), "p99": crate::bench::percentile_ms(&latencies, 0.99), "max": crate::bench::percentile_ms(&latencies, 1.0) },
        "concurrency": args.concurrency,
        "request_signatures": if args.party_signatures { "ed25519" } else { "session hmac-sha256" },
        "readers": readers.len(),
    });
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}

/// Decrypts an answer and compares it with what was written.
fn check(answer: &RecordReadResponse, reader: &PartyKeys, content: &[u8]) -> anyhow::Result<()> {
    use base64::Engine as _;
    let sealed = base64::engine::general_purpose::STANDARD.decode(&answer.ciphertext)?;
    let wrapped = medchain_envelope::WrappedKey::from_bytes(&hex::decode(&answer.wrapped_key)?)?;
    let binding = medchain_envelope::Binding {
        record: Hash32(answer.record.0),
        version: answer.version,
    };
    let key = medchain_envelope::unwrap(
        &reader.encryption_secret,
        &reader.party_id,
        &wrapped,
        &binding,
    )?;
    let plaintext = medchain_envelope::open(&key, &binding, &answer.media_type, &sealed)?;
    anyhow::ensure!(
        &plaintext[32..] == content,
        "the content read differs from what was written"
    );
    Ok(())
}

fn rand_salt_base() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
