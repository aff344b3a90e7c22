//! How a command checks an answer's proofs: against a genesis (the only thing trusted), and
//! how fresh the proven block must be. A command shows only what it recomputed from the
//! proven entries (`medchain_client::proven`), never the node's own fields.
//!
//! The genesis is `--genesis`, or else the one this machine knows for the chain the node
//! says it runs: the chains a machine trusts are kept in `$MEDCHAIN_HOME/chains/<genesis
//! digest>.json`, written when it makes a chain (`medchain node --dev`, `medchain testnet`)
//! or told of one (`medchain trust add <genesis.json>`). Asking the node which chain it runs
//! trusts it with nothing: a node naming another chain's digest is checked against that
//! chain's validators, and one naming a chain this machine does not know is refused. Only
//! `--unverified` shows a node's answer unchecked, and says so.
//!
//! The CLI remembers, per chain (by genesis digest), the highest height it has seen proven,
//! in `$MEDCHAIN_HOME/trust/<digest>.height` (default `~/.medchain`), and refuses any answer
//! proven below it: a node cannot show this machine an older state than it already saw, even
//! across runs. `--no-remember` turns the memory off for one command.

use clap::{Args, Subcommand};
use medchain_client::proven::Verifier;
use std::path::PathBuf;

/// Checking an answer's proofs.
#[derive(Args, Clone, Debug)]
pub struct Trust {
    /// Check every proof in the answer offline against this genesis file, trusting no node:
    /// what is shown is recomputed from the proven state entries. Default: the genesis this
    /// machine knows for the node's chain (`medchain trust list`).
    #[arg(long)]
    pub genesis: Option<PathBuf>,
    /// Show the node's answer as it said it, checked against nothing (for a chain whose
    /// genesis this machine does not know).
    #[arg(long, conflicts_with = "genesis")]
    pub unverified: bool,
    /// Refuse an answer proven against a block older than this many seconds
    /// by this machine's clock (a stalled chain, or a genuine old answer replayed).
    #[arg(long, default_value_t = 120)]
    pub max_age_secs: u64,
    /// Refuse an answer proven below this height (one already seen
    /// finalized).
    #[arg(long, default_value_t = 0)]
    pub min_height: u64,
    /// Neither read nor update the highest height this machine has seen
    /// proven for the chain.
    #[arg(long)]
    pub no_remember: bool,
}

/// `$MEDCHAIN_HOME`, by default `~/.medchain`, if there is a home for it.
fn home() -> Option<PathBuf> {
    std::env::var_os("MEDCHAIN_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".medchain")))
}

/// Where the highest proven height of a chain is remembered, if there is a home for it.
fn memory_file(genesis: &medchain_types::Genesis) -> Option<PathBuf> {
    Some(
        home()?
            .join("trust")
            .join(format!("{}.height", genesis.digest().to_hex())),
    )
}

/// Where the genesis files of the chains this machine trusts are kept.
fn chains_dir() -> anyhow::Result<PathBuf> {
    home()
        .map(|home| home.join("chains"))
        .ok_or_else(|| anyhow::anyhow!("neither MEDCHAIN_HOME nor HOME is set"))
}

/// Trusts `genesis` from now on: keeps it as `chains/<digest>.json` (once). Answers where.
pub fn add_chain(genesis: &medchain_types::Genesis) -> anyhow::Result<PathBuf> {
    use anyhow::Context as _;
    genesis
        .validate()
        .map_err(|err| anyhow::anyhow!("not a valid genesis: {err}"))?;
    let dir = chains_dir()?;
    let path = dir.join(format!("{}.json", genesis.digest().to_hex()));
    if !path.exists() {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let temporary = path.with_extension(format!("json.{}", std::process::id()));
        let text = serde_json::to_string_pretty(genesis)?;
        std::fs::write(&temporary, text)
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, &path)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(path)
}

/// [`add_chain`] for a chain this machine just made: a failure is a warning (the chain runs
/// either way; commands then need `--genesis`).
pub fn add_made_chain(genesis: &medchain_types::Genesis) {
    if let Err(err) = add_chain(genesis) {
        eprintln!(
            "warning: cannot keep the chain's genesis among the chains this machine trusts: {err:#}"
        );
    }
}

/// The chains this machine trusts: (chain id, genesis digest, file).
pub fn chains() -> anyhow::Result<Vec<(String, String, PathBuf)>> {
    let dir = chains_dir()?;
    let mut out = Vec::new();
    let Ok(listing) = std::fs::read_dir(&dir) else {
        return Ok(out);
    };
    for entry in listing.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        if let Ok(genesis) = crate::setup::load_genesis(&path) {
            out.push((
                genesis.chain_id.to_string(),
                genesis.digest().to_hex(),
                path,
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// The genesis this machine trusts whose digest is `digest`, if it knows one: the file is
/// named by its digest, and must have it.
fn known_genesis(
    digest: &medchain_types::Hash32,
) -> anyhow::Result<Option<medchain_types::Genesis>> {
    let path = chains_dir()?.join(format!("{}.json", digest.to_hex()));
    if !path.exists() {
        return Ok(None);
    }
    let genesis = crate::setup::load_genesis(&path)?;
    anyhow::ensure!(
        genesis.digest() == *digest,
        "{} does not hold the genesis its name says (its digest is {}); remove it and add the chain again",
        path.display(),
        genesis.digest().to_hex()
    );
    Ok(Some(genesis))
}

/// The remembered height (0 when none is, or the file is unreadable).
fn remembered(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

/// Remembers what `verifier` saw proven, if it is higher than what is remembered. A failure
/// to write is reported, not fatal: the answer was checked either way.
pub fn remember(trust: &Trust, verifier: &Verifier) {
    if trust.no_remember {
        return;
    }
    let Some(path) = memory_file(verifier.genesis()) else {
        return;
    };
    let seen = verifier.floor();
    if seen <= remembered(&path) {
        return;
    }
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            let temporary = path.with_extension(format!("height.{}", std::process::id()));
            std::fs::write(&temporary, seen.to_string())?;
            std::fs::rename(&temporary, &path)
        });
    if let Err(err) = written {
        eprintln!(
            "warning: cannot remember height {seen} in {}: {err}",
            path.display()
        );
    }
}

impl Trust {
    /// The verifier an answer from the node at `node_url` is checked with: `--genesis`, or
    /// the genesis this machine trusts for the chain the node runs; `None` only with
    /// `--unverified` (said on stderr).
    pub async fn verifier(&self, node_url: &str) -> anyhow::Result<Option<Verifier>> {
        use anyhow::Context as _;
        let genesis = match &self.genesis {
            Some(path) => crate::setup::load_genesis(path)?,
            None if self.unverified => {
                eprintln!(
                    "warning: --unverified: the node's answer is shown as it gave it, checked against nothing"
                );
                return Ok(None);
            }
            None => {
                let status = medchain_client::Client::new(node_url)
                    .status()
                    .await
                    .with_context(|| format!("cannot ask {node_url} which chain it runs"))?;
                match known_genesis(&status.genesis_digest)? {
                    Some(genesis) => genesis,
                    None => anyhow::bail!(
                        "cannot check the node's answer: this machine does not know chain {} (genesis digest {}). Pass --genesis <file> (the chain's genesis, from its operators), keep it once with `medchain trust add <file>`, or pass --unverified to see the node's answer unchecked",
                        status.chain_id,
                        status.genesis_digest.to_hex()
                    ),
                }
            }
        };
        let seen = match (self.no_remember, memory_file(&genesis)) {
            (false, Some(file)) => remembered(&file),
            _ => 0,
        };
        Ok(Some(
            Verifier::new(genesis)
                .with_max_age_ms(self.max_age_secs.saturating_mul(1000))
                .with_floor(self.min_height.max(seen)),
        ))
    }
}

/// One state entry read from the node at `node_url`, proven unless `--unverified`: with a
/// verifier, the proof must be for `key` itself, and every field shown (the key's text, the
/// value, its rendering `decoded`, the height) must be what the proof shows
/// (`light::verify_under` refuses any other), so the answer is shown as proven.
pub async fn entry(
    trust: &Trust,
    node_url: &str,
    key: &[u8],
) -> anyhow::Result<medchain_types::api::StateResponse> {
    use anyhow::Context as _;
    let verifier = trust.verifier(node_url).await?;
    let text = medchain_state::keys::describe(key);
    let answer = medchain_client::Client::new(node_url)
        .state(&text, verifier.is_some())
        .await?;
    if let Some(verifier) = verifier {
        verifier
            .verify_one(&answer, key)
            .with_context(|| format!("the answer for {text} is NOT proven"))?;
        remember(trust, &verifier);
        note(1, answer.height);
    }
    Ok(answer)
}

/// `n` of a thing, in words: "1 state entry", "2 state entries".
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Says on stderr what a proven answer rests on: `entries` state entries proven at `height`.
pub fn note(entries: usize, height: u64) {
    eprintln!(
        "recomputed from {} proven at height {height}, finalized by a quorum of the genesis validators (checked offline)",
        count(entries, "state entry", "state entries")
    );
}

/// `medchain trust`: the chains this machine trusts.
#[derive(Subcommand)]
pub enum TrustCommand {
    /// Trust a chain: keep its genesis file (from the chain's operators), so commands check
    /// answers from its nodes against its validators without --genesis.
    Add {
        /// The chain's genesis.json.
        file: PathBuf,
    },
    /// The chains this machine trusts.
    List,
}

pub fn trust_command(command: TrustCommand) -> anyhow::Result<()> {
    match command {
        TrustCommand::Add { file } => {
            let genesis = crate::setup::load_genesis(&file)?;
            let kept = add_chain(&genesis)?;
            eprintln!(
                "trusting chain {} (genesis digest {}): kept as {}",
                genesis.chain_id,
                genesis.digest().to_hex(),
                kept.display()
            );
            Ok(())
        }
        TrustCommand::List => {
            let listed: Vec<serde_json::Value> = chains()?
                .into_iter()
                .map(|(chain_id, digest, path)| {
                    serde_json::json!({
                        "chain_id": chain_id,
                        "genesis_digest": digest,
                        "file": path.display().to_string(),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&listed)?);
            Ok(())
        }
    }
}
