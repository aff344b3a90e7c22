//! Who holds a party's keys: the party itself ([`PartyKeys`], self-custody), or a node that
//! keeps them in its custodial keystore for a user who signed in with a password and a TOTP
//! code ([`Custodial`]). The records functions take either, through [`Holder`].
//!
//! Custodial accounts are an explicit mode of a node that keeps its organisation's custodial
//! key: the organisation opens an account ([`invite`]), registers the party the node made
//! on chain, and hands the activation code to the user, who activates it ([`activate`]),
//! enrols the TOTP secret in an authenticator app, and signs in ([`sign_in`]).

use crate::{
    http::{Client, ClientError, RequestSigner, Session},
    keys::PartyKeys,
    records::RecordsError,
};
use medchain_envelope::{Binding, DataKey, WrappedKey};
use medchain_types::{
    ChainId, PartyId, Signature, SignedTransaction, TxBody,
    api::{
        AccountActivate, AccountEnrolled, AccountInvite, AccountInvited, AccountRecover,
        AccountSummary, CustodialBytes, CustodialSessionResponse, CustodialSign, CustodialUnwrap,
        CustodialWrappedKeySign, PasswordChange, SignIn,
    },
    identity::PartyKind,
    records::RecordId,
};
use std::future::Future;

/// Signs and unwraps as a party: with keys in hand, or through the node keeping them.
pub trait Holder: Sync {
    /// The party.
    fn party_id(&self) -> PartyId;
    /// How its HTTP requests are signed.
    fn request_signer(&self) -> RequestSigner<'_>;
    /// Signs a transaction as the party.
    fn sign_tx(
        &self,
        chain: &ChainId,
        nonce: u64,
        body: TxBody,
    ) -> impl Future<Output = Result<SignedTransaction, ClientError>> + Send;
    /// Signs a data key wrapped for `recipient` (what custodians check before storing it).
    fn sign_wrapped_key(
        &self,
        record: &RecordId,
        version: u32,
        recipient: &PartyId,
        wrapped: &[u8],
    ) -> impl Future<Output = Result<Signature, ClientError>> + Send;
    /// Unwraps a data key wrapped for the party.
    fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        binding: &Binding,
    ) -> impl Future<Output = Result<DataKey, RecordsError>> + Send;
}

impl Holder for PartyKeys {
    fn party_id(&self) -> PartyId {
        self.party_id
    }

    fn request_signer(&self) -> RequestSigner<'_> {
        RequestSigner::Party(self)
    }

    async fn sign_tx(
        &self,
        chain: &ChainId,
        nonce: u64,
        body: TxBody,
    ) -> Result<SignedTransaction, ClientError> {
        Ok(self.sign(chain, nonce, body))
    }

    async fn sign_wrapped_key(
        &self,
        record: &RecordId,
        version: u32,
        recipient: &PartyId,
        wrapped: &[u8],
    ) -> Result<Signature, ClientError> {
        Ok(self.signing.sign(
            medchain_types::records::WRAPPED_KEY_DOMAIN,
            &medchain_types::records::wrapped_key_statement(record, version, recipient, wrapped),
        ))
    }

    async fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        binding: &Binding,
    ) -> Result<DataKey, RecordsError> {
        Ok(medchain_envelope::unwrap(
            &self.encryption_secret,
            &self.party_id,
            wrapped,
            binding,
        )?)
    }
}

/// A user signed in to a custodial account: the node that keeps their keys signs and unwraps
/// for them, for as long as the session lasts. Use it with a [`Client`] of the same node.
#[derive(Debug)]
pub struct Custodial {
    node: Client,
    session: Session,
}

impl Custodial {
    /// The session the node signs under.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The node keeping the keys.
    pub fn node(&self) -> &Client {
        &self.node
    }

    /// A signed-in session from its parts (saved by a CLI between commands, say).
    pub fn resume(
        node: Client,
        id: String,
        party: PartyId,
        expires_at: u64,
        secret: [u8; 32],
    ) -> Self {
        Self {
            node,
            session: Session::new(id, party, expires_at, secret),
        }
    }

    /// Signs out: the node drops the keys it was holding for this session.
    pub async fn sign_out(self) -> Result<(), ClientError> {
        self.node.end_session(&self.session).await
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ClientError> {
        self.node
            .signed_as(
                RequestSigner::Session(&self.session),
                reqwest::Method::POST,
                path,
                "application/json",
                serde_json::to_vec(body).expect("serializes"),
            )
            .await
    }
}

fn unexpected(node: &Client, path: &str, body: String) -> ClientError {
    ClientError::Unexpected {
        url: format!("{}{path}", node.base()),
        status: 200,
        body,
    }
}

impl Holder for Custodial {
    fn party_id(&self) -> PartyId {
        self.session.party
    }

    fn request_signer(&self) -> RequestSigner<'_> {
        RequestSigner::Session(&self.session)
    }

    async fn sign_tx(
        &self,
        chain: &ChainId,
        nonce: u64,
        body: TxBody,
    ) -> Result<SignedTransaction, ClientError> {
        let path = "/v1/custodial/transactions";
        let signed: SignedTransaction = self
            .post(
                path,
                &CustodialSign {
                    nonce,
                    body: body.clone(),
                },
            )
            .await?;
        let tx = &signed.transaction;
        if tx.signer != self.session.party
            || &tx.chain_id != chain
            || tx.nonce != nonce
            || tx.body != body
            || signed.verify_signature().is_err()
        {
            return Err(unexpected(
                &self.node,
                path,
                "the node signed something other than what was asked".into(),
            ));
        }
        Ok(signed)
    }

    async fn sign_wrapped_key(
        &self,
        record: &RecordId,
        version: u32,
        recipient: &PartyId,
        wrapped: &[u8],
    ) -> Result<Signature, ClientError> {
        let path = "/v1/custodial/wrapped-key-signatures";
        let answer: CustodialBytes = self
            .post(
                path,
                &CustodialWrappedKeySign {
                    record: *record,
                    version,
                    recipient: *recipient,
                    wrapped: hex::encode(wrapped),
                },
            )
            .await?;
        hex::decode(&answer.hex)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
            .map(Signature)
            .ok_or_else(|| unexpected(&self.node, path, "the signature is not 64 hex bytes".into()))
    }

    async fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        binding: &Binding,
    ) -> Result<DataKey, RecordsError> {
        let path = "/v1/custodial/unwrap";
        let answer: CustodialBytes = self
            .post(
                path,
                &CustodialUnwrap {
                    record: RecordId(binding.record.0),
                    version: binding.version,
                    wrapped: hex::encode(wrapped.to_bytes()),
                },
            )
            .await?;
        let bytes = zeroize::Zeroizing::new(
            hex::decode(&answer.hex)
                .map_err(|_| RecordsError::Mismatch("the data key is not hex".into()))?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| RecordsError::Mismatch("the data key is not 32 bytes".into()))?;
        Ok(DataKey::from_bytes(key))
    }
}

/// Opens a custodial account on the node at `client` for a user of `organisation` (whose keys
/// sign the request), and registers the party the node made for it on chain. Answers the
/// activation code, to hand to the user.
pub async fn invite(
    client: &Client,
    organisation: &PartyKeys,
    username: &str,
    kind: PartyKind,
    label: &str,
    roles: medchain_types::Roles,
) -> Result<AccountInvited, RecordsError> {
    let invited: AccountInvited = client
        .signed(
            organisation,
            reqwest::Method::POST,
            "/v1/custodial/accounts",
            "application/json",
            serde_json::to_vec(&AccountInvite {
                username: username.into(),
                kind,
            })
            .expect("serializes"),
        )
        .await?;
    if invited.party_id != PartyId::derive(&invited.signing_key) {
        return Err(RecordsError::Mismatch(
            "the account's party id is not derived from its signing key".into(),
        ));
    }
    let chain = client.status().await?.chain_id;
    crate::records::submit(
        client,
        &chain,
        organisation,
        TxBody::RegisterParty {
            kind,
            signing_key: invited.signing_key,
            encryption_key: invited.encryption_key,
            label: label.into(),
            roles,
        },
    )
    .await?;
    Ok(invited)
}

/// The node's custodial accounts (asked as their organisation).
pub async fn accounts(
    client: &Client,
    organisation: &PartyKeys,
) -> Result<Vec<AccountSummary>, ClientError> {
    client
        .signed(
            organisation,
            reqwest::Method::GET,
            "/v1/custodial/accounts",
            "application/json",
            Vec::new(),
        )
        .await
}

/// Activates an account with its activation code and a new password. Answers the TOTP secret
/// to enrol and the recovery code: show them to the user once.
pub async fn activate(
    client: &Client,
    username: &str,
    activation_code: &str,
    password: &str,
) -> Result<AccountEnrolled, ClientError> {
    client
        .post_json(
            "/v1/custodial/activate",
            &AccountActivate {
                username: username.into(),
                activation_code: activation_code.into(),
                password: password.into(),
            },
        )
        .await
}

/// Signs in with a password and a current TOTP code.
pub async fn sign_in(
    client: &Client,
    username: &str,
    password: &str,
    totp: &str,
    lifetime_secs: Option<u64>,
) -> Result<Custodial, ClientError> {
    let path = "/v1/custodial/sign-in";
    let answer: CustodialSessionResponse = client
        .post_json(
            path,
            &SignIn {
                username: username.into(),
                password: password.into(),
                totp: totp.into(),
                lifetime_secs,
            },
        )
        .await?;
    let secret = hex::decode(&answer.secret)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| {
            unexpected(
                client,
                path,
                "the session secret is not 32 hex bytes".into(),
            )
        })?;
    Ok(Custodial::resume(
        client.clone(),
        answer.session,
        answer.party,
        answer.expires_at,
        secret,
    ))
}

/// Changes the password (with the current one and a TOTP code); ends the user's sessions.
pub async fn change_password(
    client: &Client,
    username: &str,
    password: &str,
    totp: &str,
    new_password: &str,
) -> Result<(), ClientError> {
    client
        .post_json::<Option<()>>(
            "/v1/custodial/password",
            &PasswordChange {
                username: username.into(),
                password: password.into(),
                totp: totp.into(),
                new_password: new_password.into(),
            },
        )
        .await
        .map(drop)
}

/// Resets the password and the second factor with the recovery code; answers the new TOTP
/// secret and recovery code.
pub async fn recover(
    client: &Client,
    username: &str,
    recovery_code: &str,
    new_password: &str,
) -> Result<AccountEnrolled, ClientError> {
    client
        .post_json(
            "/v1/custodial/recover",
            &AccountRecover {
                username: username.into(),
                recovery_code: recovery_code.into(),
                new_password: new_password.into(),
            },
        )
        .await
}
