//! Credential checks with proofs: "does this party hold a valid credential of this type?",
//! answered from proven state by the node's own rule, never read off the node's answer.

use crate::proven::{Proven, ProvenError, Verifier, recompute};
use medchain_types::{
    PartyId,
    api::CredentialCheckResponse,
    credential::{CredentialType, Jurisdiction},
};

/// [`crate::Client::credential_check`] with proofs, checked: the holder index and every
/// credential it lists are verified at one fresh finalized height, and `valid`, each
/// standing and the credentials are recomputed from them by
/// [`medchain_state::credentials::check`] at `at_ms` (default: the proven block's time).
pub async fn check_proven(
    client: &crate::Client,
    verifier: &Verifier,
    party: &PartyId,
    credential_type: &CredentialType,
    jurisdiction: Option<&Jurisdiction>,
    at_ms: Option<u64>,
) -> Result<Proven<CredentialCheckResponse>, ProvenError> {
    let served = client
        .credential_check(
            party,
            credential_type.as_str(),
            jurisdiction.map(|j| j.as_str()),
            at_ms,
            true,
        )
        .await?;
    check_served(
        verifier,
        party,
        credential_type,
        jurisdiction,
        at_ms,
        served,
    )
    .await
}

/// Checks a credential check answer served with proofs for the question (`party`,
/// `credential_type`, `jurisdiction`, `at_ms`): see [`check_proven`].
pub async fn check_served(
    verifier: &Verifier,
    party: &PartyId,
    credential_type: &CredentialType,
    jurisdiction: Option<&Jurisdiction>,
    at_ms: Option<u64>,
    served: CredentialCheckResponse,
) -> Result<Proven<CredentialCheckResponse>, ProvenError> {
    recompute(verifier, served, async |state| {
        medchain_state::credentials::check(
            state,
            party,
            credential_type,
            jurisdiction,
            at_ms.unwrap_or(state.time_ms),
            state.height,
        )
        .await
    })
    .await
}
