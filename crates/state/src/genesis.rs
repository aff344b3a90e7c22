//! Seeds state from the genesis file. The node runs this at the start of the first block
//! after the (empty) genesis block, so the founding parties exist before any transaction.

use crate::{executor::BlockExecutor, governance::GovernanceConfig, keys, view::StateRead};
use commonware_codec::Encode;
use medchain_types::{Event, Genesis, KeyRecord, Party, PartyId, PartyKind, Role, TxHash};

/// The pseudo transaction id genesis events carry.
pub const GENESIS_TX: TxHash = TxHash([0u8; 32]);

/// Writes the founding parties, the governance configuration and the genesis digest.
pub fn seed<R: StateRead>(executor: &mut BlockExecutor<'_, R>, genesis: &Genesis) {
    let ids: Vec<PartyId> = genesis
        .parties
        .iter()
        .map(|party| PartyId::derive(&party.signing_key))
        .collect();
    let mut governors = 0u32;
    for (index, spec) in genesis.parties.iter().enumerate() {
        let party = Party {
            id: ids[index],
            kind: spec.kind,
            signing_key: spec.signing_key,
            encryption_key: spec.encryption_key,
            key_version: 0,
            label: spec.label.clone(),
            organisation: spec.organisation.map(|org| ids[org]),
            roles: spec.roles.clone(),
            nonce: 0,
            registered_at: 0,
        };
        if party.kind == PartyKind::Organisation && party.roles.contains(Role::Governor) {
            governors += 1;
        }
        executor.write_raw(
            keys::signing_key(&party.signing_key),
            Some(
                KeyRecord {
                    party: party.id,
                    key_version: 0,
                    active_from_ms: 0,
                    retired: None,
                }
                .encode()
                .to_vec(),
            ),
        );
        executor.write_raw(keys::party(&party.id), Some(party.encode().to_vec()));
        executor.push_raw_event(
            GENESIS_TX,
            if party.kind == PartyKind::Organisation {
                Event::OrganisationAdded { party: party.id }
            } else {
                Event::PartyRegistered {
                    party: party.id,
                    kind: party.kind,
                    organisation: party.organisation,
                }
            },
        );
    }
    let config = GovernanceConfig {
        threshold: genesis.governance_threshold,
        governors,
        next_proposal: 0,
    };
    executor.write_raw(
        keys::GOVERNANCE_CONFIG.to_vec(),
        Some(config.encode().to_vec()),
    );
    executor.write_raw(keys::GENESIS.to_vec(), Some(genesis.digest().0.to_vec()));
}
