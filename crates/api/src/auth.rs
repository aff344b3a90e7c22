//! Signed requests (RFC 9421): who sent a request, checked against the chain, with replays
//! refused; and request-signing sessions.
//!
//! A party signs with its Ed25519 key (`alg="ed25519"`, `keyid` = its party id), checked
//! against its current key on chain. Or it first opens a session with such a request
//! (`POST /v1/sessions`) and then signs with HMAC-SHA256 under the session's secret
//! (`alg="hmac-sha256"`, `keyid` = the session id). The node wraps the secret for the party's
//! encryption key, so only the party can use it. A session lives on the node that opened it, at
//! most an hour, and ends at once if the party's key changes or the party ends it. It
//! authenticates the party to this node only: what the party does on chain still carries its
//! Ed25519 signature.

use crate::routes::{Backend, HttpResult, ProblemResponse};
use axum::{
    Extension, Json,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use medchain_types::{
    Party, PartyId, PublicKey,
    api::{Problem, SessionRequest, SessionResponse},
    httpsig::{self, KeyId, VerifyingKey},
};
use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex},
};
use zeroize::Zeroize as _;

/// How far ahead of the server's clock a signature's `created` may be.
pub const CLOCK_SKEW_SECS: u64 = 30;
/// Most nonces remembered at once (each for at most five minutes).
pub const NONCES_MAX: usize = 2_000_000;
/// Most nonces one signer has remembered at once: one registered party cannot fill the
/// cache and lock everyone else out (about 33 signed requests a second for five minutes).
pub const NONCES_PER_SIGNER_MAX: usize = 10_000;
/// A session's lifetime when the party does not ask for one, in seconds.
pub const SESSION_SECS_DEFAULT: u64 = 900;
/// The longest session, in seconds.
pub const SESSION_SECS_MAX: u64 = 3_600;
/// Most sessions open on a node at once.
pub const SESSIONS_MAX: usize = 200_000;
/// How often, at most, expired sessions are swept (seconds).
const PRUNE_SECS: u64 = 10;
/// Most sessions one party has open on a node; opening another ends its oldest.
pub const SESSIONS_PER_PARTY_MAX: usize = 16;

/// The request authenticator a router shares: the names this node answers to, the replay
/// cache and the open sessions.
#[derive(Debug, Default)]
pub struct Auth {
    /// The authorities (`host:port`) clients reach this node by. A signature covers the
    /// request's `@authority`, and is accepted only if that is one of these: a request signed
    /// for one node cannot be replayed at another, whose replay cache never saw its nonce.
    /// Empty: any (a router built without a node's names, in tests).
    authorities: Vec<String>,
    replay: ReplayCache,
    pub(crate) sessions: Sessions,
}

impl Auth {
    /// An authenticator for a node reached by `authorities` (compared case-insensitively).
    pub fn for_authorities(authorities: Vec<String>) -> Self {
        Self {
            authorities: authorities
                .into_iter()
                .map(|name| name.to_ascii_lowercase())
                .collect(),
            ..Self::default()
        }
    }

    fn serves(&self, authority: &str) -> bool {
        self.authorities.is_empty()
            || self
                .authorities
                .iter()
                .any(|name| name.eq_ignore_ascii_case(authority))
    }
}

/// Nonces of signatures still within their lifetime, so that none is accepted twice.
#[derive(Debug, Default)]
struct ReplayCache {
    seen: Mutex<Nonces>,
}

#[derive(Debug, Default)]
struct Nonces {
    expiries: HashMap<(PartyId, String), u64>,
    /// How many of `expiries` each signer holds.
    per_signer: HashMap<PartyId, usize>,
    /// When expired nonces were last dropped (Unix seconds).
    pruned: u64,
}

impl Nonces {
    fn prune(&mut self, now: u64) {
        self.expiries.retain(|_, expiry| *expiry > now);
        self.per_signer.clear();
        for (party, _) in self.expiries.keys() {
            *self.per_signer.entry(*party).or_default() += 1;
        }
        self.pruned = now;
    }
}

impl ReplayCache {
    /// Records a nonce; refuses one already seen (a replay), or any when the cache is full.
    fn admit(&self, party: PartyId, nonce: String, expires: u64, now: u64) -> Result<(), Problem> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        // Dropping expired nonces walks the whole map: at most once a second, not per request.
        let signer_full = |seen: &Nonces| {
            seen.per_signer.get(&party).copied().unwrap_or(0) >= NONCES_PER_SIGNER_MAX
        };
        if (seen.expiries.len() >= NONCES_MAX / 2 || signer_full(&seen)) && seen.pruned < now {
            seen.prune(now);
        }
        if signer_full(&seen) {
            return Err(Problem::new(
                429,
                "too_many_requests",
                format!(
                    "{party} has {NONCES_PER_SIGNER_MAX} signed requests within their lifetime on this node; retry shortly"
                ),
            ));
        }
        if seen.expiries.len() >= NONCES_MAX {
            return Err(Problem::new(
                503,
                "busy",
                "too many signed requests in flight; retry shortly",
            ));
        }
        if seen.expiries.contains_key(&(party, nonce.clone())) {
            return Err(Problem::new(
                401,
                "replayed",
                "this signature's nonce was already used",
            ));
        }
        seen.expiries.insert((party, nonce), expires);
        *seen.per_signer.entry(party).or_default() += 1;
        Ok(())
    }
}

/// An open session.
pub(crate) struct Session {
    pub(crate) party: PartyId,
    /// The party's key when the session was opened: the session ends if it changes.
    pub(crate) signing_key: PublicKey,
    pub(crate) secret: [u8; 32],
    pub(crate) expires: u64,
    /// A custodial account's keys, held while its user is signed in.
    pub(crate) custodial: Option<medchain_envelope::PartySecrets>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session({}, until {})", self.party, self.expires)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Sessions {
    open: Mutex<OpenSessions>,
}

#[derive(Debug, Default)]
struct OpenSessions {
    by_id: HashMap<String, Session>,
    /// Each party's sessions, oldest first.
    by_party: HashMap<PartyId, VecDeque<String>>,
    pruned: u64,
}

impl OpenSessions {
    /// Drops expired sessions (and the custodial keys they held): every 10 seconds at most,
    /// and at most once a second when the table is half full.
    fn prune(&mut self, now: u64) {
        let due = if self.by_id.len() >= SESSIONS_MAX / 2 {
            self.pruned < now
        } else {
            self.pruned + PRUNE_SECS <= now
        };
        if !due {
            return;
        }
        let expired: Vec<String> = self
            .by_id
            .iter()
            .filter(|(_, s)| s.expires <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.remove(&id);
        }
        self.pruned = now;
    }

    fn remove(&mut self, id: &str) -> Option<Session> {
        let session = self.by_id.remove(id)?;
        if let Some(ids) = self.by_party.get_mut(&session.party) {
            ids.retain(|other| other != id);
            if ids.is_empty() {
                self.by_party.remove(&session.party);
            }
        }
        Some(session)
    }
}

impl Sessions {
    pub(crate) fn open(&self, id: String, session: Session, now: u64) -> Result<(), Problem> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.prune(now);
        if open.by_id.len() >= SESSIONS_MAX {
            return Err(Problem::new(
                503,
                "busy",
                "too many sessions open on this node; sign requests with the party key, or retry later",
            ));
        }
        let party = session.party;
        let ids = open.by_party.entry(party).or_default();
        ids.push_back(id.clone());
        let oldest = (ids.len() > SESSIONS_PER_PARTY_MAX).then(|| ids.front().cloned());
        open.by_id.insert(id, session);
        if let Some(Some(oldest)) = oldest {
            open.remove(&oldest);
        }
        Ok(())
    }

    /// The session's party, key at opening and secret, if it is open.
    fn get(&self, id: &str, now: u64) -> Option<(PartyId, PublicKey, [u8; 32])> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.prune(now);
        let session = open.by_id.get(id)?;
        if session.expires <= now {
            open.remove(id);
            return None;
        }
        Some((session.party, session.signing_key, session.secret))
    }

    fn end(&self, id: &str) -> Option<PartyId> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.remove(id).map(|session| session.party)
    }

    /// Ends every session of `party`.
    pub(crate) fn end_party(&self, party: &PartyId) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        for id in open.by_party.get(party).cloned().unwrap_or_default() {
            open.remove(&id);
        }
    }

    /// The keys a custodial session holds for its user, if it is open and custodial.
    pub(crate) fn custodial(&self, id: &str, now: u64) -> Option<medchain_envelope::PartySecrets> {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let session = open.by_id.get(id)?;
        if session.expires <= now {
            return None;
        }
        session.custodial.clone()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_id
            .len()
    }
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) fn unauthorized(code: &str, detail: impl Into<String>) -> ProblemResponse {
    ProblemResponse(Problem::new(401, code, detail))
}

/// Who signed a request: the signer as in finalized state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Signed {
    pub party: Party,
    /// The session it was signed under, if it was.
    pub session: Option<String>,
}

/// Checks a request's RFC 9421 signature (against the signer's current key on chain, or an open
/// session of this node), and its nonce against replays.
pub(crate) async fn authenticate<B: Backend>(
    backend: &B,
    auth: &Auth,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Signed, ProblemResponse> {
    let authority = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or_default()
        .to_string();
    if !auth.serves(&authority) {
        return Err(unauthorized(
            "wrong_authority",
            format!(
                "the request is for {authority:?}, which is not this node; sign it for the node it is sent to"
            ),
        ));
    }
    let request = httpsig::Request {
        method: method.as_str(),
        authority: &authority,
        path: uri.path(),
        query: uri.query(),
        headers: headers
            .iter()
            .filter_map(|(name, value)| {
                value
                    .to_str()
                    .ok()
                    .map(|value| (name.as_str().to_string(), value.to_string()))
            })
            .collect(),
    };
    let input = headers
        .get("signature-input")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| {
            unauthorized(
                "unsigned",
                "this endpoint needs an RFC 9421 signature (Signature-Input and Signature, label medchain)",
            )
        })?;
    let params = httpsig::parse_input(input, httpsig::LABEL)
        .map_err(|err| unauthorized("bad_signature", err.to_string()))?;
    let key_id =
        httpsig::key_id(&params).map_err(|err| unauthorized("bad_signature", err.to_string()))?;
    let now = unix_now();
    let (signer, key) = match &key_id {
        KeyId::Party(party) => {
            let signer = backend.party(*party).await?.ok_or_else(|| {
                unauthorized("unknown_signer", format!("no party {party} on chain"))
            })?;
            let key = VerifyingKey::Ed25519(signer.signing_key);
            (signer, key)
        }
        KeyId::Session(id) => {
            let (party, opened_with, secret) = auth.sessions.get(id, now).ok_or_else(|| {
                unauthorized(
                    "unknown_session",
                    format!("no open session {id} on this node: it ended or expired; open one with POST /v1/sessions"),
                )
            })?;
            let signer = match backend.party(party).await? {
                Some(signer) if signer.signing_key == opened_with => signer,
                _ => {
                    auth.sessions.end(id);
                    return Err(unauthorized(
                        "session_ended",
                        format!(
                            "session {id} ended: the party's signing key changed since it was opened"
                        ),
                    ));
                }
            };
            (signer, VerifyingKey::Session { party, secret })
        }
    };
    let policy = httpsig::Policy {
        now,
        skew_secs: CLOCK_SKEW_SECS,
    };
    let verified = httpsig::verify(&request, body, &policy, |_| Some(key)).map_err(|err| {
        let code = match err {
            httpsig::HttpSigError::Stale(_) => "stale_signature",
            httpsig::HttpSigError::Missing(_) => "unsigned",
            httpsig::HttpSigError::DigestMismatch => "digest_mismatch",
            _ => "bad_signature",
        };
        unauthorized(code, err.to_string())
    })?;
    auth.replay
        .admit(verified.party, verified.nonce, verified.expires, now)?;
    Ok(Signed {
        party: signer,
        session: verified.session,
    })
}

/// A session's lifetime: as asked (60 s to an hour), or the default.
pub(crate) fn session_lifetime(asked: Option<u64>) -> Result<u64, ProblemResponse> {
    let lifetime = asked.unwrap_or(SESSION_SECS_DEFAULT);
    if !(60..=SESSION_SECS_MAX).contains(&lifetime) {
        return Err(ProblemResponse(Problem::new(
            400,
            "invalid_lifetime",
            format!("lifetime_secs must be from 60 to {SESSION_SECS_MAX}, not {lifetime}"),
        )));
    }
    Ok(lifetime)
}

/// Maps a failure to draw randomness to a 500 naming what it was for.
pub(crate) fn random(
    what: &'static str,
) -> impl Fn(medchain_envelope::EnvelopeError) -> ProblemResponse {
    move |err| ProblemResponse(Problem::new(500, "internal", format!("{what}: {err}")))
}

/// `POST /v1/sessions`: signed with the party's Ed25519 key; opens a request-signing session
/// and answers its secret wrapped for the party.
pub(crate) async fn open_session<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Response> {
    let signed = authenticate(&backend, &auth, &method, &uri, &headers, &body).await?;
    if signed.session.is_some() {
        return Err(unauthorized(
            "party_key_required",
            "a session is opened with a request signed by the party's own key (alg=\"ed25519\"), not by another session",
        ));
    }
    let asked: SessionRequest = if body.is_empty() {
        SessionRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|err| {
            ProblemResponse(Problem::new(
                400,
                "malformed",
                format!("the body must be {{\"lifetime_secs\": n}} or empty: {err}"),
            ))
        })?
    };
    let lifetime = session_lifetime(asked.lifetime_secs)?;
    let party = signed.party;
    let id = hex::encode(medchain_envelope::random::<16>().map_err(random("session id"))?);
    let mut secret = medchain_envelope::random::<32>().map_err(random("session secret"))?;
    let wrapped =
        medchain_envelope::wrap_session_secret(&party.encryption_key, &party.id, &secret, &id)
            .map_err(random("wrapping the session secret"))?;
    let now = unix_now();
    let expires_at = now + lifetime;
    let opened = auth.sessions.open(
        id.clone(),
        Session {
            party: party.id,
            signing_key: party.signing_key,
            secret,
            expires: expires_at,
            custodial: None,
        },
        now,
    );
    secret.zeroize();
    opened?;
    let answer = SessionResponse {
        session: id,
        party: party.id,
        expires_at,
        wrapped_secret: hex::encode(wrapped.to_bytes()),
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `DELETE /v1/sessions/{id}`: signed by the session's party (with its key or the session
/// itself); ends the session at once.
pub(crate) async fn end_session<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    Path(id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<StatusCode> {
    let signed = authenticate(&backend, &auth, &method, &uri, &headers, &body).await?;
    let now = unix_now();
    match auth.sessions.get(&id, now) {
        Some((party, _, _)) if party == signed.party.id => {
            auth.sessions.end(&id);
            Ok(StatusCode::NO_CONTENT)
        }
        _ => Err(ProblemResponse(Problem::new(
            404,
            "unknown_session",
            format!("no open session {id} of {} on this node", signed.party.id),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (issue 16): one registered signer filling the replay cache answers 429 to
    /// that signer only; everyone else's signed requests still go through.
    #[test]
    fn one_signer_cannot_fill_the_replay_cache() {
        let cache = ReplayCache::default();
        let (busy, other) = (PartyId([1; 32]), PartyId([2; 32]));
        let now = 1_000;
        for n in 0..NONCES_PER_SIGNER_MAX {
            cache
                .admit(busy, format!("n{n}"), now + 300, now)
                .expect("within the signer's share");
        }
        let refused = cache
            .admit(busy, "one more".into(), now + 300, now)
            .expect_err("over the signer's share");
        assert_eq!(
            (refused.status, refused.code.as_str()),
            (429, "too_many_requests")
        );
        cache
            .admit(other, "n0".into(), now + 300, now)
            .expect("another signer is not affected");
        let replayed = cache
            .admit(other, "n0".into(), now + 300, now)
            .expect_err("a replay");
        assert_eq!(replayed.code, "replayed");
        // Once its nonces expire, the busy signer signs again.
        cache
            .admit(busy, "later".into(), now + 700, now + 301)
            .expect("its old nonces expired");
    }

    #[test]
    fn an_authority_is_one_of_the_nodes_names() {
        let auth = Auth::for_authorities(vec!["Node1.Example:8443".into()]);
        assert!(auth.serves("node1.example:8443"));
        assert!(!auth.serves("node2.example:8443"));
        assert!(!auth.serves(""));
        assert!(Auth::default().serves("anything:1"));
    }

    fn session(party: u8, expires: u64) -> Session {
        Session {
            party: PartyId([party; 32]),
            signing_key: PublicKey([party; 32]),
            secret: [party; 32],
            expires,
            custodial: None,
        }
    }

    #[test]
    fn expired_sessions_are_swept_with_the_keys_they_hold() {
        let sessions = Sessions::default();
        let mut custodial = session(4, 100);
        custodial.custodial = Some(medchain_envelope::PartySecrets::new(
            PartyId([4; 32]),
            [5; 32],
            [6; 32],
        ));
        sessions.open("c".into(), custodial, 10).expect("opens");
        sessions
            .open("d".into(), session(5, 1_000), 10)
            .expect("opens");
        assert!(sessions.custodial("c", 50).is_some());
        assert!(sessions.custodial("d", 50).is_none(), "not custodial");
        assert!(sessions.custodial("c", 100).is_none(), "expired");
        // Any later lookup sweeps it, whichever session it asks for.
        assert!(sessions.get("d", 200).is_some());
        assert_eq!(sessions.len(), 1);
        sessions.end_party(&PartyId([5; 32]));
        assert_eq!(sessions.len(), 0);
    }

    #[test]
    fn sessions_expire_end_and_are_capped_per_party() {
        let sessions = Sessions::default();
        sessions
            .open("a".into(), session(1, 100), 10)
            .expect("opens");
        assert_eq!(sessions.get("a", 50).map(|s| s.0), Some(PartyId([1; 32])));
        assert_eq!(sessions.get("a", 100).map(|s| s.0), None, "expired");
        assert_eq!(sessions.len(), 0, "an expired session is dropped when met");
        for i in 0..SESSIONS_PER_PARTY_MAX + 2 {
            sessions
                .open(format!("p{i}"), session(2, 1_000), 10)
                .expect("opens");
        }
        assert_eq!(sessions.len(), SESSIONS_PER_PARTY_MAX);
        assert!(sessions.get("p0", 20).is_none(), "the oldest ended");
        assert!(sessions.get("p1", 20).is_none());
        assert!(sessions.get("p2", 20).is_some());
        assert_eq!(sessions.end("p2"), Some(PartyId([2; 32])));
        assert!(sessions.get("p2", 20).is_none());
        assert_eq!(sessions.end("p2"), None);
        sessions
            .open("other".into(), session(3, 1_000), 10)
            .expect("opens");
        assert_eq!(sessions.len(), SESSIONS_PER_PARTY_MAX);
    }
}
