//! The `medchain` command.

mod backend;
mod bench;
mod bench_creds;
mod bench_custodial;
mod bench_records;
mod bench_supply;
mod commands;
mod config;
mod custodial_cmd;
mod http_server;
mod records_cmd;
mod run;
mod setup;
mod supply_cmd;
mod trust;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use medchain_types::ConsensusTiming;
use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

/// medchain: a permissioned blockchain for healthcare data.
#[derive(Parser)]
#[command(name = "medchain", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a validator node.
    Node(NodeArgs),
    /// Write (and by default run) a local testnet of N validators on loopback.
    Testnet(TestnetArgs),
    /// Manage key files.
    #[command(subcommand)]
    Keys(commands::KeysCommand),
    /// Register parties.
    #[command(subcommand)]
    Party(commands::PartyCommand),
    /// Governance: propose and approve.
    #[command(subcommand)]
    Gov(commands::GovCommand),
    /// Credentials: issue, suspend, reinstate, revoke, show, verify.
    #[command(subcommand)]
    Creds(commands::CredsCommand),
    /// Patient records: put, get, list, history, erase, break-glass, review.
    #[command(subcommand)]
    Records(records_cmd::RecordsCommand),
    /// Consent: grant, revoke, list.
    #[command(subcommand)]
    Consent(records_cmd::ConsentCommand),
    /// A patient's access log and accounting of disclosures.
    #[command(subcommand)]
    Access(records_cmd::AccessCommand),
    /// Custodial accounts (the node keeps the user's keys): invite, activate, sign-in, ...
    #[command(subcommand)]
    Custodial(custodial_cmd::CustodialCommand),
    /// The drug supply chain: commission, pack, ship, receive, dispense, recall, EPCIS
    /// capture and events, alerts, recall holdings, lineage.
    #[command(subcommand)]
    Supply(supply_cmd::SupplyCommand),
    /// Time-stamp a digest (proof of existence).
    Attest(commands::AttestArgs),
    /// Transactions.
    #[command(subcommand)]
    Tx(commands::TxCommand),
    /// Show a finalized block (a height, or `latest`).
    Block(commands::BlockArgs),
    /// Read state.
    #[command(subcommand)]
    State(commands::StateCommand),
    /// Check a proof offline against a genesis file.
    Verify(commands::VerifyArgs),
    /// The chains this machine trusts: the genesis each command checks a node's answers
    /// against when no --genesis is given.
    #[command(subcommand)]
    Trust(trust::TrustCommand),
    /// Check a scanned pack (GS1 barcode or Digital Link): genuine, or why not, with its
    /// chain of custody, the proofs checked offline.
    #[command(after_help = EXIT_STATUS_PACK)]
    VerifyPack(supply_cmd::VerifyPackArgs),
    /// Load-test a running chain (transactions spread over the `--node`s).
    Bench(bench::BenchArgs),
    /// Benchmark credential issuance, revocation and verification with proofs at growing
    /// registry sizes (dev chain).
    BenchCreds(bench_creds::BenchCredsArgs),
    /// Benchmark audited record reads (4 KiB) and consent grants; reads are spread over the
    /// `--node`s, each a custodian of the record.
    BenchRecords(bench_records::BenchRecordsArgs),
    /// Benchmark custodial sign-ins (password + TOTP) and reads by custodial users.
    BenchCustodial(bench_custodial::BenchCustodialArgs),
    /// Benchmark the supply chain: units commissioned through aggregation, pallet custody
    /// events, and pack verifications (dev chain; transactions go to the first `--node`,
    /// verifications to all).
    BenchSupply(bench_supply::BenchSupplyArgs),
}

#[derive(Args)]
struct NodeArgs {
    /// Run a one-validator development chain with demo parties (data in --data-dir,
    /// default ./.medchain/dev).
    #[arg(long)]
    dev: bool,
    /// The node's config file (not with --dev).
    #[arg(long, conflicts_with = "dev")]
    config: Option<PathBuf>,
    /// Data directory (overrides the config).
    #[arg(long, env = "MEDCHAIN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// HTTP API address; port 0 picks a free port (overrides the config).
    #[arg(long, env = "MEDCHAIN_HTTP")]
    http: Option<SocketAddr>,
    /// The host:port names clients reach the API by, comma separated (overrides the config's
    /// `http_authorities`; default: the HTTP address). A request signed for another name is
    /// refused.
    #[arg(long, env = "MEDCHAIN_HTTP_AUTHORITIES", value_delimiter = ',')]
    http_authority: Vec<String>,
    /// Custodial sign-in attempts (and activations, password changes, recoveries) one source
    /// address may begin per minute, and at once (default 30, burst 10). A load test from one
    /// machine raises it.
    #[arg(long, env = "MEDCHAIN_SIGN_IN_ATTEMPTS_PER_MINUTE")]
    sign_in_attempts_per_minute: Option<u64>,
    /// p2p listen address (overrides the config; dev default 127.0.0.1:0).
    #[arg(long, env = "MEDCHAIN_P2P")]
    p2p: Option<SocketAddr>,
    /// Log filter (overrides the config), e.g. `info` or `medchain_node=debug`.
    #[arg(long, env = "MEDCHAIN_LOG")]
    log: Option<String>,
    /// Stop after this many seconds (tests and demos use it so no node outlives them).
    #[arg(long, env = "MEDCHAIN_STOP_AFTER_SECS")]
    stop_after_secs: Option<u64>,
    /// Memory for the storage page cache in MiB, allocated at start (overrides the config;
    /// default 256). Large state reads faster with more.
    #[arg(long, env = "MEDCHAIN_PAGE_CACHE_MIB", value_parser = clap::value_parser!(u64).range(1..=medchain_node::engine::PAGE_CACHE_MIB_MAX as u64))]
    page_cache_mib: Option<u64>,
}

#[derive(Args)]
struct TestnetArgs {
    /// Number of validators.
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// Directory to write the network into (must not hold one already).
    #[arg(long)]
    dir: PathBuf,
    /// Only write the files; start each validator with `medchain node --config <dir>/v<i>.toml`.
    #[arg(long)]
    no_start: bool,
    /// Validator i serves HTTP on http_base + i.
    #[arg(long, default_value_t = 8080)]
    http_base: u16,
    /// Validator i listens for p2p on p2p_base + i.
    #[arg(long, default_value_t = 30400)]
    p2p_base: u16,
    /// The chain's leader timeout in milliseconds (written into the genesis file). A proposer
    /// builds a block for at most four fifths of it, and refuses one transaction that alone
    /// takes longer. Raise it for validators on slow machines.
    #[arg(long, default_value_t = ConsensusTiming::default().leader_timeout_ms)]
    leader_timeout_ms: u64,
    /// The chain's certification timeout in milliseconds; more than the leader timeout
    /// (default: twice it).
    #[arg(long)]
    certification_timeout_ms: Option<u64>,
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The sign-in attempt limits a `--sign-in-attempts-per-minute` asks for (burst and rate both
/// raised to it when above the defaults).
fn attempt_limits(per_minute: Option<u64>) -> medchain_node::accounts::AttemptLimits {
    let default = medchain_node::accounts::AttemptLimits::default();
    match per_minute {
        Some(rate) => medchain_node::accounts::AttemptLimits {
            burst: default.burst.max(rate),
            per_minute: rate,
        },
        None => default,
    }
}

fn node(args: NodeArgs) -> anyhow::Result<()> {
    if args.dev {
        let data_dir = args
            .data_dir
            .unwrap_or_else(|| PathBuf::from(".medchain/dev"));
        let p2p = args
            .p2p
            .unwrap_or_else(|| "127.0.0.1:0".parse().expect("valid address"));
        let http = args
            .http
            .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid address"));
        init_logging(args.log.as_deref().unwrap_or("warn,medchain=info"));
        let (genesis, seed) = setup::prepare_dev(&data_dir, p2p)?;
        let banner = setup::demo_banner(&data_dir);
        // The dev validator is run by the demo hospital, whose (public, demo-only) encryption
        // key the node keeps: custodial mode, clearly not for real data.
        let custodial = Some((
            medchain_types::dev::party_id("hospital"),
            medchain_types::dev::encryption_secret("hospital"),
        ));
        return run::run(run::NodeSetup {
            genesis,
            validator_seed: seed,
            data_dir,
            p2p_listen: p2p,
            http_listen: http,
            http_authorities: args.http_authority,
            sign_in_attempts: attempt_limits(args.sign_in_attempts_per_minute),
            mempool: medchain_node::mempool::MempoolLimits::default(),
            block: medchain_node::app::BlockPolicy::default(),
            page_cache_mib: args
                .page_cache_mib
                .map_or(medchain_node::engine::DEFAULT_PAGE_CACHE_MIB, |mib| {
                    mib as usize
                }),
            banner,
            stop_after: args.stop_after_secs.map(std::time::Duration::from_secs),
            custodial,
        });
    }
    let path = args
        .config
        .context("give --dev for a development chain, or --config <file> for a configured node")?;
    let mut config = config::NodeConfig::load(&path)?;
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    if let Some(http) = args.http {
        config.http_listen = http;
    }
    if !args.http_authority.is_empty() {
        config.http_authorities = args.http_authority;
    }
    if let Some(p2p) = args.p2p {
        config.p2p_listen = p2p;
    }
    if let Some(log) = args.log {
        config.log = log;
    }
    init_logging(&config.log);
    let genesis = setup::load_genesis(&config.genesis)?;
    let custodial = config.custodial_secret()?;
    let seed = medchain_client::keys::load_validator_key(&config.validator_key)?;
    run::run(run::NodeSetup {
        genesis,
        validator_seed: seed,
        data_dir: config.data_dir,
        p2p_listen: config.p2p_listen,
        http_listen: config.http_listen,
        http_authorities: config.http_authorities.clone(),
        sign_in_attempts: attempt_limits(args.sign_in_attempts_per_minute),
        mempool: medchain_node::mempool::MempoolLimits {
            transactions_max: config.mempool.transactions_max,
            bytes_max: config.mempool.bytes_max,
            ..Default::default()
        },
        block: medchain_node::app::BlockPolicy {
            transactions_max: config.block.transactions_max,
            idle_wait: std::time::Duration::from_millis(config.block.idle_wait_ms),
        },
        page_cache_mib: args
            .page_cache_mib
            .map_or(config.storage.page_cache_mib, |mib| mib as usize),
        banner: Vec::new(),
        stop_after: args.stop_after_secs.map(std::time::Duration::from_secs),
        custodial,
    })
}

fn testnet(args: TestnetArgs) -> anyhow::Result<()> {
    let timing = ConsensusTiming {
        leader_timeout_ms: args.leader_timeout_ms,
        certification_timeout_ms: args
            .certification_timeout_ms
            .unwrap_or(args.leader_timeout_ms.saturating_mul(2)),
    };
    let configs = setup::write_testnet(
        &args.dir,
        args.validators,
        args.http_base,
        args.p2p_base,
        timing,
    )?;
    println!(
        "wrote a {}-validator testnet to {}",
        args.validators,
        args.dir.display()
    );
    for (index, path) in configs.iter().enumerate() {
        println!(
            "  validator {}: medchain node --config {}   (API http://127.0.0.1:{})",
            index + 1,
            path.display(),
            args.http_base as usize + index + 1
        );
    }
    if args.no_start {
        return Ok(());
    }
    let exe = std::env::current_exe().context("cannot find the medchain executable")?;
    let mut children = Vec::new();
    for path in &configs {
        let log = std::fs::File::create(path.with_extension("log"))?;
        let child = std::process::Command::new(&exe)
            .arg("node")
            .arg("--config")
            .arg(path)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start validator {}", path.display()))?;
        children.push(child);
    }
    println!(
        "running {} validators (logs in {}/v<i>.log); Ctrl-C stops them",
        children.len(),
        args.dir.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        anyhow::Ok(())
    })?;
    for child in &mut children {
        // SIGTERM lets each validator stop cleanly.
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
    }
    for child in &mut children {
        let _ = child.wait();
    }
    Ok(())
}

/// A command whose output is closed (`medchain ... | head`) ends quietly, as Unix tools do:
/// Rust ignores SIGPIPE, so a print to a closed pipe fails, and `println!` panics on it; that
/// one panic ends the process at once with status 0 and no message (the reader has what it
/// wanted). Every other panic is reported as before.
fn end_quietly_when_output_closes() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.starts_with("failed printing to std") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        report(info);
    }));
}

/// The exit status of a command whose answer is "no" (a pack not genuine, no valid
/// credential): the answer was given and is shown, and a script can act on it.
pub(crate) const EXIT_ANSWER_NO: i32 = 3;

/// What `creds verify`'s exit status means.
pub(crate) const EXIT_STATUS_ANSWER: &str = "Exit status: 0 the party holds a valid credential; 3 it does not (the answer is printed either way); 1 no answer (the node unreachable, the answer not proven, bad input).";

/// What `verify-pack`'s exit status means.
const EXIT_STATUS_PACK: &str = "Exit status: 0 genuine; 3 any other verdict (recalled, expired, already dispensed, unknown, suspect; printed, or with --json the whole answer); 1 no answer (the node unreachable, the answer not proven, an unreadable scan).";

fn main() -> ExitCode {
    let cli = Cli::parse();
    end_quietly_when_output_closes();
    let result = match cli.command {
        Command::Node(args) => node(args),
        Command::Testnet(args) => testnet(args),
        Command::Keys(command) => commands::keys(command),
        Command::Party(command) => commands::block_on(commands::party(command)),
        Command::Gov(command) => commands::block_on(commands::gov(command)),
        Command::Attest(args) => commands::block_on(commands::attest(args)),
        Command::Creds(command) => commands::block_on(commands::creds(command)),
        Command::Records(command) => commands::block_on(records_cmd::records_command(command)),
        Command::Consent(command) => commands::block_on(records_cmd::consent_command(command)),
        Command::Access(command) => commands::block_on(records_cmd::access_command(command)),
        Command::Custodial(command) => {
            commands::block_on(custodial_cmd::custodial_command(command))
        }
        Command::Supply(command) => commands::block_on(supply_cmd::supply_command(command)),
        Command::Tx(command) => commands::block_on(commands::tx(command)),
        Command::Block(args) => commands::block_on(commands::block(args)),
        Command::State(command) => commands::block_on(commands::state(command)),
        Command::Verify(args) => commands::verify(args),
        Command::Trust(command) => trust::trust_command(command),
        Command::VerifyPack(args) => commands::block_on(supply_cmd::verify_pack(args)),
        Command::Bench(args) => commands::block_on(bench::run(args)),
        Command::BenchCreds(args) => commands::block_on(bench_creds::run(args)),
        Command::BenchRecords(args) => commands::block_on(bench_records::run(args)),
        Command::BenchSupply(args) => commands::block_on(bench_supply::run(args)),
        Command::BenchCustodial(args) => commands::block_on(bench_custodial::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            let unreachable = err.chain().find_map(|cause| {
                match cause.downcast_ref::<medchain_client::ClientError>() {
                    Some(medchain_client::ClientError::Transport { url, .. }) => {
                        // The node, not the route asked for.
                        let base = ["/v1/", "/epcis/"]
                            .iter()
                            .find_map(|route| url.split_once(route).map(|(base, _)| base));
                        Some(base.unwrap_or(url).to_string())
                    }
                    _ => None,
                }
            });
            if let Some(url) = unreachable {
                eprintln!(
                    "hint: no node answered at {url}. Start one (`medchain node --dev`), or say where it is with --node <url> or MEDCHAIN_NODE; without them the CLI uses the local dev node's address from .medchain/dev/http.addr (or MEDCHAIN_DATA_DIR's)"
                );
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every option of every command, as `medchain sub sub --option`, with no help text.
    fn undocumented(command: &clap::Command, path: &str, found: &mut Vec<String>) {
        for arg in command.get_arguments() {
            if arg.is_hide_set() || matches!(arg.get_id().as_str(), "help" | "version") {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                let name = arg
                    .get_long()
                    .map(|long| format!("--{long}"))
                    .unwrap_or_else(|| format!("<{}>", arg.get_id()));
                found.push(format!("{path} {name}"));
            }
        }
        for sub in command.get_subcommands() {
            undocumented(sub, &format!("{path} {}", sub.get_name()), found);
        }
    }

    /// Regression (issue 17): every option says what it takes.
    #[test]
    fn every_option_of_every_command_says_what_it_takes() {
        let mut found = Vec::new();
        undocumented(&super::Cli::command(), "medchain", &mut found);
        assert!(
            found.is_empty(),
            "{} options have no help:\n{}",
            found.len(),
            found.join("\n")
        );
    }
}
