//! The `/v1` HTTP client.

use medchain_types::{
    PartyId, SignedTransaction, TxHash,
    api::{BatchResponse, BlockResponse, Problem, StateResponse, StatusResponse, TxStatusResponse},
};
use serde::de::DeserializeOwned;

/// HTTP methods, for [`Client::signed`].
pub use reqwest::Method;

/// Errors talking to a node.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach {url}: {source}")]
    Transport { url: String, source: reqwest::Error },
    #[error("{} ({}): {}", .0.title, .0.status, .0.detail)]
    Problem(Problem),
    #[error("unexpected answer from {url}: HTTP {status}: {body}")]
    Unexpected {
        url: String,
        status: u16,
        body: String,
    },
}

/// A client of one node.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A client of the node at `base` (for example `http://127.0.0.1:8080`).
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            base: base.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// The node's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn read<T: DeserializeOwned>(
        &self,
        url: String,
        response: reqwest::Response,
    ) -> Result<T, ClientError> {
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        // 422 answers a rejected transaction, and 403 a denied one, with its status body; a
        // problem body does not parse as a status.
        if (status.is_success() || matches!(status.as_u16(), 403 | 422))
            && let Ok(value) = serde_json::from_slice(&bytes)
        {
            return Ok(value);
        }
        if let Ok(problem) = serde_json::from_slice::<Problem>(&bytes) {
            return Err(ClientError::Problem(problem));
        }
        Err(ClientError::Unexpected {
            url,
            status: status.as_u16(),
            body: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
        })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = format!("{}{}", self.base, path);
        let response =
            self.http
                .get(&url)
                .send()
                .await
                .map_err(|source| ClientError::Transport {
                    url: url.clone(),
                    source,
                })?;
        self.read(url, response).await
    }

    /// A GET that retries, for up to five seconds, while the node answers that the state it
    /// would prove is between blocks or not yet covered by a certificate.
    async fn get_settled<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let mut attempts = 0;
        loop {
            match self.get(path).await {
                Err(ClientError::Problem(problem))
                    if attempts < 50
                        && matches!(
                            problem.code.as_str(),
                            "state_settling" | "no_certificate_yet"
                        ) =>
                {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<StatusResponse, ClientError> {
        self.get("/v1/status").await
    }

    /// Submits a transaction as JSON; with `wait`, returns once it commits or is rejected.
    pub async fn submit(
        &self,
        tx: &SignedTransaction,
        wait: bool,
    ) -> Result<TxStatusResponse, ClientError> {
        let url = format!(
            "{}/v1/transactions{}",
            self.base,
            if wait { "?wait=true" } else { "" }
        );
        let response = self
            .http
            .post(&url)
            .json(tx)
            .send()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        self.read(url, response).await
    }

    /// Submits a transaction in its canonical binary form.
    pub async fn submit_binary(&self, bytes: Vec<u8>) -> Result<TxStatusResponse, ClientError> {
        self.post_binary("/v1/transactions", bytes).await
    }

    /// Submits many transactions at once (canonical binary form).
    pub async fn submit_batch(
        &self,
        txs: &[SignedTransaction],
    ) -> Result<BatchResponse, ClientError> {
        use commonware_codec::Encode as _;
        self.post_binary("/v1/transactions/batch", txs.to_vec().encode().to_vec())
            .await
    }

    async fn post_binary<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .post(&url)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|source| ClientError::Transport {
                url: url.clone(),
                source,
            })?;
        self.read(url, response).await
    }

    /// `GET /v1/transactions/{hash}`.
    pub async fn tx_status(&self, hash: &TxHash) -> Result<TxStatusResponse, ClientError> {
        self.get(&format!("/v1/transactions/{hash}")).await
    }

    /// `GET /v1/blocks/{height}`.
    pub async fn block(&self, height: u64) -> Result<BlockResponse, ClientError> {
        self.get(&format!("/v1/blocks/{height}")).await
    }

    /// `GET /v1/blocks/latest`.
    pub async fn latest_block(&self) -> Result<BlockResponse, ClientError> {
        self.get("/v1/blocks/latest").await
    }

    /// `GET /v1/state/{key}` (the key in its text form, e.g. `party/<id>`). A proof is served
    /// once a finalization certificate covers the state read, usually within a block; the
    /// client retries for up to five seconds while the node answers that it is not there yet.
    pub async fn state(&self, key: &str, proof: bool) -> Result<StateResponse, ClientError> {
        let path = format!("/v1/state/{key}{}", if proof { "?proof=true" } else { "" });
        self.get_settled(&path).await
    }

    /// Whether `party` holds a valid credential of `credential_type` (in `jurisdiction`) at
    /// `at_ms` (default: now), with proofs when asked.
    pub async fn credential_check(
        &self,
        party: &PartyId,
        credential_type: &str,
        jurisdiction: Option<&str>,
        at_ms: Option<u64>,
        proof: bool,
    ) -> Result<medchain_types::api::CredentialCheckResponse, ClientError> {
        let mut path = format!("/v1/credentials/check?party={party}&type={credential_type}");
        if let Some(jurisdiction) = jurisdiction {
            path.push_str(&format!("&jurisdiction={jurisdiction}"));
        }
        if let Some(at_ms) = at_ms {
            path.push_str(&format!("&at_ms={at_ms}"));
        }
        if proof {
            path.push_str("&proof=true");
        }
        self.get_settled(&path).await
    }

    /// The next nonce a party's transaction must carry, from finalized state.
    pub async fn next_nonce(&self, party: &PartyId) -> Result<u64, ClientError> {
        let answer = self.state(&format!("party/{party}"), false).await?;
        let Some(decoded) = answer.decoded else {
            return Err(ClientError::Problem(Problem::new(
                404,
                "unknown_party",
                format!("party {party} is not registered"),
            )));
        };
        Ok(decoded["nonce"].as_u64().unwrap_or(0))
    }

    /// Sends a request signed with RFC 9421 as `keys` (label `medchain`, covering the method,
    /// authority, path, query and the body's digest).
    pub async fn signed<T: DeserializeOwned>(
        &self,
        keys: &crate::keys::PartyKeys,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        let url = format!("{}{}", self.base, path);
        let parsed = reqwest::Url::parse(&url).map_err(|err| ClientError::Unexpected {
            url: url.clone(),
            status: 0,
            body: format!("bad URL: {err}"),
        })?;
        let authority = match parsed.port() {
            Some(port) => format!("{}:{port}", parsed.host_str().unwrap_or_default()),
            None => parsed.host_str().unwrap_or_default().to_string(),
        };
        let request = medchain_types::httpsig::Request {
            method: method.as_str(),
            authority: &authority,
            path: parsed.path(),
            query: parsed.query(),
            headers: Vec::new(),
        };
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).map_err(|err| ClientError::Unexpected {
            url: url.clone(),
            status: 0,
            body: format!("no randomness for the nonce: {err}"),
        })?;
        let fields = medchain_types::httpsig::sign(
            &keys.signing,
            &keys.party_id,
            &request,
            &body,
            created,
            &hex::encode(nonce),
        );
        let mut builder = self
            .http
            .request(method, parsed)
            .header("signature-input", fields.signature_input)
            .header("signature", fields.signature);
        if let Some(digest) = fields.content_digest {
            builder = builder
                .header("content-digest", digest)
                .header(reqwest::header::CONTENT_TYPE, content_type);
        }
        let response =
            builder
                .body(body)
                .send()
                .await
                .map_err(|source| ClientError::Transport {
                    url: url.clone(),
                    source,
                })?;
        if response.status() == reqwest::StatusCode::NO_CONTENT {
            return serde_json::from_str("null").map_err(|err| ClientError::Unexpected {
                url,
                status: 204,
                body: err.to_string(),
            });
        }
        self.read(url, response).await
    }
}
