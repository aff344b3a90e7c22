//! `medchain verify-pack`: anyone checks a scanned pack.

use crate::commands::{NodeUrl, print_json};
use anyhow::Context;
use clap::Args;
use medchain_client::Client;
use medchain_types::api::PackVerdict;
use std::path::PathBuf;

/// `medchain verify-pack`
#[derive(Args)]
pub struct VerifyPackArgs {
    /// What the scanner read: a GS1 element string (FNC1 as the GS character, perhaps after a
    /// symbology identifier such as `]d2`), the human-readable form
    /// (`(01)09521234543213(21)ABC123(17)270531(10)L1`) or a Digital Link URI.
    scan: String,
    /// Check every proof in the answer against this genesis file (offline, trusting no node).
    #[arg(long)]
    genesis: Option<PathBuf>,
    /// Print the whole answer as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    node: NodeUrl,
}

pub async fn verify_pack(args: VerifyPackArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.node.url);
    let answer = client
        .verify_pack(&args.scan, args.genesis.is_some())
        .await?;
    if let Some(path) = &args.genesis {
        let genesis = crate::setup::load_genesis(path)?;
        medchain_client::supply::verify_pack_proofs(&genesis, &answer)
            .context("the answer's proofs do NOT verify")?;
        eprintln!(
            "proofs verified against the genesis validators ({} state entries)",
            answer.entries.len()
        );
    }
    if args.json {
        return print_json(&answer);
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
    if let Some(custodian) = answer.custodian {
        match &answer.custodian_label {
            Some(label) => println!("held by: {label} ({custodian})"),
            None => println!("held by: {custodian}"),
        }
    }
    if let Some(to) = answer.in_transit_to {
        println!("in transit to: {to}");
    }
    for sscc in &answer.containers {
        println!("inside: (00){sscc}");
    }
    if !answer.custody.is_empty() {
        println!("chain of custody:");
        for step in &answer.custody {
            let party = step
                .entry
                .party
                .map(|p| format!(" with {p}"))
                .unwrap_or_default();
            println!(
                "  {}  {:<14} {}  by {}{party}",
                medchain_types::time::rfc3339(step.entry.time_ms),
                step.entry.step.name(),
                step.object,
                step.entry.by
            );
        }
    }
    // A verdict other than genuine is an exit status a script can act on.
    if answer.verdict != PackVerdict::Genuine {
        std::process::exit(3);
    }
    Ok(())
}
