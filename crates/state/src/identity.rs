//! Identity: registering parties under organisations, and key rotation.
//!
//! Rules:
//! - Only an organisation holding the `registrar` role registers parties, and only
//!   practitioners, patients and devices; organisations are admitted by governance.
//! - A registered party belongs to the organisation that registered it. It may be given roles
//!   the organisation itself holds, except `governor`, `registrar`, `validator` and
//!   `credential_issuer`, which only governance grants. Patients hold no roles and carry no label.
//! - A signing key is registered once, ever: no two parties share a key and a retired key never
//!   returns, so a leaked old key cannot be re-registered to impersonate anyone.
//! - Rotation replaces a party's signing and encryption keys and bumps its key version; from
//!   the next transaction on, only the new key signs for it.

use crate::{
    error::{StateError, TxError},
    executor::TxContext,
    keys,
    view::StateRead,
};
use medchain_types::{
    EncryptionKey, Event, KeyRecord, KeyRetirement, Party, PartyId, PartyKind, PublicKey, Role,
    Roles, TxBody,
};

/// The gated action of registering a practitioner (see [`crate::credentials::require`]).
pub const REGISTER_PRACTITIONER: &str = "register_practitioner";

/// Roles a registrar may not hand out: only governance grants them.
pub const GOVERNED_ROLES: &[Role] = &[
    Role::Governor,
    Role::Registrar,
    Role::Validator,
    Role::CredentialIssuer,
];

pub(crate) async fn apply<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    body: &TxBody,
) -> Result<(), TxError> {
    match body {
        TxBody::RegisterParty {
            kind,
            signing_key,
            encryption_key,
            label,
            roles,
        } => {
            register(
                ctx,
                signer,
                *kind,
                *signing_key,
                *encryption_key,
                label,
                roles,
            )
            .await
        }
        TxBody::RotateKeys {
            signing_key,
            encryption_key,
        } => rotate(ctx, signer, *signing_key, *encryption_key).await,
        _ => unreachable!("the executor dispatches only identity bodies here"),
    }
}

async fn register<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    kind: PartyKind,
    signing_key: PublicKey,
    encryption_key: EncryptionKey,
    label: &str,
    roles: &Roles,
) -> Result<(), TxError> {
    let organisation = ctx.party(&signer).await?;
    if organisation.kind != PartyKind::Organisation {
        return Err(TxError::WrongKind {
            party: signer,
            expected: PartyKind::Organisation,
            found: organisation.kind,
            action: "register parties",
        });
    }
    require_role(&organisation, Role::Registrar, "register parties")?;
    if kind == PartyKind::Organisation {
        return Err(TxError::Invalid {
            field: "kind",
            reason: "organisations are admitted by a governance proposal, not registered".into(),
        });
    }
    if kind == PartyKind::Patient && (!label.is_empty() || !roles.as_slice().is_empty()) {
        return Err(TxError::Invalid {
            field: "label",
            reason: "a patient is registered with no label and no roles: nothing identifying goes on chain".into(),
        });
    }
    for role in roles.as_slice() {
        if GOVERNED_ROLES.contains(role) {
            return Err(TxError::Invalid {
                field: "roles",
                reason: format!("the {role} role is granted only by governance"),
            });
        }
        if !organisation.roles.contains(*role) {
            return Err(TxError::MissingRole {
                party: signer,
                role: *role,
                action: "grant it to a party it registers",
            });
        }
    }
    if kind == PartyKind::Practitioner {
        // The practitioner's own key must already hold what governance requires (for example
        // a valid licence), checked at this block's time.
        crate::credentials::require(ctx, REGISTER_PRACTITIONER, &PartyId::derive(&signing_key))
            .await?;
    }
    let party = new_party(
        ctx,
        kind,
        signing_key,
        encryption_key,
        label,
        Some(signer),
        roles.clone(),
    )
    .await?;
    ctx.emit(Event::PartyRegistered {
        party: party.id,
        kind,
        organisation: Some(signer),
    });
    Ok(())
}

/// Creates a party after checking its key was never used. Shared with governance (admitting
/// an organisation) and genesis.
pub(crate) async fn new_party<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    kind: PartyKind,
    signing_key: PublicKey,
    encryption_key: EncryptionKey,
    label: &str,
    organisation: Option<PartyId>,
    roles: Roles,
) -> Result<Party, TxError> {
    signing_key.validate().map_err(|err| TxError::Invalid {
        field: "signing_key",
        reason: err.to_string(),
    })?;
    let id = PartyId::derive(&signing_key);
    if ctx.get(&keys::signing_key(&signing_key)).await?.is_some() {
        return Err(TxError::KeyInUse(signing_key));
    }
    if ctx.get(&keys::party(&id)).await?.is_some() {
        return Err(TxError::PartyExists(id));
    }
    let party = Party {
        id,
        kind,
        signing_key,
        encryption_key,
        key_version: 0,
        label: label.to_owned(),
        organisation,
        roles,
        nonce: 0,
        registered_at: ctx.env().height,
    };
    ctx.put_encoded(
        keys::signing_key(&signing_key),
        &KeyRecord {
            party: id,
            key_version: 0,
            active_from_ms: ctx.env().time_ms,
            retired: None,
        },
    );
    ctx.put_encoded(keys::party(&id), &party);
    Ok(party)
}

async fn rotate<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    signing_key: PublicKey,
    encryption_key: EncryptionKey,
) -> Result<(), TxError> {
    replace_keys(
        ctx,
        signer,
        signing_key,
        encryption_key,
        KeyRetirement::Rotated,
    )
    .await
}

/// Replaces a party's keys (its own rotation, or a recovery carried by governance). Its id,
/// roles, credentials and grants stay; the old key never signs for it again, and its record
/// says when and why it stopped.
pub(crate) async fn replace_keys<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    signing_key: PublicKey,
    encryption_key: EncryptionKey,
    why: KeyRetirement,
) -> Result<(), TxError> {
    let mut party = ctx.party(&signer).await?;
    signing_key.validate().map_err(|err| TxError::Invalid {
        field: "signing_key",
        reason: err.to_string(),
    })?;
    if ctx.get(&keys::signing_key(&signing_key)).await?.is_some() {
        return Err(TxError::KeyInUse(signing_key));
    }
    let now = ctx.env().time_ms;
    let old_key = keys::signing_key(&party.signing_key);
    let mut old = ctx
        .get_decoded::<KeyRecord>(&old_key)
        .await?
        .ok_or_else(|| StateError::Corrupt {
            key: keys::describe(&old_key),
            reason: "a party's current key has no record".into(),
        })?;
    old.retired = Some((now, why));
    ctx.put_encoded(old_key, &old);
    party.signing_key = signing_key;
    party.encryption_key = encryption_key;
    party.key_version += 1;
    ctx.put_encoded(
        keys::signing_key(&signing_key),
        &KeyRecord {
            party: signer,
            key_version: party.key_version,
            active_from_ms: now,
            retired: None,
        },
    );
    ctx.put_encoded(keys::party(&signer), &party);
    ctx.emit(Event::KeysRotated {
        party: signer,
        key_version: party.key_version,
    });
    Ok(())
}

/// Fails unless `party` holds `role`.
pub fn require_role(party: &Party, role: Role, action: &'static str) -> Result<(), TxError> {
    if party.roles.contains(role) {
        Ok(())
    } else {
        Err(TxError::MissingRole {
            party: party.id,
            role,
            action,
        })
    }
}
