//! How a command checks an answer's proofs: `--genesis` (the only thing trusted), and how
//! fresh the proven block must be. With it, a command shows only what it recomputed from the
//! proven entries (`medchain_client::proven`), never the node's own fields.

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
}

impl Trust {
    /// The verifier `--genesis` asks for, if any.
    pub fn verifier(&self) -> anyhow::Result<Option<Verifier>> {
        let Some(path) = &self.genesis else {
            return Ok(None);
        };
        let genesis = crate::setup::load_genesis(path)?;
        Ok(Some(
            Verifier::new(genesis)
                .with_max_age_ms(self.max_age_secs.saturating_mul(1000))
                .with_floor(self.min_height),
        ))
    }
}
