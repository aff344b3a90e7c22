//! Governance: the founding organisations run the consortium together.
//!
//! A governor (an organisation with the `governor` role) proposes an action; the proposal is
//! its first approval. Other governors approve; when approvals reach the threshold in force at
//! that moment, the action runs in the same transaction. A proposal that is not carried by its
//! expiry (in block time) can no longer be approved.
//!
//! Actions: admit an organisation, replace a party's roles, change the threshold. The
//! threshold is always between 1 and the number of governors, so that governance can never
//! lock itself out.

use crate::{
    error::TxError,
    executor::TxContext,
    identity::{new_party, require_role},
    keys,
    view::StateRead,
};
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error, Read, ReadExt, Write};
use medchain_types::{
    Event, GovernanceAction, PartyId, PartyKind, Role, TxBody, codec::read_list,
    limits::APPROVALS_MAX,
};
use serde::{Deserialize, Serialize};

/// The governance configuration, stored at `g/config`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceConfig {
    /// Approvals a proposal needs.
    pub threshold: u32,
    /// Number of parties holding the governor role.
    pub governors: u32,
    /// The id the next proposal gets.
    pub next_proposal: u64,
}

impl Write for GovernanceConfig {
    fn write(&self, buf: &mut impl BufMut) {
        self.threshold.write(buf);
        self.governors.write(buf);
        self.next_proposal.write(buf);
    }
}
impl EncodeSize for GovernanceConfig {
    fn encode_size(&self) -> usize {
        4 + 4 + 8
    }
}
impl Read for GovernanceConfig {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(GovernanceConfig {
            threshold: u32::read(buf)?,
            governors: u32::read(buf)?,
            next_proposal: u64::read(buf)?,
        })
    }
}

/// Where a proposal stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalStatus {
    Open,
    Executed,
}

impl ProposalStatus {
    fn name(self) -> &'static str {
        match self {
            ProposalStatus::Open => "open",
            ProposalStatus::Executed => "executed",
        }
    }
}

/// A governance proposal, stored at `g/proposal/<id>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: u64,
    pub proposer: PartyId,
    pub action: GovernanceAction,
    pub approvals: Vec<PartyId>,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
    pub status: ProposalStatus,
    /// Height at which it was executed.
    pub executed_at: Option<u64>,
}

impl Write for Proposal {
    fn write(&self, buf: &mut impl BufMut) {
        self.id.write(buf);
        self.proposer.write(buf);
        self.action.write(buf);
        self.approvals.write(buf);
        self.created_at_ms.write(buf);
        self.expires_at_ms.write(buf);
        match self.status {
            ProposalStatus::Open => 0u8,
            ProposalStatus::Executed => 1u8,
        }
        .write(buf);
        self.executed_at.write(buf);
    }
}
impl EncodeSize for Proposal {
    fn encode_size(&self) -> usize {
        self.id.encode_size()
            + self.proposer.encode_size()
            + self.action.encode_size()
            + self.approvals.encode_size()
            + 8
            + 8
            + 1
            + self.executed_at.encode_size()
    }
}
impl Read for Proposal {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, Error> {
        Ok(Proposal {
            id: u64::read(buf)?,
            proposer: PartyId::read(buf)?,
            action: GovernanceAction::read(buf)?,
            approvals: read_list(buf, APPROVALS_MAX)?,
            created_at_ms: u64::read(buf)?,
            expires_at_ms: u64::read(buf)?,
            status: match u8::read(buf)? {
                0 => ProposalStatus::Open,
                1 => ProposalStatus::Executed,
                other => return Err(Error::InvalidEnum(other)),
            },
            executed_at: Option::<u64>::read(buf)?,
        })
    }
}

pub(crate) async fn config<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
) -> Result<GovernanceConfig, TxError> {
    ctx.get_decoded::<GovernanceConfig>(keys::GOVERNANCE_CONFIG)
        .await?
        .ok_or_else(|| TxError::Invalid {
            field: "governance",
            reason: "the chain has no governance configuration (genesis not applied)".into(),
        })
}

pub(crate) async fn apply<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    body: &TxBody,
) -> Result<(), TxError> {
    let governor = ctx.party(&signer).await?;
    let action_name = match body {
        TxBody::Propose { .. } => "propose governance actions",
        _ => "approve governance proposals",
    };
    if governor.kind != PartyKind::Organisation {
        return Err(TxError::WrongKind {
            party: signer,
            expected: PartyKind::Organisation,
            found: governor.kind,
            action: action_name,
        });
    }
    // An organisation may propose recovering the keys of its own member without being a
    // governor: it vouches for the person; governors' approvals carry the proposal.
    let own_member_recovery = match body {
        TxBody::Propose {
            action: GovernanceAction::RecoverKeys { party, .. },
            ..
        } => ctx.party(party).await?.organisation == Some(signer),
        _ => false,
    };
    if !own_member_recovery {
        require_role(&governor, Role::Governor, action_name)?;
    }
    match body {
        TxBody::Propose { action, ttl_ms } => propose(ctx, signer, action, *ttl_ms).await,
        TxBody::Approve { proposal } => approve(ctx, signer, *proposal).await,
        _ => unreachable!("the executor dispatches only governance bodies here"),
    }
}

async fn propose<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    action: &GovernanceAction,
    ttl_ms: u64,
) -> Result<(), TxError> {
    let mut config = config(ctx).await?;
    // Refuse a proposal that could never run, rather than letting it collect approvals.
    precheck(ctx, action, &config).await?;
    let now = ctx.env().time_ms;
    let proposal = Proposal {
        id: config.next_proposal,
        proposer: signer,
        action: action.clone(),
        approvals: vec![signer],
        created_at_ms: now,
        expires_at_ms: now.saturating_add(ttl_ms),
        status: ProposalStatus::Open,
        executed_at: None,
    };
    config.next_proposal += 1;
    ctx.put_encoded(keys::GOVERNANCE_CONFIG.to_vec(), &config);
    ctx.emit(Event::ProposalOpened {
        proposal: proposal.id,
        proposer: signer,
        action: action.name().into(),
        expires_at_ms: proposal.expires_at_ms,
    });
    ctx.emit(Event::ProposalApproved {
        proposal: proposal.id,
        governor: signer,
        approvals: 1,
        threshold: config.threshold,
    });
    settle(ctx, proposal, config).await
}

async fn approve<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    signer: PartyId,
    id: u64,
) -> Result<(), TxError> {
    let config = config(ctx).await?;
    let Some(mut proposal) = ctx.get_decoded::<Proposal>(&keys::proposal(id)).await? else {
        return Err(TxError::UnknownProposal(id));
    };
    if proposal.status != ProposalStatus::Open {
        return Err(TxError::ProposalClosed {
            proposal: id,
            status: proposal.status.name(),
        });
    }
    let now = ctx.env().time_ms;
    if now > proposal.expires_at_ms {
        return Err(TxError::ProposalExpired {
            proposal: id,
            expires_at_ms: proposal.expires_at_ms,
            now_ms: now,
        });
    }
    if proposal.approvals.contains(&signer) {
        return Err(TxError::AlreadyApproved {
            proposal: id,
            party: signer,
        });
    }
    proposal.approvals.push(signer);
    ctx.emit(Event::ProposalApproved {
        proposal: id,
        governor: signer,
        approvals: proposal.approvals.len() as u32,
        threshold: config.threshold,
    });
    settle(ctx, proposal, config).await
}

/// Stores the proposal, running its action first if it has enough approvals. Approvals from
/// parties that are no longer governors do not count.
async fn settle<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    mut proposal: Proposal,
    config: GovernanceConfig,
) -> Result<(), TxError> {
    let mut valid = 0u32;
    for approver in &proposal.approvals {
        let party = ctx.party(approver).await?;
        if party.roles.contains(Role::Governor) {
            valid += 1;
        }
    }
    if valid >= config.threshold {
        execute(ctx, &proposal.action, config).await?;
        proposal.status = ProposalStatus::Executed;
        proposal.executed_at = Some(ctx.env().height);
        ctx.emit(Event::ProposalExecuted {
            proposal: proposal.id,
        });
    }
    ctx.put_encoded(keys::proposal(proposal.id), &proposal);
    Ok(())
}

async fn precheck<R: StateRead>(
    ctx: &TxContext<'_, '_, R>,
    action: &GovernanceAction,
    config: &GovernanceConfig,
) -> Result<(), TxError> {
    match action {
        GovernanceAction::AddOrganisation { signing_key, .. } => {
            if ctx.get(&keys::signing_key(signing_key)).await?.is_some() {
                return Err(TxError::KeyInUse(*signing_key));
            }
        }
        GovernanceAction::SetRoles { party, .. } => {
            ctx.party(party).await?;
        }
        GovernanceAction::SetThreshold { threshold } => {
            check_threshold(*threshold, config.governors)?;
        }
        GovernanceAction::AccreditIssuer { issuer, .. } => {
            let party = ctx.party(issuer).await?;
            if party.kind != PartyKind::Organisation {
                return Err(TxError::WrongKind {
                    party: *issuer,
                    expected: PartyKind::Organisation,
                    found: party.kind,
                    action: "issue credentials",
                });
            }
        }
        GovernanceAction::SetCredentialRequirement {
            action,
            requirement,
        } => {
            crate::credentials::check_gated(action)?;
            if let Some(requirement) = requirement {
                crate::credentials::check_issued(ctx, requirement).await?;
            }
        }
        GovernanceAction::SetErasureRetention { .. } => {}
        GovernanceAction::RecoverKeys {
            party, signing_key, ..
        } => {
            ctx.party(party).await?;
            if ctx.get(&keys::signing_key(signing_key)).await?.is_some() {
                return Err(TxError::KeyInUse(*signing_key));
            }
        }
    }
    Ok(())
}

fn check_threshold(threshold: u32, governors: u32) -> Result<(), TxError> {
    if threshold == 0 || threshold > governors {
        return Err(TxError::Invalid {
            field: "threshold",
            reason: format!(
                "must be 1 to the number of governors ({governors}), found {threshold}"
            ),
        });
    }
    Ok(())
}

async fn execute<R: StateRead>(
    ctx: &mut TxContext<'_, '_, R>,
    action: &GovernanceAction,
    mut config: GovernanceConfig,
) -> Result<(), TxError> {
    match action {
        GovernanceAction::AddOrganisation {
            label,
            signing_key,
            encryption_key,
            roles,
        } => {
            let party = new_party(
                ctx,
                PartyKind::Organisation,
                *signing_key,
                *encryption_key,
                label,
                None,
                roles.clone(),
            )
            .await?;
            if roles.contains(Role::Governor) {
                config.governors += 1;
            }
            ctx.emit(Event::OrganisationAdded { party: party.id });
        }
        GovernanceAction::SetRoles { party, roles } => {
            let mut target = ctx.party(party).await?;
            if target.kind == PartyKind::Patient && !roles.as_slice().is_empty() {
                return Err(TxError::Invalid {
                    field: "roles",
                    reason: "patients hold no roles".into(),
                });
            }
            let was = target.roles.contains(Role::Governor);
            let is = roles.contains(Role::Governor);
            if is && target.kind != PartyKind::Organisation {
                return Err(TxError::Invalid {
                    field: "roles",
                    reason: "only organisations can be governors".into(),
                });
            }
            match (was, is) {
                (true, false) => config.governors -= 1,
                (false, true) => config.governors += 1,
                _ => {}
            }
            if config.threshold > config.governors {
                return Err(TxError::Invalid {
                    field: "roles",
                    reason: format!(
                        "removing this governor would leave {} governors, below the threshold {}; lower the threshold first",
                        config.governors, config.threshold
                    ),
                });
            }
            target.roles = roles.clone();
            ctx.put_encoded(keys::party(party), &target);
            ctx.emit(Event::RolesChanged {
                party: *party,
                roles: roles.clone(),
            });
        }
        GovernanceAction::SetThreshold { threshold } => {
            check_threshold(*threshold, config.governors)?;
            config.threshold = *threshold;
            ctx.emit(Event::ThresholdChanged {
                threshold: *threshold,
            });
        }
        GovernanceAction::AccreditIssuer {
            issuer,
            credential_types,
            jurisdictions,
        } => {
            crate::credentials::accredit(ctx, *issuer, credential_types, jurisdictions).await?;
        }
        GovernanceAction::SetCredentialRequirement {
            action,
            requirement,
        } => {
            // Accreditations may have been withdrawn since the proposal.
            if let Some(requirement) = requirement {
                crate::credentials::check_issued(ctx, requirement).await?;
            }
            crate::credentials::set_requirement(ctx, action, requirement.as_ref());
        }
        GovernanceAction::RecoverKeys {
            party,
            signing_key,
            encryption_key,
        } => {
            crate::identity::replace_keys(
                ctx,
                *party,
                *signing_key,
                *encryption_key,
                medchain_types::KeyRetirement::Recovered,
            )
            .await?;
        }
        GovernanceAction::SetErasureRetention { days } => match days {
            Some(days) => ctx.put(
                keys::ERASURE_RETENTION.to_vec(),
                days.to_be_bytes().to_vec(),
            ),
            None => ctx.delete(keys::ERASURE_RETENTION.to_vec()),
        },
    }
    ctx.put_encoded(keys::GOVERNANCE_CONFIG.to_vec(), &config);
    Ok(())
}
