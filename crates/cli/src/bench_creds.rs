//! `medchain bench-creds`: credential issuance, revocation and verification against a running
//! dev chain, at growing registry sizes, from several issuers at once.
//!
//! Setup (through governance, skipped when already done): the dev chain's licensing board and
//! `--issuers - 1` more boards are admitted and accredited. Then, for each target size:
//! - the registry grows to the size, the issuers sending concurrently, each keeping its
//!   mempool window full (a party may have up to 4,096 transactions pending);
//! - the last `--steady` issuances before the size is reached are timed on their own, so the
//!   issue rate is measured at that registry size, not averaged over its growth;
//! - `--revocations` credentials are revoked, the issuers again concurrent (revoke tx/s);
//! - public checks with proofs are requested for random holders (verifications/s, p50/p99).
//!
//! The proofs of one answer at each size are also verified offline against the genesis.

use anyhow::{Context as _, bail};
use clap::Args;
use medchain_client::{Client, keys::PartyKeys};
use medchain_types::{
    ChainId, Event, GovernanceAction, PartyId, Role, Roles, SignedTransaction, TxBody, TxHash,
    api::TxState,
    credential::{CredentialId, CredentialStatus, CredentialType, Jurisdiction, number_commitment},
};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct BenchCredsArgs {
    #[command(flatten)]
    node: crate::commands::NodeUrl,
    /// Registry sizes to measure at, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,1000000")]
    sizes: Vec<usize>,
    /// Accredited issuers sending at once (the dev licensing board and benchmark boards).
    #[arg(long, default_value_t = 4)]
    issuers: usize,
    /// Issuances timed at each size: the last ones before the size is reached.
    #[arg(long, default_value_t = 20_000)]
    steady: usize,
    /// Credentials revoked at each size.
    #[arg(long, default_value_t = 20_000)]
    revocations: usize,
    /// Verification requests at each size.
    #[arg(long, default_value_t = 2_000)]
    checks: usize,
    /// Verification requests in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Only run the checks, against a registry an earlier run filled to each size.
    #[arg(long)]
    checks_only: bool,
    /// The genesis file, to verify a sample of proofs offline.
    #[arg(long)]
    genesis: std::path::PathBuf,
}

/// Transactions one party keeps pending at most (below the node's 4,096 nonce window).
const WINDOW: usize = 4_000;
/// Transactions per batch request.
const BATCH: usize = 500;

fn subject(index: usize) -> PartyId {
    PartyId(
        medchain_types::hash_parts(b"medchain/bench-subject", &[&(index as u64).to_be_bytes()]).0,
    )
}

fn commitment(index: usize) -> medchain_types::Hash32 {
    number_commitment(&[1; 32], &index.to_string())
}

/// The issuers: the dev licensing board, then benchmark boards with deterministic keys.
fn issuer_keys(count: usize) -> Vec<PartyKeys> {
    (0..count)
        .map(|k| {
            if k == 0 {
                PartyKeys::dev("licensing-board")
            } else {
                let seed = |what: &[u8]| {
                    medchain_types::hash_parts(b"medchain/bench-issuer", &[what, &[k as u8]]).0
                };
                PartyKeys::from_seeds(seed(b"signing"), seed(b"encryption"))
            }
        })
        .collect()
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

/// Sends one signer's transactions (consecutive nonces) in batches, keeping at most
/// [`WINDOW`] pending, and waits for the last to commit.
async fn send_pipelined(client: &Client, txs: &[SignedTransaction]) -> anyhow::Result<()> {
    let mut sent = 0;
    for batch in txs.chunks(BATCH) {
        let end = sent + batch.len();
        if end > WINDOW {
            wait_all(client, &[txs[end - WINDOW - 1].hash()]).await?;
        }
        let answer = client.submit_batch(batch).await?;
        if let Some(problem) = answer.results.iter().find_map(|item| item.problem.as_ref()) {
            bail!("submission refused: {}", problem.detail);
        }
        sent = end;
    }
    if let Some(last) = txs.last() {
        wait_all(client, &[last.hash()]).await?;
    }
    Ok(())
}

/// Sends every issuer's transactions at once; returns the time until all committed.
async fn send_all(
    client: &Client,
    per_issuer: Vec<Vec<SignedTransaction>>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let sends = per_issuer.iter().map(|txs| send_pipelined(client, txs));
    for result in futures::future::join_all(sends).await {
        result?;
    }
    Ok(started.elapsed())
}

/// Runs a governance action: proposed by the hospital, approved by the clinic.
async fn govern(client: &Client, chain: &ChainId, action: GovernanceAction) -> anyhow::Result<()> {
    let hospital = PartyKeys::dev("hospital");
    let nonce = client.next_nonce(&hospital.party_id).await?;
    let body = TxBody::Propose {
        action,
        ttl_ms: 600_000,
    };
    let opened = client
        .submit(&hospital.sign(chain, nonce, body), true)
        .await?;
    let proposal = opened
        .events
        .iter()
        .find_map(|event| match event {
            Event::ProposalOpened { proposal, .. } => Some(*proposal),
            _ => None,
        })
        .with_context(|| format!("the proposal did not open: {opened:?}"))?;
    let clinic = PartyKeys::dev("clinic");
    let nonce = client.next_nonce(&clinic.party_id).await?;
    let approved = client
        .submit(
            &clinic.sign(chain, nonce, TxBody::Approve { proposal }),
            true,
        )
        .await?;
    if !approved
        .events
        .contains(&Event::ProposalExecuted { proposal })
    {
        bail!("proposal {proposal} did not execute: {approved:?}");
    }
    Ok(())
}

/// Signs, per issuer, the issuance of the credentials with indices in `range` (index `i`
/// belongs to issuer `i % issuers`).
async fn issuance(
    client: &Client,
    chain: &ChainId,
    issuers: &[PartyKeys],
    range: std::ops::Range<usize>,
    physician: &CredentialType,
    us: &Jurisdiction,
) -> anyhow::Result<Vec<Vec<SignedTransaction>>> {
    let now = client.status().await?.latest.time_ms;
    let mut per_issuer = Vec::with_capacity(issuers.len());
    for (k, issuer) in issuers.iter().enumerate() {
        let mut nonce = client.next_nonce(&issuer.party_id).await?;
        let txs = range
            .clone()
            .filter(|index| index % issuers.len() == k)
            .map(|index| {
                let tx = issuer.sign(
                    chain,
                    nonce,
                    TxBody::IssueCredential {
                        subject: subject(index),
                        credential_type: physician.clone(),
                        jurisdiction: us.clone(),
                        number_commitment: commitment(index),
                        specialty: None,
                        valid_from_ms: now,
                        valid_until_ms: now + 365 * 86_400_000,
                    },
                );
                nonce += 1;
                tx
            })
            .collect();
        per_issuer.push(txs);
    }
    Ok(per_issuer)
}

/// Checks random holders with proofs, `--concurrency` at a time, after verifying one answer's
/// proofs offline. Returns the rate of successful checks and their sorted latencies.
async fn checks(
    client: &Client,
    genesis: &medchain_types::Genesis,
    args: &BenchCredsArgs,
    size: usize,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    eprintln!("checking {} holders with proofs...", args.checks);
    let verifier = medchain_client::proven::Verifier::new(genesis.clone());
    let sample = medchain_client::credentials::check_proven(
        client,
        &verifier,
        &subject(size / 2),
        &medchain_types::credential::CredentialType::new("physician_licence")?,
        Some(&medchain_types::credential::Jurisdiction::new("US")?),
        None,
    )
    .await?
    .answer;
    if sample.credentials.is_empty() {
        bail!(
            "holder {} has no credential: is the registry filled to {size}?",
            size / 2
        );
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
                    .credential_check(&subject(index), "physician_licence", Some("US"), None, true)
                    .await
                    .is_ok()
                {
                    latencies.lock().expect("lock").push(at.elapsed());
                }
            }
        })
        .await;
    let elapsed = started.elapsed();
    let mut latencies = latencies.lock().expect("lock").clone();
    latencies.sort();
    Ok((latencies.len() as f64 / elapsed.as_secs_f64(), latencies))
}

pub async fn run(args: BenchCredsArgs) -> anyhow::Result<()> {
    if args.issuers == 0 || args.issuers > 64 {
        bail!("--issuers must be 1 to 64, found {}", args.issuers);
    }
    let client = Client::new(&args.node.url);
    let genesis = crate::setup::load_genesis(&args.genesis)?;
    let status = client.status().await.context("cannot reach the node")?;
    let chain = status.chain_id.clone();
    let issuers = issuer_keys(args.issuers);
    let physician = CredentialType::new("physician_licence")?;
    let us = Jurisdiction::new("US")?;
    for (k, issuer) in issuers.iter().enumerate() {
        if args.checks_only {
            break;
        }
        let party = format!("party/{}", issuer.party_id);
        if k > 0 && client.state(&party, false).await?.value.is_none() {
            eprintln!("admitting benchmark board {k}...");
            govern(
                &client,
                &chain,
                GovernanceAction::AddOrganisation {
                    label: format!("Benchmark Medical Board {k}"),
                    signing_key: issuer.public_key(),
                    encryption_key: issuer.encryption_key(),
                    roles: Roles::new([Role::CredentialIssuer]),
                },
            )
            .await?;
        }
        let accreditation = format!("accreditation/{}", issuer.party_id);
        if client.state(&accreditation, false).await?.value.is_none() {
            eprintln!("accrediting issuer {k}...");
            govern(
                &client,
                &chain,
                GovernanceAction::AccreditIssuer {
                    issuer: issuer.party_id,
                    credential_types: vec![physician.clone()],
                    jurisdictions: vec![us.clone()],
                },
            )
            .await?;
        }
    }
    let mut issued = 0usize;
    let mut revoked_so_far = 0usize;
    for &size in &args.sizes {
        if size <= issued {
            bail!("--sizes must increase; {size} follows {issued}");
        }
        if args.checks_only {
            let (rate, latencies) = checks(&client, &genesis, &args, size).await?;
            let result = serde_json::json!({
                "registry_size": size,
                "checks_ok": latencies.len(),
                "checks_with_proof_per_second": rate,
                "check_latency_ms": { "p50": crate::bench::percentile_ms(&latencies, 0.5), "p99": crate::bench::percentile_ms(&latencies, 0.99) },
            });
            println!("{}", serde_json::to_string_pretty(&result)?);
            issued = size;
            continue;
        }
        // Grow to `size - steady` (timed only for the record), then time the last `steady`.
        let steady_from = size.saturating_sub(args.steady).max(issued);
        let growth_issued = steady_from - issued;
        let mut growth_time = Duration::ZERO;
        for start in (issued..steady_from).step_by(200_000) {
            let end = (start + 200_000).min(steady_from);
            eprintln!("issuing {start}..{end}...");
            let txs = issuance(&client, &chain, &issuers, start..end, &physician, &us).await?;
            growth_time += send_all(&client, txs).await?;
        }
        eprintln!("issuing {steady_from}..{size} (timed)...");
        let txs = issuance(
            &client,
            &chain,
            &issuers,
            steady_from..size,
            &physician,
            &us,
        )
        .await?;
        let steady_time = send_all(&client, txs).await?;
        let steady = size - steady_from;
        issued = size;

        // Revoke the most recently issued credentials not yet revoked.
        let revocations = args.revocations.min(size - revoked_so_far);
        let mut per_issuer = Vec::with_capacity(issuers.len());
        for (k, issuer) in issuers.iter().enumerate() {
            let mut nonce = client.next_nonce(&issuer.party_id).await?;
            let txs: Vec<SignedTransaction> = (0..revocations)
                .map(|j| size - 1 - j)
                .filter(|index| index % issuers.len() == k)
                .map(|index| {
                    let id = CredentialId::derive(
                        &issuer.party_id,
                        &subject(index),
                        &physician,
                        &us,
                        &commitment(index),
                    );
                    let tx = issuer.sign(
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
            per_issuer.push(txs);
        }
        eprintln!("revoking {revocations}...");
        let revoke_time = send_all(&client, per_issuer).await?;
        revoked_so_far += revocations;

        let (rate, latencies) = checks(&client, &genesis, &args, size).await?;
        let result = serde_json::json!({
            "registry_size": size,
            "issuers": issuers.len(),
            "growth": {
                "issued": growth_issued,
                "seconds": growth_time.as_secs_f64(),
            },
            "steady_issued": steady,
            "issue_tx_per_second": steady as f64 / steady_time.as_secs_f64(),
            "revoked_now": revocations,
            "revoke_tx_per_second": revocations as f64 / revoke_time.as_secs_f64(),
            "checks_ok": latencies.len(),
            "checks_with_proof_per_second": rate,
            "check_latency_ms": { "p50": crate::bench::percentile_ms(&latencies, 0.5), "p99": crate::bench::percentile_ms(&latencies, 0.99) },
        });
        println!("{}", serde_json::to_string_pretty(&result)?);
    }
    Ok(())
}
