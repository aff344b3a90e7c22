//! Starting and stopping `medchain` processes for tests. Every node is started with a stop
//! time, and killed when its handle drops, so none outlives the test.

use medchain_client::Client;
use medchain_types::Genesis;
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

pub const BIN: &str = env!("CARGO_BIN_EXE_medchain");
const STOP_AFTER_SECS: &str = "600";

/// A fresh directory under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "medchain-e2e-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// One node process.
pub struct Node {
    args: Vec<String>,
    data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// A dev chain in `dir`.
    pub fn dev(dir: &Path) -> Self {
        Self::dev_with(dir, &[])
    }

    /// A dev chain in `dir`, with more flags.
    pub fn dev_with(dir: &Path, extra: &[&str]) -> Self {
        let mut args: Vec<String> = vec![
            "node".into(),
            "--dev".into(),
            "--data-dir".into(),
            dir.display().to_string(),
            "--http".into(),
            "127.0.0.1:0".into(),
        ];
        args.extend(extra.iter().map(|arg| arg.to_string()));
        let mut node = Self {
            args,
            data_dir: dir.to_path_buf(),
            log: dir.join("node.log"),
            child: None,
        };
        node.start();
        node
    }

    /// A configured validator.
    pub fn configured(config: &Path, data_dir: &Path) -> Self {
        let mut node = Self {
            args: vec![
                "node".into(),
                "--config".into(),
                config.display().to_string(),
            ],
            data_dir: data_dir.to_path_buf(),
            log: config.with_extension("log"),
            child: None,
        };
        node.start();
        node
    }

    /// Starts (or restarts) the process.
    pub fn start(&mut self) {
        let _ = std::fs::remove_file(self.data_dir.join("http.addr"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Command::new(BIN)
            .args(&self.args)
            .env("MEDCHAIN_STOP_AFTER_SECS", STOP_AFTER_SECS)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("medchain starts");
        self.child = Some(child);
    }

    /// SIGTERMs the process and waits (30 s at most) for it to exit: its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the node is running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM was not sent");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("waits") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the node did not stop within 30 s of SIGTERM; log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILLs the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A client, once the node has written its API address.
    pub async fn client(&self) -> Client {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(address) = std::fs::read_to_string(self.data_dir.join("http.addr")) {
                let client = Client::new(format!("http://{}", address.trim()));
                if client.status().await.is_ok() {
                    return client;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node did not come up; log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A local testnet of real processes.
pub struct Network {
    pub dir: PathBuf,
    pub nodes: Vec<Node>,
}

fn free_port_base(count: u16) -> u16 {
    // Ask the OS for a free port and use the span above it; retry on collisions.
    for _ in 0..50 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = listener.local_addr().expect("addr").port();
        drop(listener);
        if base > 60_000 {
            continue;
        }
        let free = (1..=count)
            .all(|offset| std::net::TcpListener::bind(("127.0.0.1", base + offset)).is_ok());
        if free {
            return base;
        }
    }
    panic!("no free port range found");
}

impl Network {
    /// Writes and starts `validators` validators.
    pub fn testnet(validators: u16) -> Self {
        Self::testnet_with(validators, &[])
    }

    /// Writes and starts `validators` validators, with more `medchain testnet` arguments.
    pub fn testnet_with(validators: u16, extra: &[&str]) -> Self {
        let dir = temp_dir("testnet");
        let http_base = free_port_base(validators);
        let p2p_base = free_port_base(validators);
        let status = Command::new(BIN)
            .args([
                "testnet",
                "--validators",
                &validators.to_string(),
                "--dir",
                &dir.display().to_string(),
                "--no-start",
                "--http-base",
                &http_base.to_string(),
                "--p2p-base",
                &p2p_base.to_string(),
            ])
            .args(extra)
            .stdout(Stdio::null())
            .status()
            .expect("medchain testnet runs");
        assert!(status.success());
        let nodes = (1..=validators)
            .map(|index| {
                Node::configured(
                    &dir.join(format!("v{index}.toml")),
                    &dir.join(format!("v{index}")),
                )
            })
            .collect();
        Self { dir, nodes }
    }

    /// The genesis.
    pub fn genesis(&self) -> Genesis {
        genesis_in(&self.dir)
    }

    /// A client per node.
    pub async fn clients(&self) -> Vec<Client> {
        let mut clients = Vec::new();
        for node in &self.nodes {
            clients.push(node.client().await);
        }
        clients
    }
}

/// A dev chain in a new directory named after `name`, once it has made its first block: the
/// directory, the node (stopped when dropped) and a client of it.
pub async fn dev_chain(name: &str) -> (PathBuf, Node, Client) {
    let dir = temp_dir(name);
    let node = Node::dev(&dir);
    let client = node.client().await;
    wait_for_height(&client, 1, Duration::from_secs(60)).await;
    (dir, node, client)
}

/// The genesis a node wrote into `dir`.
pub fn genesis_in(dir: &Path) -> Genesis {
    serde_json::from_str(&std::fs::read_to_string(dir.join("genesis.json")).expect("genesis"))
        .expect("genesis JSON")
}

/// Waits until the node's finalized height reaches `height`.
pub async fn wait_for_height(client: &Client, height: u64, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(status) = client.status().await
            && status.latest.height >= height
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} did not reach height {height}",
            client.base()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Malformed, oversized, badly signed, wrong-chain, unknown and unauthorised submissions each
/// get an HTTP 4xx problem body naming the reason, and none of them reaches the chain.
pub async fn bad_input_gets_problems(client: &Client, chain: &medchain_types::ChainId) {
    use commonware_codec::Encode as _;
    use medchain_client::keys::PartyKeys;
    use medchain_types::{Hash32, PartyKind, Roles, TxBody};

    let http = reqwest::Client::new();
    let url = format!("{}/v1/transactions", client.base());
    let post = |content_type: &'static str, body: Vec<u8>| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let response = http
                .post(&url)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("the node answers");
            let status = response.status().as_u16();
            let problem: serde_json::Value = response.json().await.expect("a JSON problem body");
            (
                status,
                problem["code"].as_str().unwrap_or_default().to_string(),
            )
        }
    };

    assert_eq!(
        post("application/json", b"{not json".to_vec()).await,
        (400, "malformed".into())
    );
    // Regression (issue 17): every error is an RFC 9457 problem, the framework's own
    // rejections included (an unparsable query value, a number too big for its type, a path
    // segment that is not UTF-8, a method the route does not take, an unknown route).
    for (method, path, status) in [
        ("GET", "/v1/supply/alerts?from=abc", 400),
        (
            "GET",
            "/v1/supply/alerts?limit=99999999999999999999999999",
            400,
        ),
        ("GET", "/v1/parties/%FF%FE", 400),
        ("GET", "/v1/transactions/abc?wait=maybe", 400),
        ("DELETE", "/v1/status", 405),
        ("GET", "/v1/no-such-route", 404),
    ] {
        let response = http
            .request(
                method.parse().expect("a method"),
                format!("{}{path}", client.base()),
            )
            .send()
            .await
            .expect("the node answers");
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let media = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_eq!(media, "application/problem+json", "{method} {path}");
        let problem: serde_json::Value = response.json().await.expect("a JSON problem body");
        assert_eq!(problem["status"], status, "{method} {path}: {problem}");
        assert!(
            problem["code"]
                .as_str()
                .is_some_and(|code| !code.is_empty())
                && problem["detail"]
                    .as_str()
                    .is_some_and(|detail| !detail.is_empty()),
            "{method} {path}: {problem}"
        );
    }
    assert_eq!(
        post("application/octet-stream", vec![7u8; 100]).await,
        (400, "malformed".into())
    );
    assert_eq!(
        post("application/octet-stream", vec![0u8; 70 * 1024]).await,
        (413, "too_large".into())
    );
    assert_eq!(over_the_body_limit(client).await, (413, "too_large".into()));
    assert_eq!(
        post("text/plain", b"hello".to_vec()).await,
        (415, "unsupported_media_type".into())
    );

    let attest = TxBody::Attest {
        subject: Hash32::ZERO,
        digest: Hash32([1; 32]),
    };
    let hospital = PartyKeys::dev("hospital");
    let nonce = client.next_nonce(&hospital.party_id).await.expect("nonce");
    let mut forged = hospital.sign(chain, nonce, attest.clone());
    forged.signature.0[10] ^= 1;
    assert_eq!(
        post("application/octet-stream", forged.encode().to_vec()).await,
        (400, "bad_signature".into())
    );

    let other_chain = medchain_types::ChainId::new("another-chain").expect("valid");
    let wrong_chain = hospital.sign(&other_chain, nonce, attest.clone());
    assert_eq!(
        post("application/octet-stream", wrong_chain.encode().to_vec()).await,
        (400, "wrong_chain".into())
    );

    let stranger = PartyKeys::generate().expect("keys");
    let unknown = stranger.sign(chain, 0, attest.clone());
    assert_eq!(
        post("application/octet-stream", unknown.encode().to_vec()).await,
        (403, "unknown_signer".into())
    );

    // A patient may not register parties; a manufacturer is not a registrar.
    let register = TxBody::RegisterParty {
        kind: PartyKind::Device,
        signing_key: stranger.public_key(),
        encryption_key: stranger.encryption_key(),
        label: "x".into(),
        roles: Roles::default(),
    };
    let patient = PartyKeys::dev("patient-1");
    let patient_nonce = client.next_nonce(&patient.party_id).await.expect("nonce");
    let by_patient = patient.sign(chain, patient_nonce, register.clone());
    assert_eq!(
        post("application/octet-stream", by_patient.encode().to_vec()).await,
        (403, "wrong_party_kind".into())
    );
    let manufacturer = PartyKeys::dev("manufacturer");
    let manufacturer_nonce = client
        .next_nonce(&manufacturer.party_id)
        .await
        .expect("nonce");
    let by_manufacturer = manufacturer.sign(chain, manufacturer_nonce, register);
    assert_eq!(
        post(
            "application/octet-stream",
            by_manufacturer.encode().to_vec()
        )
        .await,
        (403, "missing_role".into())
    );

    // Nothing of it was stored: the stranger is not a party and no nonce moved.
    let answer = client
        .state(&format!("party/{}", stranger.party_id), false)
        .await
        .expect("state");
    assert!(answer.value.is_none());
    assert_eq!(
        client.next_nonce(&hospital.party_id).await.expect("nonce"),
        nonce
    );
    assert_eq!(
        client.next_nonce(&patient.party_id).await.expect("nonce"),
        patient_nonce
    );
}

/// Announces a body over the 20 MiB limit and reads the answer without sending the body: the
/// node must refuse it from the announced length, with a problem body. (Sending the body too
/// races the server closing the connection after its early answer.)
async fn over_the_body_limit(client: &Client) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address = client.base().trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connects");
    let request = format!(
        "POST /v1/transactions HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        21 * 1024 * 1024
    );
    stream.write_all(request.as_bytes()).await.expect("writes");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    // Read until the JSON body is complete (the answer is small).
    while !answer.ends_with(b"}") {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
            .await
            .expect("the node answers in time")
            .expect("reads");
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&answer).to_string();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("an HTTP status line");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let problem: serde_json::Value = serde_json::from_str(body).expect("a JSON problem body");
    (
        status,
        problem["code"].as_str().unwrap_or_default().to_string(),
    )
}
