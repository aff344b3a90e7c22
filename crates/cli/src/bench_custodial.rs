//! `medchain bench-custodial`: custodial sign-ins and reads against a running dev chain (or any
//! node with a custodial keystore, given its organisation's keys).
//!
//! 1. The organisation opens `--accounts` patient accounts (fresh usernames each run) and
//!    registers their parties; each user activates theirs.
//! 2. A practitioner-free setup: each user writes one `--size`-byte record of their own
//!    through the node (sealed client-side, the node signing and wrapping as the user).
//! 3. Sign-ins: every user signs in at once (password + TOTP). Each sign-in runs Argon2id
//!    (64 MiB, 3 passes) on the node, at most two at a time. Reports sign-ins/s and latency.
//! 4. Custodial reads: `--reads` audited reads of the users' own records, one in flight per
//!    user, through the SDK as a custodial user reads (the node signs the access transaction,
//!    the custodian commits it and serves the ciphertext, the node unwraps the key, the client
//!    opens and checks the content against the chain). Reports reads/s and latency.

use crate::commands::load_signer;
use anyhow::{Context as _, bail};
use clap::Args;
use futures::StreamExt as _;
use medchain_client::{
    Client,
    custodial::{self, Custodial},
    records::{self, NewRecord},
};
use medchain_types::{
    PartyKind, Roles,
    records::{AccessBasis, Purpose, ResourceType},
    totp,
};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct BenchCustodialArgs {
    /// The node to measure (a URL; default the local dev node, or MEDCHAIN_NODE).
    #[arg(
        long = "node",
        env = "MEDCHAIN_NODE",
        default_value = "http://127.0.0.1:8080"
    )]
    node: String,
    /// The organisation whose accounts the node keeps: a key file, or dev:<name>.
    #[arg(long = "as", default_value = "dev:hospital")]
    organisation: String,
    /// Custodial accounts to open and sign in.
    #[arg(long, default_value_t = 32)]
    accounts: usize,
    /// Audited record reads to time, spread over the accounts.
    #[arg(long, default_value_t = 2_000)]
    reads: usize,
    /// Record size in bytes.
    #[arg(long, default_value_t = 4_096)]
    size: usize,
}

const PASSWORD: &str = "bench-custodial-passphrase";

pub async fn run(args: BenchCustodialArgs) -> anyhow::Result<()> {
    if args.accounts == 0 {
        bail!("--accounts must be at least 1");
    }
    let client = Client::new(&args.node);
    let node_party = client
        .status()
        .await
        .context("cannot reach the node")?
        .node_party
        .context("the node is run by no organisation")?;
    let organisation = load_signer(&args.organisation)?;
    let run = hex::encode(medchain_envelope::random::<4>()?);

    // 1. Accounts.
    eprintln!("opening and activating {} accounts...", args.accounts);
    let mut users = Vec::new();
    for index in 0..args.accounts {
        let username = format!("bench.{run}.{index}");
        let invited = custodial::invite(
            &client,
            &organisation,
            &username,
            PartyKind::Patient,
            "",
            Roles::default(),
        )
        .await?;
        let enrolled =
            custodial::activate(&client, &username, &invited.activation_code, PASSWORD).await?;
        let secret = totp::base32_decode(&enrolled.totp_secret).context("base32")?;
        users.push((username, secret));
    }

    // 3 before 2: the records are written by signed-in users.
    eprintln!("signing {} users in at once...", users.len());
    let started = Instant::now();
    let results: Vec<anyhow::Result<(Custodial, Duration)>> =
        futures::stream::iter(users.iter().map(|(username, secret)| {
            let client = client.clone();
            async move {
                let began = Instant::now();
                let signed_in = custodial::sign_in(
                    &client,
                    username,
                    PASSWORD,
                    &totp::code(secret, medchain_node::accounts::AccountStore::now()),
                    Some(3_600),
                )
                .await?;
                Ok((signed_in, began.elapsed()))
            }
        }))
        .buffer_unordered(users.len())
        .collect()
        .await;
    let sign_in_secs = started.elapsed().as_secs_f64();
    let mut sessions = Vec::new();
    let mut latencies = Vec::new();
    for result in results {
        let (session, latency) = result?;
        sessions.push(session);
        latencies.push(latency);
    }
    latencies.sort();
    println!(
        "sign-ins: {} in {:.2} s = {:.1}/s; latency p50 {:.0} ms, p99 {:.0} ms (Argon2id 64 MiB x 3 passes on the node)",
        sessions.len(),
        sign_in_secs,
        sessions.len() as f64 / sign_in_secs,
        crate::bench::percentile_ms(&latencies, 0.5),
        crate::bench::percentile_ms(&latencies, 0.99)
    );

    // 2. One record per user, written as the user.
    eprintln!(
        "writing {} records of {} bytes...",
        sessions.len(),
        args.size
    );
    let content: Vec<u8> = (0..args.size)
        .map(|i| b"synthetic-diary-entry "[i % 22])
        .collect();
    let mut records_of = Vec::new();
    for session in &sessions {
        let (record, _) = records::put(
            &client,
            session,
            None,
            &NewRecord {
                patient: custodial::Holder::party_id(session),
                resource_type: ResourceType::new("DocumentReference")?,
                category: None,
                media_type: "text/plain".into(),
                content: content.clone(),
                custodians: vec![node_party],
            },
            None,
        )
        .await?;
        records_of.push(record);
    }

    // 4. Custodial reads, one in flight per user.
    eprintln!("{} custodial reads...", args.reads);
    let per_user = args.reads.div_ceil(sessions.len());
    let started = Instant::now();
    let results: Vec<anyhow::Result<Vec<Duration>>> =
        futures::stream::iter(sessions.iter().zip(&records_of).map(|(session, record)| {
            let client = client.clone();
            let content = &content;
            async move {
                let mut latencies = Vec::with_capacity(per_user);
                for _ in 0..per_user {
                    let began = Instant::now();
                    let read = records::read(
                        &client,
                        session,
                        record,
                        0,
                        AccessBasis::Patient,
                        Purpose::PatientRequest,
                        node_party,
                    )
                    .await?;
                    latencies.push(began.elapsed());
                    if &read.content != content {
                        bail!("a read returned other content");
                    }
                }
                Ok(latencies)
            }
        }))
        .buffer_unordered(sessions.len())
        .collect()
        .await;
    let read_secs = started.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    for result in results {
        latencies.extend(result?);
    }
    latencies.sort();
    println!(
        "custodial reads ({} B): {} in {:.2} s = {:.0}/s; latency p50 {:.1} ms, p99 {:.1} ms ({} users, one read in flight each)",
        args.size,
        latencies.len(),
        read_secs,
        latencies.len() as f64 / read_secs,
        crate::bench::percentile_ms(&latencies, 0.5),
        crate::bench::percentile_ms(&latencies, 0.99),
        sessions.len()
    );
    for session in sessions {
        session.sign_out().await.ok();
    }
    Ok(())
}
