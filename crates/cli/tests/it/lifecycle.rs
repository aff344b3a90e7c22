//! A node's life: it stops cleanly when told to, under load, and starts again where it was.

use crate::processes::{self, Node};
use medchain_client::keys::PartyKeys;
use medchain_types::{Hash32, TxBody};
use std::time::Duration;

/// How many times the node is stopped under load (`MEDCHAIN_SHUTDOWN_ROUNDS` for a soak).
fn rounds() -> usize {
    std::env::var("MEDCHAIN_SHUTDOWN_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

/// Regression (issue 16): a validator stopped with SIGTERM while it commits transactions and
/// answers reads with proofs exits 0 with no panic in its log (a database read after the
/// engine's write was interrupted panics "database was lost"), and restarts at the height it
/// stopped at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stops_cleanly_on_sigterm_under_load() {
    let dir = processes::temp_dir("sigterm");
    let mut node = Node::dev(&dir);
    node.client().await;
    let chain = processes::genesis_in(&dir).chain_id;
    let hospital = PartyKeys::dev("hospital");
    let mut height = 0u64;
    let mut committed = 0u64;
    for round in 0..rounds() {
        let client = node.client().await;
        processes::wait_for_height(&client, height + 1, Duration::from_secs(60)).await;
        let status = client.status().await.expect("status");
        assert!(
            status.latest.height >= height,
            "round {round}: restarted at {} below {height}",
            status.latest.height
        );
        let nonce = client
            .next_nonce(&hospital.party_id)
            .await
            .expect("the hospital's nonce");
        assert!(
            nonce >= committed,
            "round {round}: restarted with nonce {nonce} below {committed}"
        );
        // Load, until the node is stopped: transactions submitted without waiting, and
        // reads with proofs.
        let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let is_stopped = |stopped: &std::sync::atomic::AtomicBool| {
            stopped.load(std::sync::atomic::Ordering::Relaxed)
        };
        let writer = {
            let (client, hospital, chain) = (client.clone(), hospital.clone(), chain.clone());
            let stopped = stopped.clone();
            tokio::spawn(async move {
                let mut nonce = nonce;
                while !is_stopped(&stopped) {
                    let tx = hospital.sign(
                        &chain,
                        nonce,
                        TxBody::Attest {
                            subject: Hash32([(nonce % 251) as u8; 32]),
                            digest: Hash32([7; 32]),
                        },
                    );
                    // A steady stream, not a flood: the tests running beside this one
                    // keep their share of the machine.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    match client.submit(&tx, false).await {
                        Ok(_) => nonce += 1,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            if let Ok(next) = client.next_nonce(&hospital.party_id).await {
                                nonce = next;
                            }
                        }
                    }
                }
            })
        };
        let reader = {
            let (client, party) = (client.clone(), hospital.party_id);
            let stopped = stopped.clone();
            tokio::spawn(async move {
                while !is_stopped(&stopped) {
                    let _ = client.state(&format!("party/{party}"), true).await;
                }
            })
        };
        // Stopped once this round's transactions are committing, mid-stream.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = client.next_nonce(&hospital.party_id).await.unwrap_or(0);
            if now > nonce + 10 {
                committed = now;
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: nothing committed under load (nonce {now}); log:\n{}",
                node.log()
            );
        }
        height = client.status().await.expect("status").latest.height;
        let status = node.terminate();
        stopped.store(true, std::sync::atomic::Ordering::Relaxed);
        let log = node.log();
        assert!(
            status.success() && !log.contains("panicked"),
            "round {round}: SIGTERM under load exited {status}; log:\n{log}"
        );
        let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), reader).await;
        node.start();
    }
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Regression (issue 17): the CLI finds a local dev node by itself (the address the node
/// wrote into its data directory, here through `MEDCHAIN_DATA_DIR`), ends quietly when its
/// output is closed, and when no node answers it says how to name one, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_finds_the_local_dev_node_and_says_how_to_name_one() {
    let dir = processes::temp_dir("find-node");
    let node = Node::dev(&dir);
    node.client().await;
    let out = std::process::Command::new(processes::BIN)
        .args(["block", "latest"])
        .env("MEDCHAIN_DATA_DIR", &dir)
        .env_remove("MEDCHAIN_NODE")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Its output closed before it prints (`medchain ... | head -0`): it ends quietly.
    let mut child = std::process::Command::new(processes::BIN)
        .args(["block", "latest"])
        .env("MEDCHAIN_DATA_DIR", &dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("panicked"),
        "a closed output ends it quietly: {} {stderr}",
        out.status
    );
    drop(node);
    let out = std::process::Command::new(processes::BIN)
        .args(["block", "latest", "--node", "http://127.0.0.1:9"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("--node <url> or MEDCHAIN_NODE")
            && stderr.contains("at http://127.0.0.1:9."),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("error sending request").count(),
        0,
        "the cause is said once, plainly: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
