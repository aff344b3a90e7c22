//! How a command checks an answer's proofs: `--genesis` (the only thing trusted), and how
//! fresh the proven block must be. With it, a command shows only what it recomputed from the
//! proven entries (`medchain_client::proven`), never the node's own fields.
//!
//! The CLI remembers, per chain (by genesis digest), the highest height it has seen proven,
//! in `$MEDCHAIN_HOME/trust/<digest>.height` (default `~/.medchain`), and refuses any answer
//! proven below it: a node cannot show this machine an older state than it already saw, even
//! across runs. `--no-remember` turns the memory off for one command.

use clap::Args;
use medchain_client::proven::Verifier;
use std::path::PathBuf;

/// Checking an answer's proofs.
#[derive(Args, Clone, Debug)]
pub struct Trust {
    /// Check every proof in the answer offline against this genesis file, trusting no node:
    /// what is shown is recomputed from the proven state entries.
    #[arg(long)]
    pub genesis: Option<PathBuf>,
    /// With --genesis: refuse an answer proven against a block older than this many seconds
    /// by this machine's clock (a stalled chain, or a genuine old answer replayed).
    #[arg(long, default_value_t = 120)]
    pub max_age_secs: u64,
    /// With --genesis: refuse an answer proven below this height (one already seen
    /// finalized).
    #[arg(long, default_value_t = 0)]
    pub min_height: u64,
    /// With --genesis: neither read nor update the highest height this machine has seen
    /// proven for the chain.
    #[arg(long)]
    pub no_remember: bool,
}

/// Where the highest proven height of a chain is remembered, if there is a home for it.
fn memory_file(genesis: &medchain_types::Genesis) -> Option<PathBuf> {
    let home = std::env::var_os("MEDCHAIN_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".medchain")))?;
    Some(
        home.join("trust")
            .join(format!("{}.height", genesis.digest().to_hex())),
    )
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
    /// The verifier `--genesis` asks for, if any.
    pub fn verifier(&self) -> anyhow::Result<Option<Verifier>> {
        let Some(path) = &self.genesis else {
            return Ok(None);
        };
        let genesis = crate::setup::load_genesis(path)?;
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
