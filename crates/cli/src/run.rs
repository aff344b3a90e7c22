//! Runs one validator on the Commonware tokio runtime: authenticated p2p (`lookup`) between the
//! genesis validators, the consensus engine, and the HTTP API, until SIGINT or SIGTERM.

use crate::backend::NodeBackend;
use anyhow::{Context as _, anyhow, bail};
use commonware_codec::DecodeExt as _;
use commonware_cryptography::{ChaCha20Poly1305, Signer as _, ed25519};
use commonware_p2p::{Address, AddressableManager as _, authenticated::lookup};
use commonware_runtime::{Quota, Runner as _, Spawner as _, Supervisor as _, tokio as cw};
use commonware_utils::{NZU32, NZUsize, TryCollect as _, ordered::Map};
use medchain_node::{
    app::BlockPolicy,
    engine::{self, Channels, EngineConfig},
    mempool::MempoolLimits,
    service::NodeService,
};
use medchain_types::{Genesis, PublicKey};
use std::{
    net::{SocketAddr, ToSocketAddrs as _},
    path::PathBuf,
    time::Duration,
};

/// Everything needed to run a validator.
pub struct NodeSetup {
    pub genesis: Genesis,
    pub validator_seed: [u8; 32],
    pub data_dir: PathBuf,
    pub p2p_listen: SocketAddr,
    pub http_listen: SocketAddr,
    /// The names clients reach the API by (empty: the listen address).
    pub http_authorities: Vec<String>,
    /// Custodial sign-in attempts one source address may begin.
    pub sign_in_attempts: medchain_node::accounts::AttemptLimits,
    pub mempool: MempoolLimits,
    pub block: BlockPolicy,
    /// Memory for the storage page cache, in MiB.
    pub page_cache_mib: usize,
    /// Lines printed once the API is up (demo parties, hints).
    pub banner: Vec<String>,
    /// Stop after this long, if set.
    pub stop_after: Option<Duration>,
    /// The operator organisation and its X25519 secret, when this node keeps it for the
    /// organisation (custodial mode: it re-wraps data keys for the organisation's own members).
    pub custodial: Option<(medchain_types::PartyId, [u8; 32])>,
}

fn resolve(address: &str) -> anyhow::Result<SocketAddr> {
    address
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve p2p address {address}"))?
        .next()
        .ok_or_else(|| anyhow!("p2p address {address} resolves to nothing"))
}

/// The authorities a signed request may name: the configured ones, else the listen address
/// (with `localhost:<port>` on loopback). All interfaces give no name to derive: then they
/// must be configured.
fn authorities_of(address: SocketAddr, configured: &[String]) -> anyhow::Result<Vec<String>> {
    if !configured.is_empty() {
        return Ok(configured.to_vec());
    }
    if address.ip().is_unspecified() {
        bail!(
            "the HTTP API listens on all interfaces ({address}): set http_authorities in the config to the host:port names clients reach it by, so that a request signed for another node is refused here"
        );
    }
    let mut names = vec![address.to_string()];
    if address.ip().is_loopback() {
        names.push(format!("localhost:{}", address.port()));
    }
    Ok(names)
}

/// Runs the node until it is told to stop.
pub fn run(setup: NodeSetup) -> anyhow::Result<()> {
    let store = setup.data_dir.join("store");
    std::fs::create_dir_all(&store)
        .with_context(|| format!("cannot create data directory {}", store.display()))?;
    let signer = ed25519::PrivateKey::decode(setup.validator_seed.to_vec())
        .map_err(|err| anyhow!("validator key is not a valid ed25519 seed: {err}"))?;
    let me =
        PublicKey::from_slice(signer.public_key().as_ref()).expect("ed25519 keys are 32 bytes");
    if !setup
        .genesis
        .validators
        .iter()
        .any(|validator| validator.public_key == me)
    {
        anyhow::bail!("this node's validator key {me} is not in the genesis validator set");
    }
    let mut peers = Vec::new();
    for validator in &setup.genesis.validators {
        let key = ed25519::PublicKey::decode(validator.public_key.0.to_vec())
            .map_err(|err| anyhow!("genesis validator key {}: {err}", validator.public_key))?;
        let address = if validator.public_key == me {
            setup.p2p_listen
        } else {
            resolve(&validator.p2p_address)?
        };
        peers.push((key, Address::Symmetric(address)));
    }
    let peers: Map<ed25519::PublicKey, Address> = peers
        .into_iter()
        .try_collect()
        .map_err(|_| anyhow!("duplicate validator in genesis"))?;

    let runtime = cw::Config::new()
        .with_storage_directory(&store)
        .with_worker_threads(4)
        .with_tcp_nodelay(Some(true));
    cw::Runner::new(runtime).start(|context| async move {
        let validators = setup.genesis.validators.len() as u32;
        let handshake = commonware_stream::cups::Cups::<_, ChaCha20Poly1305>::new(
            commonware_stream::sake::Sake {
                signer: signer.clone(),
                synchrony_bound: Duration::from_secs(5),
                max_handshake_age: Duration::from_secs(10),
                version: commonware_stream::sake::Version::V1,
            },
            commonware_stream::cups::Version::V1,
        );
        let p2p_config = lookup::Config::local(
            handshake,
            &engine::p2p_namespace(&setup.genesis),
            setup.p2p_listen,
            NZUsize!(setup.genesis.validators.len().max(1)),
            engine::max_message_size(validators),
            NZUsize!(1_024),
        );
        let (mut network, mut oracle) = lookup::Network::new(context.child("network"), p2p_config);
        oracle.track(0, peers);
        let mut channels = Vec::new();
        for channel in engine::channel::ALL {
            let quota = if channel == engine::channel::MEMPOOL {
                Quota::per_second(NZU32!(2_000))
            } else {
                Quota::per_second(NZU32!(5_000))
            };
            channels.push(network.register(channel, quota));
        }
        network.start();

        let config = EngineConfig {
            genesis: setup.genesis.clone(),
            signer,
            partition_prefix: "medchain".into(),
            mempool: setup.mempool,
            block_policy: setup.block,
            page_cache_mib: setup.page_cache_mib,
        };
        let (engine_handle, handles) = engine::start(
            context.child("validator"),
            config,
            oracle.clone(),
            oracle,
            Channels::from_list(channels),
            |mailbox| mailbox,
        )
        .await;
        let mut service = NodeService::new(handles, setup.genesis.clone(), me).await;
        let operator = setup
            .genesis
            .validators
            .iter()
            .find(|validator| validator.public_key == me)
            .and_then(|validator| validator.operator);
        if let Some((party, _)) = &setup.custodial
            && Some(*party) != operator
        {
            anyhow::bail!(
                "the custodial keystore holds the key of {party}, but this validator is run by {}",
                operator.map_or("no organisation".to_string(), |o| o.to_string())
            );
        }
        let mut custodian_task = None;
        if let Some(operator) = operator {
            let root = setup.data_dir.join("blobs");
            let store = tokio::task::spawn_blocking(move || {
                medchain_node::blobs::BlobStore::open(root, Default::default())
            })
            .await
            .context("blob store task")?
            .context("cannot open the blob store")?;
            service = service.with_custodian(medchain_node::custodian::Custodian::new(
                std::sync::Arc::new(store),
                operator,
                setup.custodial.map(|(_, secret)| secret),
                setup.data_dir.join("blobs").join("cursor"),
            ));
            custodian_task = Some(tokio::spawn(medchain_node::custodian::run(service.clone())));
        }
        let mut backend = NodeBackend::new(service, context.child("metrics"));
        if let Some((organisation, secret)) = &setup.custodial {
            let accounts = medchain_node::accounts::AccountStore::open(
                setup.data_dir.join("custodial-accounts"),
                *organisation,
                secret,
                "medchain",
                medchain_node::accounts::KdfParams::STANDARD,
            )
            .context("cannot open the custodial accounts")?
            .with_attempt_limits(setup.sign_in_attempts);
            backend = backend.with_accounts(accounts);
        }
        let listener = tokio::net::TcpListener::bind(setup.http_listen)
            .await
            .with_context(|| format!("cannot listen for HTTP on {}", setup.http_listen))?;
        let address = listener.local_addr()?;
        let _ = std::fs::write(setup.data_dir.join("http.addr"), address.to_string());
        println!(
            "medchain node for chain {} (validator {me})",
            setup.genesis.chain_id
        );
        println!("  API:      http://{address}   (OpenAPI: http://{address}/v1/openapi.json)");
        println!("  data dir: {}", setup.data_dir.display());
        if setup.custodial.is_some() {
            println!(
                "  CUSTODIAL MODE: this node keeps its organisation's encryption key, and the keys of its custodial accounts ({})",
                setup.data_dir.join("custodial-accounts").display()
            );
        }
        for line in &setup.banner {
            println!("{line}");
        }
        tracing::info!(%address, "HTTP API listening");
        let authorities = authorities_of(address, &setup.http_authorities)?;
        tracing::info!(?authorities, "signed requests are accepted for these authorities");
        let router = medchain_api::router_with_authorities(backend, authorities);
        let mut server = tokio::spawn(crate::http_server::serve(listener, router));

        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("cannot install the SIGTERM handler")?;
        // Without a stop time, wait (in effect) forever.
        let stop_after = setup
            .stop_after
            .unwrap_or(Duration::from_secs(100 * 365 * 24 * 3_600));
        tokio::select! {
            _ = tokio::time::sleep(stop_after) => tracing::info!("stop time reached; stopping"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
            _ = terminate.recv() => tracing::info!("terminated; stopping"),
            result = engine_handle => tracing::error!(?result, "the consensus engine stopped"),
            result = &mut server => tracing::error!(?result, "the HTTP server stopped"),
        }
        // Stop taking requests, and stop the custodian's work, before the engine: nothing of
        // ours reads the databases while the engine's tasks wind down (a database whose write
        // was interrupted must not be read again).
        server.abort();
        let _ = server.await;
        if let Some(task) = custodian_task {
            task.abort();
            let _ = task.await;
        }
        let _ = context.stop(0, Some(Duration::from_secs(10))).await;
        Ok(())
    })
}
