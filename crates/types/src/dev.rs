//! The development chain's demo parties, with keys derived from public seeds.
//!
//! These keys are public knowledge: anyone can sign as a demo party. They exist so that
//! `medchain node --dev`, the tests and the benchmark have parties to act as; a real chain's
//! genesis names keys generated with `medchain keys new`.

use crate::{
    genesis::{Genesis, GenesisParty, GenesisValidator},
    hash::hash_parts,
    identity::{PartyKind, Role, Roles},
    ids::{ChainId, PartyId},
    keys::{EncryptionKey, Keypair, PublicKey},
};

/// The dev chain's id.
pub const DEV_CHAIN_ID: &str = "medchain-dev";

/// A demo party: its name, kind, roles and (for members) organisation.
#[derive(Clone, Copy, Debug)]
pub struct DemoParty {
    pub name: &'static str,
    pub kind: PartyKind,
    pub label: &'static str,
    pub roles: &'static [Role],
    pub organisation: Option<&'static str>,
}

/// The demo parties, in genesis order.
pub const DEMO_PARTIES: &[DemoParty] = &[
    DemoParty {
        name: "hospital",
        kind: PartyKind::Organisation,
        label: "Riverside General Hospital (demo)",
        roles: &[
            Role::Governor,
            Role::Registrar,
            Role::Provider,
            Role::Custodian,
        ],
        organisation: None,
    },
    DemoParty {
        name: "clinic",
        kind: PartyKind::Organisation,
        label: "Northside Family Clinic (demo)",
        roles: &[
            Role::Governor,
            Role::Registrar,
            Role::Provider,
            Role::Custodian,
        ],
        organisation: None,
    },
    DemoParty {
        name: "pharmacy",
        kind: PartyKind::Organisation,
        label: "High Street Pharmacy (demo)",
        roles: &[Role::Governor, Role::Registrar, Role::Dispenser],
        organisation: None,
    },
    DemoParty {
        name: "manufacturer",
        kind: PartyKind::Organisation,
        label: "Acme Pharmaceuticals (demo)",
        roles: &[Role::Governor, Role::Manufacturer],
        organisation: None,
    },
    DemoParty {
        name: "licensing-board",
        kind: PartyKind::Organisation,
        label: "State Medical Board (demo)",
        roles: &[Role::Governor, Role::CredentialIssuer],
        organisation: None,
    },
    DemoParty {
        name: "regulator",
        kind: PartyKind::Organisation,
        label: "Medicines Regulator (demo)",
        roles: &[Role::Governor, Role::Regulator],
        organisation: None,
    },
    DemoParty {
        name: "wholesaler",
        kind: PartyKind::Organisation,
        label: "Central Wholesale Drug Co. (demo)",
        roles: &[Role::Distributor],
        organisation: None,
    },
    DemoParty {
        name: "patient-1",
        kind: PartyKind::Patient,
        label: "",
        roles: &[],
        organisation: Some("hospital"),
    },
    DemoParty {
        name: "patient-2",
        kind: PartyKind::Patient,
        label: "",
        roles: &[],
        organisation: Some("clinic"),
    },
];

/// The signing keypair of a named demo party (or any name: the bench derives accounts too).
pub fn keypair(name: &str) -> Keypair {
    Keypair::from_seed(hash_parts(b"medchain/dev-seed/v1", &[name.as_bytes()]).0)
}

/// The X25519 public key matching [`encryption_secret`].
pub fn encryption_key(name: &str) -> EncryptionKey {
    EncryptionKey::of_secret(encryption_secret(name))
}

/// The X25519 secret of a demo party.
pub fn encryption_secret(name: &str) -> [u8; 32] {
    hash_parts(b"medchain/dev-encryption-seed/v1", &[name.as_bytes()]).0
}

/// The party id of a named demo party.
pub fn party_id(name: &str) -> PartyId {
    PartyId::derive(&keypair(name).public_key())
}

/// The seed of the n-th dev validator's consensus key.
pub fn validator_seed(index: usize) -> [u8; 32] {
    hash_parts(
        b"medchain/dev-validator-seed/v1",
        &[&(index as u64).to_be_bytes()],
    )
    .0
}

/// The genesis of a dev chain with the given validators.
pub fn genesis(validators: Vec<(PublicKey, String)>, genesis_time_ms: u64) -> Genesis {
    let index_of = |name: &str| {
        DEMO_PARTIES
            .iter()
            .position(|party| party.name == name)
            .expect("demo organisations are listed before their members")
    };
    Genesis {
        chain_id: ChainId::new(DEV_CHAIN_ID).expect("the dev chain id is valid"),
        genesis_time_ms,
        governance_threshold: 2,
        consensus: Default::default(),
        validators: validators
            .into_iter()
            .enumerate()
            .map(|(index, (public_key, p2p_address))| GenesisValidator {
                public_key,
                p2p_address,
                // Validators are run by the demo organisations, in order.
                operator: Some(party_id(DEMO_PARTIES[index % 6].name)),
            })
            .collect(),
        parties: DEMO_PARTIES
            .iter()
            .map(|party| GenesisParty {
                kind: party.kind,
                label: party.label.into(),
                signing_key: keypair(party.name).public_key(),
                encryption_key: encryption_key(party.name),
                roles: Roles::new(party.roles.iter().copied()),
                organisation: party.organisation.map(index_of),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_genesis_is_valid() {
        let genesis = genesis(vec![(keypair("v0").public_key(), "127.0.0.1:1".into())], 0);
        genesis.validate().expect("dev genesis validates");
        assert_ne!(party_id("hospital"), party_id("clinic"));
    }
}
