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
    /// The node could not be reached (or its answer not read): the message names the URL and
    /// the innermost cause (connection refused, timed out, ...), once.
    #[error("cannot reach {url}: {}", innermost(.error))]
    Transport { url: String, error: reqwest::Error },
    #[error("{} ({}): {}", .0.title, .0.status, .0.detail)]
    Problem(Problem),
    #[error("unexpected answer from {url}: HTTP {status}: {body}")]
    Unexpected {
        url: String,
        status: u16,
        body: String,
    },
}

/// The innermost cause of a transport error (what a person can act on), without the layers
/// above it that say the same thing again.
fn innermost(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// A client of one node.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

/// Who signs a request: a party with its key, or a session it opened on the node.
#[derive(Clone, Copy)]
pub enum RequestSigner<'a> {
    Party(&'a crate::keys::PartyKeys),
    Session(&'a Session),
}

/// A request-signing session opened on one node ([`Client::open_session`]). Its secret is
/// wiped when it is dropped.
pub struct Session {
    /// The session id (the `keyid` of its signatures).
    pub id: String,
    pub party: medchain_types::PartyId,
    /// When the node ends it (Unix seconds).
    pub expires_at: u64,
    secret: [u8; 32],
}

impl Session {
    pub(crate) fn new(
        id: String,
        party: medchain_types::PartyId,
        expires_at: u64,
        secret: [u8; 32],
    ) -> Self {
        Self {
            id,
            party,
            expires_at,
            secret,
        }
    }

    /// The session's HMAC-SHA256 secret, for signing requests with another RFC 9421
    /// implementation ([`medchain_types::httpsig::sign_with`] does it here).
    pub fn secret(&self) -> &[u8; 32] {
        &self.secret
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Session({} of {}, until {})",
            self.id, self.party, self.expires_at
        )
    }
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
            .map_err(|error| ClientError::Transport {
                url: url.clone(),
                error,
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

    /// [`Self::read`], with a 204 answered as `null`.
    async fn answer<T: DeserializeOwned>(
        &self,
        url: String,
        response: reqwest::Response,
    ) -> Result<T, ClientError> {
        if response.status() == reqwest::StatusCode::NO_CONTENT {
            return serde_json::from_str("null").map_err(|err| ClientError::Unexpected {
                url,
                status: 204,
                body: err.to_string(),
            });
        }
        self.read(url, response).await
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        Ok(self.get_paged(path).await?.0)
    }

    /// A GET answering the body and the `nextPageToken` of its `Link: <...>; rel="next"`
    /// header, if any.
    pub(crate) async fn get_paged<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(T, Option<String>), ClientError> {
        let url = format!("{}{}", self.base, path);
        let response =
            self.http
                .get(&url)
                .send()
                .await
                .map_err(|error| ClientError::Transport {
                    url: url.clone(),
                    error,
                })?;
        let next = response
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|value| value.to_str().ok())
            .and_then(|link| {
                let target = link.split(';').next()?.trim();
                let query = target.trim_start_matches('<').trim_end_matches('>');
                let query = query.split_once('?')?.1;
                medchain_formats::uri::decode_query(query)
                    .into_iter()
                    .find(|(name, _)| name == "nextPageToken")
                    .map(|(_, value)| value)
            });
        Ok((self.read(url, response).await?, next))
    }

    /// A GET that retries, for up to five seconds, while the node answers that the state it
    /// would prove is between blocks, moved on while it read the answer, or is not yet
    /// covered by a certificate.
    pub(crate) async fn get_settled<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, ClientError> {
        let mut attempts = 0;
        loop {
            match self.get(path).await {
                Err(ClientError::Problem(problem))
                    if attempts < 50
                        && matches!(
                            problem.code.as_str(),
                            "state_settling" | "state_moved" | "no_certificate_yet"
                        ) =>
                {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                other => return other,
            }
        }
    }

    /// An unsigned POST of a JSON body (`null` for a 204 answer).
    pub async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ClientError> {
        let url = format!("{}{}", self.base, path);
        let response = self
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            .map_err(|error| ClientError::Transport {
                url: url.clone(),
                error,
            })?;
        self.answer(url, response).await
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
        let path = if wait {
            "/v1/transactions?wait=true"
        } else {
            "/v1/transactions"
        };
        self.post_json(path, tx).await
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
            .map_err(|error| ClientError::Transport {
                url: url.clone(),
                error,
            })?;
        self.read(url, response).await
    }

    /// `GET /v1/transactions/{hash}`.
    pub async fn tx_status(&self, hash: &TxHash) -> Result<TxStatusResponse, ClientError> {
        self.get(&format!("/v1/transactions/{hash}")).await
    }

    /// Waits, up to `timeout`, for a transaction submitted to this node to leave its pool
    /// (committed, denied or rejected); `None` if it is still pending (or unknown) by then.
    pub async fn settled(
        &self,
        hash: &TxHash,
        timeout: std::time::Duration,
    ) -> Result<Option<TxStatusResponse>, ClientError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let status = self.tx_status(hash).await?;
            use medchain_types::api::TxState;
            if !matches!(status.status, TxState::Pending | TxState::Unknown) {
                return Ok(Some(status));
            }
            if std::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
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

    /// `GET /v1/supply/verify`: the verdict on a scanned pack, case or pallet (a GS1 element
    /// string, its human-readable form or a Digital Link URI), with proofs when asked (check
    /// them with [`crate::supply::check_verify_pack`]).
    pub async fn verify_pack(
        &self,
        scan: &str,
        proof: bool,
    ) -> Result<medchain_types::api::VerifyPackResponse, ClientError> {
        let mut path = format!(
            "/v1/supply/verify?scan={}",
            medchain_formats::uri::percent_encode(scan)
        );
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
        self.signed_as(RequestSigner::Party(keys), method, path, content_type, body)
            .await
    }

    /// Opens a request-signing session on this node (`POST /v1/sessions`, signed with the
    /// party's key) and unwraps its secret. Requests signed with it
    /// ([`RequestSigner::Session`]) cost an HMAC instead of an Ed25519 signature on both
    /// sides. `lifetime_secs` is 60 to 3,600 (default 900).
    pub async fn open_session(
        &self,
        keys: &crate::keys::PartyKeys,
        lifetime_secs: Option<u64>,
    ) -> Result<Session, ClientError> {
        let body = serde_json::to_vec(&medchain_types::api::SessionRequest { lifetime_secs })
            .expect("serializes");
        let answer: medchain_types::api::SessionResponse = self
            .signed(
                keys,
                reqwest::Method::POST,
                "/v1/sessions",
                "application/json",
                body,
            )
            .await?;
        let unexpected = |body: String| ClientError::Unexpected {
            url: format!("{}/v1/sessions", self.base),
            status: 201,
            body,
        };
        if answer.party != keys.party_id {
            return Err(unexpected(format!(
                "the session was opened for {}, not {}",
                answer.party, keys.party_id
            )));
        }
        let wrapped = hex::decode(&answer.wrapped_secret)
            .map_err(|err| unexpected(format!("wrapped_secret: {err}")))
            .and_then(|bytes| {
                medchain_envelope::WrappedKey::from_bytes(&bytes)
                    .map_err(|err| unexpected(format!("wrapped_secret: {err}")))
            })?;
        let secret = medchain_envelope::unwrap_session_secret(
            &keys.encryption_secret,
            &keys.party_id,
            &wrapped,
            &answer.session,
        )
        .map_err(|err| unexpected(format!("the session secret does not open: {err}")))?;
        Ok(Session {
            id: answer.session,
            party: answer.party,
            expires_at: answer.expires_at,
            secret,
        })
    }

    /// Ends a session at once (`DELETE /v1/sessions/{id}`, signed under the session).
    pub async fn end_session(&self, session: &Session) -> Result<(), ClientError> {
        let path = format!("/v1/sessions/{}", session.id);
        self.signed_as::<serde_json::Value>(
            RequestSigner::Session(session),
            reqwest::Method::DELETE,
            &path,
            "application/json",
            Vec::new(),
        )
        .await
        .map(|_| ())
    }

    /// Sends a request signed with RFC 9421 by `signer`: a party's key or a session.
    pub async fn signed_as<T: DeserializeOwned>(
        &self,
        signer: RequestSigner<'_>,
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
        let signer = match signer {
            RequestSigner::Party(keys) => medchain_types::httpsig::Signer::Party {
                keypair: &keys.signing,
                party: &keys.party_id,
            },
            RequestSigner::Session(session) => medchain_types::httpsig::Signer::Session {
                id: &session.id,
                secret: &session.secret,
            },
        };
        let fields = medchain_types::httpsig::sign_with(
            signer,
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
        let response = builder
            .body(body)
            .send()
            .await
            .map_err(|error| ClientError::Transport {
                url: url.clone(),
                error,
            })?;
        self.answer(url, response).await
    }
}
