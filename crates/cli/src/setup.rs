//! Sets up chains on disk: the dev chain, a local testnet, a single production validator.
//!
//! ```text
//! <dir>/genesis.json          the chain
//! <dir>/v<i>.key              validator i's consensus key (mode 0600)
//! <dir>/v<i>.toml             validator i's config
//! <dir>/v<i>/store/           validator i's databases
//! <dir>/keys/<party>.json     demo party keys (dev and testnet chains only)
//! ```

use crate::config::{BlockSection, MempoolSection, NodeConfig, StorageSection};
use anyhow::Context as _;
use medchain_client::keys::{PartyKeys, load_validator_key, random_seed, save_validator_key};
use medchain_types::{Genesis, dev};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

/// Milliseconds since the Unix epoch, for a new genesis.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// Reads and checks a genesis file.
pub fn load_genesis(path: &Path) -> anyhow::Result<Genesis> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read genesis file {}", path.display()))?;
    let genesis: Genesis = serde_json::from_str(&text).with_context(|| {
        format!(
            "genesis file {} is not valid JSON of a genesis",
            path.display()
        )
    })?;
    genesis
        .validate()
        .with_context(|| format!("genesis file {} is inconsistent", path.display()))?;
    Ok(genesis)
}

fn save_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the demo party keys into `<dir>/keys`.
pub fn write_demo_keys(dir: &Path) -> anyhow::Result<()> {
    for party in dev::DEMO_PARTIES {
        PartyKeys::dev(party.name).save(&dir.join("keys").join(format!("{}.json", party.name)))?;
    }
    Ok(())
}

/// The banner lines listing the demo parties.
pub fn demo_banner(dir: &Path) -> Vec<String> {
    let mut lines = vec![
        "  demo parties (keys in <data dir>/keys; PUBLIC dev keys, never for real data):"
            .to_string(),
    ];
    for party in dev::DEMO_PARTIES {
        lines.push(format!(
            "    {:<16} {}  {}",
            party.name,
            dev::party_id(party.name),
            dir.join("keys")
                .join(format!("{}.json", party.name))
                .display()
        ));
    }
    lines
}

/// Prepares (once) the dev chain in `dir`: genesis with one validator (the dev validator key)
/// and the demo parties. Later starts reuse the same genesis, so data persists.
pub fn prepare_dev(dir: &Path, p2p: SocketAddr) -> anyhow::Result<(Genesis, [u8; 32])> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let genesis_path = dir.join("genesis.json");
    let key_path = dir.join("validator.key");
    if genesis_path.exists() {
        let genesis = load_genesis(&genesis_path)?;
        let seed = load_validator_key(&key_path)?;
        crate::trust::add_made_chain(&genesis);
        return Ok((genesis, seed));
    }
    let seed = dev::validator_seed(0);
    let public = save_validator_key(&key_path, seed)?;
    let genesis = dev::genesis(vec![(public, p2p.to_string())], now_ms());
    genesis.validate().context("the dev genesis is valid")?;
    save_json(&genesis_path, &genesis)?;
    write_demo_keys(dir)?;
    crate::trust::add_made_chain(&genesis);
    Ok((genesis, seed))
}

/// Writes a local testnet of `validators` validators into `dir`.
pub fn write_testnet(
    dir: &Path,
    validators: usize,
    http_base: u16,
    p2p_base: u16,
    timing: medchain_types::ConsensusTiming,
) -> anyhow::Result<Vec<PathBuf>> {
    anyhow::ensure!(validators >= 1, "at least one validator is needed");
    timing.validate().map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    anyhow::ensure!(
        !dir.join("genesis.json").exists(),
        "{} already holds a network; choose an empty directory",
        dir.display()
    );
    let mut keys = Vec::new();
    for index in 1..=validators {
        let seed = random_seed()?;
        let public = save_validator_key(&dir.join(format!("v{index}.key")), seed)?;
        keys.push((public, format!("127.0.0.1:{}", p2p_base as usize + index)));
    }
    let mut genesis = dev::genesis(keys, now_ms());
    genesis.chain_id = medchain_types::ChainId::new("medchain-testnet").context("valid id")?;
    genesis.consensus = timing;
    genesis.validate().context("the testnet genesis is valid")?;
    save_json(&dir.join("genesis.json"), &genesis)?;
    write_demo_keys(dir)?;
    crate::trust::add_made_chain(&genesis);
    let mut configs = Vec::new();
    for index in 1..=validators {
        let config = NodeConfig {
            data_dir: PathBuf::from(format!("v{index}")),
            genesis: PathBuf::from("genesis.json"),
            validator_key: PathBuf::from(format!("v{index}.key")),
            p2p_listen: format!("127.0.0.1:{}", p2p_base as usize + index).parse()?,
            http_listen: format!("127.0.0.1:{}", http_base as usize + index).parse()?,
            http_authorities: Vec::new(),
            log: "info".into(),
            mempool: MempoolSection::default(),
            block: BlockSection::default(),
            storage: StorageSection::default(),
            custodial_keystore: None,
            custodial_passphrase_file: None,
        };
        // Validators run by a custodian organisation keep its (demo) encryption key in an
        // encrypted keystore: custodial mode, so the organisation's members can read through
        // organisation grants and break-glass.
        let mut config = config;
        let validator = &genesis.validators[index - 1];
        if let Some(operator) = validator.operator
            && let Some(party) = dev::DEMO_PARTIES
                .iter()
                .find(|party| dev::party_id(party.name) == operator)
            && party.roles.contains(&medchain_types::Role::Custodian)
        {
            let passphrase = hex::encode(random_seed()?);
            let passphrase_file = format!("v{index}.passphrase");
            let keystore_file = format!("v{index}.custodial.json");
            write_private(&dir.join(&passphrase_file), &passphrase)?;
            medchain_client::keys::keystore::write(
                &dir.join(&keystore_file),
                &operator,
                &dev::encryption_secret(party.name),
                &passphrase,
            )?;
            config.custodial_keystore = Some(PathBuf::from(keystore_file));
            config.custodial_passphrase_file = Some(PathBuf::from(passphrase_file));
        }
        let path = dir.join(format!("v{index}.toml"));
        config.save(&path)?;
        configs.push(path);
    }
    Ok(configs)
}

/// Writes a file only its owner can read.
pub(crate) fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use medchain_types::ConsensusTiming;

    fn dir(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("medchain-setup-{name}-{}", std::process::id()))
    }

    #[test]
    fn a_testnet_carries_its_timing_and_bad_timing_writes_nothing() {
        let good = dir("timing");
        let _ = std::fs::remove_dir_all(&good);
        let timing = ConsensusTiming {
            leader_timeout_ms: 2_500,
            certification_timeout_ms: 5_000,
        };
        write_testnet(&good, 2, 18_080, 38_400, timing).expect("written");
        let genesis = load_genesis(&good.join("genesis.json")).expect("genesis");
        assert_eq!(genesis.consensus, timing);
        std::fs::remove_dir_all(&good).expect("cleaned up");

        let bad = dir("bad-timing");
        let _ = std::fs::remove_dir_all(&bad);
        let timing = ConsensusTiming {
            leader_timeout_ms: 2_000,
            certification_timeout_ms: 1_000,
        };
        let err = write_testnet(&bad, 2, 18_080, 38_400, timing).expect_err("refused");
        assert!(
            err.to_string().contains("certification_timeout_ms"),
            "{err:#}"
        );
        assert!(!bad.exists(), "nothing is written");
    }
}
