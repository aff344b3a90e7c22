//! Node configuration: one TOML file per node; flags and environment override it.
//!
//! ```toml
//! data_dir = "v1"                 # relative paths are relative to this file
//! genesis = "genesis.json"
//! validator_key = "v1.key"
//! p2p_listen = "127.0.0.1:30401"
//! http_listen = "127.0.0.1:8081"
//! http_authorities = ["node1.hospital.example:443"]   # default: the listen address
//! log = "info"
//!
//! [mempool]
//! transactions_max = 200000
//! bytes_max = 268435456
//!
//! [block]
//! transactions_max = 5000
//! idle_wait_ms = 400
//! ```
//!
//! Custodial mode adds `custodial_keystore = "v1.custodial.json"` and, optionally,
//! `custodial_passphrase_file = "v1.passphrase"` (else the `MEDCHAIN_KEYSTORE_PASSPHRASE`
//! environment variable).

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

/// Mempool bounds.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MempoolSection {
    pub transactions_max: usize,
    pub bytes_max: usize,
}

impl Default for MempoolSection {
    fn default() -> Self {
        let limits = medchain_node::mempool::MempoolLimits::default();
        Self {
            transactions_max: limits.transactions_max,
            bytes_max: limits.bytes_max,
        }
    }
}

/// Block building.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockSection {
    pub transactions_max: usize,
    pub idle_wait_ms: u64,
}

impl Default for BlockSection {
    fn default() -> Self {
        let policy = medchain_node::app::BlockPolicy::default();
        Self {
            transactions_max: policy.transactions_max,
            idle_wait_ms: policy.idle_wait.as_millis() as u64,
        }
    }
}

/// Storage.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// Memory for the page cache the databases read through, in MiB, allocated at start.
    pub page_cache_mib: usize,
}

impl Default for StorageSection {
    fn default() -> Self {
        Self {
            page_cache_mib: medchain_node::engine::DEFAULT_PAGE_CACHE_MIB,
        }
    }
}

/// A node's configuration file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub data_dir: PathBuf,
    pub genesis: PathBuf,
    pub validator_key: PathBuf,
    pub p2p_listen: SocketAddr,
    pub http_listen: SocketAddr,
    /// The names (`host:port`) clients reach this node's API by, as a signed request's
    /// `@authority` names it: a request signed for another node is refused. Default: the
    /// HTTP listen address (and `localhost:<port>` when it is a loopback address); required
    /// when listening on all interfaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_authorities: Vec<String>,
    #[serde(default = "default_log")]
    pub log: String,
    #[serde(default)]
    pub mempool: MempoolSection,
    #[serde(default)]
    pub block: BlockSection,
    #[serde(default)]
    pub storage: StorageSection,
    /// Custodial mode: the operator organisation's encryption key, in an encrypted keystore
    /// (`medchain keys custodial`), which the node uses to re-wrap record keys for the
    /// organisation's own members. Absent: self-custody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custodial_keystore: Option<PathBuf>,
    /// A file holding the keystore's passphrase (else `MEDCHAIN_KEYSTORE_PASSPHRASE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custodial_passphrase_file: Option<PathBuf>,
}

fn default_log() -> String {
    "info".into()
}

impl NodeConfig {
    /// Reads a config file; relative paths in it are resolved against its directory.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut config: NodeConfig = toml::from_str(&text)
            .with_context(|| format!("config file {} is not valid", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for field in [
            &mut config.data_dir,
            &mut config.genesis,
            &mut config.validator_key,
        ] {
            if field.is_relative() {
                *field = base.join(&*field);
            }
        }
        for field in [
            &mut config.custodial_keystore,
            &mut config.custodial_passphrase_file,
        ]
        .into_iter()
        .flatten()
        {
            if field.is_relative() {
                *field = base.join(&*field);
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks bounds.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.block.transactions_max == 0
            || self.block.transactions_max > medchain_types::limits::BLOCK_TRANSACTIONS_MAX
        {
            bail!(
                "block.transactions_max must be 1 to {}, found {}",
                medchain_types::limits::BLOCK_TRANSACTIONS_MAX,
                self.block.transactions_max
            );
        }
        let cache_max = medchain_node::engine::PAGE_CACHE_MIB_MAX;
        if self.storage.page_cache_mib == 0 || self.storage.page_cache_mib > cache_max {
            bail!(
                "storage.page_cache_mib must be 1 to {cache_max}, found {}",
                self.storage.page_cache_mib
            );
        }
        if self.block.idle_wait_ms > 800 {
            bail!(
                "block.idle_wait_ms must be at most 800 (a proposer waits at most two fifths of the chain's leader timeout in any case), found {}",
                self.block.idle_wait_ms
            );
        }
        if self.mempool.transactions_max == 0 || self.mempool.bytes_max == 0 {
            bail!("mempool bounds must be positive");
        }
        Ok(())
    }

    /// Writes the config (with paths as given).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let text = toml::to_string_pretty(self).context("config serialises")?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    }
}

impl NodeConfig {
    /// Opens the custodial keystore, if one is configured: the organisation and its secret.
    pub fn custodial_secret(&self) -> anyhow::Result<Option<(medchain_types::PartyId, [u8; 32])>> {
        let Some(path) = &self.custodial_keystore else {
            return Ok(None);
        };
        let passphrase = match &self.custodial_passphrase_file {
            Some(file) => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the passphrase file {}", file.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
            None => std::env::var("MEDCHAIN_KEYSTORE_PASSPHRASE").context(
                "custodial_keystore is set: give custodial_passphrase_file or MEDCHAIN_KEYSTORE_PASSPHRASE",
            )?,
        };
        let opened = medchain_client::keys::keystore::read(path, &passphrase)
            .with_context(|| format!("cannot open the custodial keystore {}", path.display()))?;
        Ok(Some(opened))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(storage: &str) -> anyhow::Result<NodeConfig> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "medchain-config-test-{}-{n}.toml",
            std::process::id()
        ));
        let text = format!(
            "data_dir = \"d\"\ngenesis = \"g.json\"\nvalidator_key = \"v.key\"\n\
             p2p_listen = \"127.0.0.1:0\"\nhttp_listen = \"127.0.0.1:0\"\n{storage}"
        );
        std::fs::write(&path, text).expect("writes");
        let loaded = NodeConfig::load(&path);
        let _ = std::fs::remove_file(&path);
        loaded
    }

    #[test]
    fn the_page_cache_is_bounded() {
        let default = config("").expect("loads");
        assert_eq!(
            default.storage.page_cache_mib,
            medchain_node::engine::DEFAULT_PAGE_CACHE_MIB
        );
        assert_eq!(
            config("[storage]\npage_cache_mib = 1024\n")
                .expect("loads")
                .storage
                .page_cache_mib,
            1024
        );
        for bad in ["0", "1048577"] {
            let err = config(&format!("[storage]\npage_cache_mib = {bad}\n"))
                .expect_err("refused")
                .to_string();
            assert!(err.contains("storage.page_cache_mib must be 1 to"), "{err}");
        }
    }
}
