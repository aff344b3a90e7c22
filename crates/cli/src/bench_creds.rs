//! `medchain bench-creds`: credential issuance, revocation and verification against a running
//! dev chain, at growing registry sizes.
//!
//! The dev chain's licensing board is accredited (through governance, if it is not yet), then
//! for each target size: credentials are issued in batches until the registry holds that many
//! (issue tx/s is measured), a sample is revoked (revoke tx/s), and public checks with proofs
//! are requested for random holders (verifications/s and p50/p99 latency). The proofs of the
//! first answers are also verified offline against the genesis.

use anyhow::{Context as _, bail};
use clap::Args;
use medchain_client::{Client, keys::PartyKeys};
use medchain_types::{
    GovernanceAction, PartyId, SignedTransaction, TxBody, TxHash,
    api::TxState,
    credential::{CredentialId, CredentialStatus, CredentialType, Jurisdiction, number_commitment},
};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct BenchCredsArgs {
    #[arg(
        long = "node",
        env = "MEDCHAIN_NODE",
        default_value = "http://127.0.0.1:8080"
    )]
    node: String,
    /// Registry sizes to measure at, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,1000000")]
    sizes: Vec<usize>,
    /// Credentials revoked at each size.
    #[arg(long, default_value_t = 2_000)]
    revocations: usize,
    /// Verification requests at each size.
    #[arg(long, default_value_t = 2_000)]
    checks: usize,
    /// Verification requests in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// The genesis file, to verify a sample of proofs offline.
    #[arg(long)]
    genesis: std::path::PathBuf,
}

fn subject(index: usize) -> PartyId {
    PartyId(
        medchain_types::hash_parts(b"medchain/bench-subject", &[&(index as u64).to_be_bytes()]).0,
    )
}

async fn wait_all(client: &Client, hashes: &[TxHash]) -> anyhow::Result<()> {
    for hash in hashes {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match client.tx_status(hash).await?.status {
                TxState::Committed => break,
                TxState::Rejected | TxState::Denied => bail!("transaction {hash} was refused"),
                _ if Instant::now() > deadline => bail!("transaction {hash} did not commit"),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
    Ok(())
}

/// Sends `txs` (one signer, consecutive nonces) in windows the mempool accepts, and waits for
/// all to commit. Returns the elapsed time.
async fn send_all(client: &Client, txs: Vec<SignedTransaction>) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for window in txs.chunks(4_000) {
        for batch in window.chunks(500) {
            let answer = client.submit_batch(batch).await?;
            if let Some(problem) = answer.results.iter().find_map(|item| item.problem.as_ref()) {
                bail!("submission refused: {}", problem.detail);
            }
        }
        let last = [window[window.len() - 1].hash()];
        wait_all(client, &last).await?;
    }
    Ok(started.elapsed())
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize].as_secs_f64() * 1e3
}

pub async fn run(args: BenchCredsArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.node);
    let genesis = crate::setup::load_genesis(&args.genesis)?;
    let status = client.status().await.context("cannot reach the node")?;
    let chain = status.chain_id.clone();
    let board = PartyKeys::dev("licensing-board");
    let physician = CredentialType::new("physician_licence")?;
    let us = Jurisdiction::new("US")?;
    // Accredit the board if needed.
    if client
        .state(&format!("accreditation/{}", board.party_id), false)
        .await?
        .value
        .is_none()
    {
        for (who, body) in [
            (
                PartyKeys::dev("hospital"),
                TxBody::Propose {
                    action: GovernanceAction::AccreditIssuer {
                        issuer: board.party_id,
                        credential_types: vec![physician.clone()],
                        jurisdictions: vec![us.clone()],
                    },
                    ttl_ms: 600_000,
                },
            ),
            (PartyKeys::dev("clinic"), TxBody::Approve { proposal: 0 }),
        ] {
            let nonce = client.next_nonce(&who.party_id).await?;
            let answer = client.submit(&who.sign(&chain, nonce, body), true).await?;
            if answer.status != TxState::Committed {
                bail!("accrediting the board failed: {answer:?}");
            }
        }
    }
    let mut issued = 0usize;
    let mut revoked_so_far = 0usize;
    let mut results = Vec::new();
    for &size in &args.sizes {
        // Issue up to `size`.
        let mut nonce = client.next_nonce(&board.party_id).await?;
        let now = client.status().await?.latest.time_ms;
        let txs: Vec<SignedTransaction> = (issued..size)
            .map(|index| {
                let tx = board.sign(
                    &chain,
                    nonce,
                    TxBody::IssueCredential {
                        subject: subject(index),
                        credential_type: physician.clone(),
                        jurisdiction: us.clone(),
                        number_commitment: number_commitment(&[1; 32], &index.to_string()),
                        specialty: None,
                        valid_from_ms: now,
                        valid_until_ms: now + 365 * 86_400_000,
                    },
                );
                nonce += 1;
                tx
            })
            .collect();
        let count = txs.len();
        eprintln!("issuing {count} credentials (registry to {size})...");
        let issue_time = send_all(&client, txs).await?;
        issued = size;
        // Revoke a sample (the most recently issued ones not yet revoked).
        let revocations = args.revocations.min(size - revoked_so_far);
        let mut nonce = client.next_nonce(&board.party_id).await?;
        let txs: Vec<SignedTransaction> = (0..revocations)
            .map(|k| {
                let index = size - 1 - k;
                let id = CredentialId::derive(
                    &board.party_id,
                    &subject(index),
                    &physician,
                    &us,
                    &number_commitment(&[1; 32], &index.to_string()),
                );
                let tx = board.sign(
                    &chain,
                    nonce,
                    TxBody::SetCredentialStatus {
                        credential: id,
                        status: CredentialStatus::Revoked,
                        reason: "bench".into(),
                    },
                );
                nonce += 1;
                tx
            })
            .collect();
        eprintln!("revoking {revocations}...");
        let revoke_time = send_all(&client, txs).await?;
        revoked_so_far += revocations;
        // Verify random holders with proofs.
        eprintln!("checking {} holders with proofs...", args.checks);
        let sample = client
            .credential_check(
                &subject(size / 2),
                "physician_licence",
                Some("US"),
                None,
                true,
            )
            .await?;
        medchain_client::verify::verify_state(&genesis, &sample.index)?;
        for checked in &sample.credentials {
            medchain_client::verify::verify_state(&genesis, &checked.entry)?;
        }
        let started = Instant::now();
        let latencies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        use futures::StreamExt as _;
        futures::stream::iter(0..args.checks)
            .for_each_concurrent(args.concurrency, |k| {
                let client = client.clone();
                let latencies = latencies.clone();
                async move {
                    let index = (k.wrapping_mul(2_654_435_761)) % size;
                    let at = Instant::now();
                    if client
                        .credential_check(
                            &subject(index),
                            "physician_licence",
                            Some("US"),
                            None,
                            true,
                        )
                        .await
                        .is_ok()
                    {
                        latencies.lock().expect("lock").push(at.elapsed());
                    }
                }
            })
            .await;
        let check_time = started.elapsed();
        let mut latencies = latencies.lock().expect("lock").clone();
        latencies.sort();
        let result = serde_json::json!({
            "registry_size": size,
            "issued_now": count,
            "issue_tx_per_second": count as f64 / issue_time.as_secs_f64(),
            "revoked_now": revocations,
            "revoke_tx_per_second": revocations as f64 / revoke_time.as_secs_f64(),
            "checks_ok": latencies.len(),
            "checks_with_proof_per_second": latencies.len() as f64 / check_time.as_secs_f64(),
            "check_latency_ms": { "p50": percentile(&latencies, 0.5), "p99": percentile(&latencies, 0.99) },
        });
        println!("{}", serde_json::to_string_pretty(&result)?);
        results.push(result);
    }
    Ok(())
}
