//! Custodial accounts over HTTP: users without keys of their own sign in with a password and a
//! TOTP code, and the node signs and unwraps for them under the session that opens.
//!
//! ```text
//! POST /v1/custodial/accounts        signed by the organisation: open an account (the node
//!                                    makes the keys; answers the activation code once)
//! GET  /v1/custodial/accounts        signed by the organisation: its accounts, no secrets
//! POST /v1/custodial/activate        activation code + new password -> TOTP secret, recovery code
//! POST /v1/custodial/sign-in         password + TOTP code -> a session (id and HMAC secret)
//! POST /v1/custodial/password        password + TOTP code + new password
//! POST /v1/custodial/recover         recovery code + new password -> new TOTP secret and code
//! POST /v1/custodial/transactions    session-signed: sign a transaction as the user
//! POST /v1/custodial/wrapped-key-signatures
//!                                    session-signed: sign a wrapped data key as the user
//! POST /v1/custodial/unwrap          session-signed: unwrap a data key wrapped for the user
//! ```
//!
//! The session is an ordinary request-signing session (HMAC-SHA256, at most an hour) that also
//! holds the user's keys in memory; ending it, its expiry, a password change or a recovery
//! drops them. Everything the user does on chain still carries an Ed25519 signature: the
//! node's, with the user's key, which is what custodial means.

use crate::{
    auth::{self, Auth, Session, authenticate, unix_now},
    routes::{Backend, HttpResult, ProblemResponse},
};
use axum::{
    Extension, Json,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use medchain_types::{
    Hash32, TxBody,
    api::{
        AccountActivate, AccountInvite, AccountRecover, CustodialBytes, CustodialSessionResponse,
        CustodialSign, CustodialUnwrap, CustodialWrappedKeySign, PasswordChange, Problem, SignIn,
    },
    tx::Transaction,
};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use zeroize::Zeroize as _;

fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> HttpResult<T> {
    serde_json::from_slice(body).map_err(|err| {
        ProblemResponse(Problem::new(
            400,
            "malformed",
            format!("the body must be {what} as JSON: {err}"),
        ))
    })
}

fn no_accounts() -> ProblemResponse {
    ProblemResponse(Problem::new(
        404,
        "no_custodial_accounts",
        "this node keeps no custodial accounts (it has no custodial keystore): users sign with their own keys",
    ))
}

/// Checks that the request is signed by the organisation whose accounts the node keeps.
async fn organisation<B: Backend>(
    backend: &B,
    auth: &Auth,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> HttpResult<()> {
    let organisation = backend.custodial_organisation().ok_or_else(no_accounts)?;
    let signed = authenticate(backend, auth, method, uri, headers, body).await?;
    if signed.party.id != organisation {
        return Err(ProblemResponse(Problem::new(
            403,
            "not_the_organisation",
            format!(
                "custodial accounts on this node are managed by {organisation}, not {}",
                signed.party.id
            ),
        )));
    }
    Ok(())
}

/// `POST /v1/custodial/accounts`
pub(crate) async fn invite<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Response> {
    organisation(&backend, &auth, &method, &uri, &headers, &body).await?;
    let invite: AccountInvite = parse(&body, "{\"username\", \"kind\"}")?;
    let invited = backend.account_invite(invite).await?;
    Ok((StatusCode::CREATED, Json(invited)).into_response())
}

/// `GET /v1/custodial/accounts`
pub(crate) async fn list<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Response> {
    organisation(&backend, &auth, &method, &uri, &headers, &body).await?;
    Ok(Json(backend.accounts().await?).into_response())
}

/// The peer address of a request (sign-in attempts are limited and locked out per source);
/// `None` where the server was not started with connection info.
fn source_of(
    peer: Option<Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
) -> Option<std::net::IpAddr> {
    peer.map(|Extension(axum::extract::ConnectInfo(address))| address.ip())
}

/// `POST /v1/custodial/activate`
pub(crate) async fn activate<B: Backend>(
    State(backend): State<B>,
    peer: Option<Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    body: Bytes,
) -> HttpResult<Response> {
    backend.custodial_organisation().ok_or_else(no_accounts)?;
    let activate: AccountActivate =
        parse(&body, "{\"username\", \"activation_code\", \"password\"}")?;
    Ok(Json(backend.account_activate(activate, source_of(peer)).await?).into_response())
}

/// `POST /v1/custodial/sign-in`
pub(crate) async fn sign_in<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    peer: Option<Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    body: Bytes,
) -> HttpResult<Response> {
    backend.custodial_organisation().ok_or_else(no_accounts)?;
    let SignIn {
        username,
        password,
        totp,
        lifetime_secs,
    } = parse(&body, "{\"username\", \"password\", \"totp\"}")?;
    let lifetime = auth::session_lifetime(lifetime_secs)?;
    let keys = backend
        .account_sign_in(username, password, totp, source_of(peer))
        .await?;
    let signing_key = keys.keypair().public_key();
    match backend.party(keys.party()).await? {
        Some(party) if party.signing_key == signing_key => {}
        Some(_) => {
            return Err(ProblemResponse(Problem::new(
                409,
                "keys_changed",
                format!(
                    "party {} has other keys on chain than this account holds",
                    keys.party()
                ),
            )));
        }
        None => {
            return Err(ProblemResponse(Problem::new(
                409,
                "not_registered",
                format!(
                    "the account's party {} is not registered on chain yet: the organisation registers it with the keys it was given",
                    keys.party()
                ),
            )));
        }
    }
    let id = hex::encode(medchain_envelope::random::<16>().map_err(auth::random("session id"))?);
    let mut secret = medchain_envelope::random::<32>().map_err(auth::random("session secret"))?;
    let now = unix_now();
    let party = keys.party();
    let answer = CustodialSessionResponse {
        session: id.clone(),
        party,
        expires_at: now + lifetime,
        secret: hex::encode(secret),
    };
    let opened = auth.sessions.open(
        id,
        Session {
            party,
            signing_key,
            secret,
            expires: now + lifetime,
            custodial: Some(keys),
        },
        now,
    );
    secret.zeroize();
    opened?;
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// `POST /v1/custodial/password`: also ends the user's open sessions.
pub(crate) async fn change_password<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    peer: Option<Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    body: Bytes,
) -> HttpResult<StatusCode> {
    backend.custodial_organisation().ok_or_else(no_accounts)?;
    let change: PasswordChange = parse(
        &body,
        "{\"username\", \"password\", \"totp\", \"new_password\"}",
    )?;
    let party = backend
        .account_change_password(change, source_of(peer))
        .await?;
    auth.sessions.end_party(&party);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/custodial/recover`: also ends the user's open sessions.
pub(crate) async fn recover<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    peer: Option<Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    body: Bytes,
) -> HttpResult<Response> {
    backend.custodial_organisation().ok_or_else(no_accounts)?;
    let recover: AccountRecover =
        parse(&body, "{\"username\", \"recovery_code\", \"new_password\"}")?;
    let enrolled = backend.account_recover(recover, source_of(peer)).await?;
    auth.sessions.end_party(&enrolled.party_id);
    Ok(Json(enrolled).into_response())
}

/// The keys of the custodial session a request is signed under.
pub(crate) async fn session_keys<B: Backend>(
    backend: &B,
    auth: &Auth,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> HttpResult<medchain_envelope::PartySecrets> {
    let signed = authenticate(backend, auth, method, uri, headers, body).await?;
    signed
        .session
        .and_then(|id| auth.sessions.custodial(&id, unix_now()))
        .ok_or_else(|| {
            ProblemResponse(Problem::new(
                403,
                "not_custodial",
                "this endpoint acts for a custodial account: sign the request under a session opened with POST /v1/custodial/sign-in",
            ))
        })
}

/// The `wrapped` field: its bytes, and the wrapped key they hold.
fn wrapped_key(text: &str) -> HttpResult<(Vec<u8>, medchain_envelope::WrappedKey)> {
    let malformed = |detail: String| ProblemResponse(Problem::new(400, "malformed", detail));
    let bytes = hex::decode(text).map_err(|_| malformed("wrapped must be hex".into()))?;
    let key = medchain_envelope::WrappedKey::from_bytes(&bytes)
        .map_err(|err| malformed(format!("wrapped: {err}")))?;
    Ok((bytes, key))
}

/// `POST /v1/custodial/transactions`: answers the signed transaction, for the client to submit
/// (or send with a read).
pub(crate) async fn sign_transaction<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Response> {
    let keys = session_keys(&backend, &auth, &method, &uri, &headers, &body).await?;
    let asked: CustodialSign = parse(&body, "{\"nonce\", \"body\"}")?;
    if matches!(asked.body, TxBody::RotateKeys { .. }) {
        return Err(ProblemResponse(Problem::new(
            409,
            "custodial_rotation",
            "a custodial account's keys live in the node's keystore; rotating them by a signed transaction would lock the user out",
        )));
    }
    let keypair = keys.keypair();
    let signed = Transaction {
        chain_id: backend.status().chain_id,
        signer: keys.party(),
        public_key: keypair.public_key(),
        nonce: asked.nonce,
        body: asked.body,
    }
    .sign(&keypair);
    Ok(Json(signed).into_response())
}

/// `POST /v1/custodial/wrapped-key-signatures`
pub(crate) async fn sign_wrapped_key<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Response> {
    let keys = session_keys(&backend, &auth, &method, &uri, &headers, &body).await?;
    let asked: CustodialWrappedKeySign = parse(
        &body,
        "{\"record\", \"version\", \"recipient\", \"wrapped\"}",
    )?;
    let (wrapped, _) = wrapped_key(&asked.wrapped)?;
    let signature = keys.keypair().sign(
        medchain_types::records::WRAPPED_KEY_DOMAIN,
        &medchain_types::records::wrapped_key_statement(
            &asked.record,
            asked.version,
            &asked.recipient,
            &wrapped,
        ),
    );
    Ok(Json(CustodialBytes {
        hex: hex::encode(signature.0),
    })
    .into_response())
}

/// `POST /v1/custodial/unwrap`
pub(crate) async fn unwrap<B: Backend>(
    State(backend): State<B>,
    Extension(auth): Extension<Arc<Auth>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> HttpResult<Response> {
    let keys = session_keys(&backend, &auth, &method, &uri, &headers, &body).await?;
    let asked: CustodialUnwrap = parse(&body, "{\"record\", \"version\", \"wrapped\"}")?;
    let (_, wrapped) = wrapped_key(&asked.wrapped)?;
    let key = keys
        .unwrap(
            &wrapped,
            &medchain_envelope::Binding {
                record: Hash32(asked.record.0),
                version: asked.version,
            },
        )
        .map_err(|_| {
            ProblemResponse(Problem::new(
                422,
                "cannot_unwrap",
                "this key is not wrapped for the session's user, or not for this record version",
            ))
        })?;
    Ok(Json(CustodialBytes {
        hex: hex::encode(key.as_bytes()),
    })
    .into_response())
}
