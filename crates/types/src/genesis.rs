//! The genesis file: the chain id, the founding organisations, the validators and the
//! governance threshold. Every node of a chain starts from the same file, and a light client
//! needs nothing else to check a proof.

use crate::{
    error::ParseError,
    hash::{Hash32, hash_parts},
    identity::{PartyKind, Roles},
    ids::ChainId,
    keys::{EncryptionKey, PublicKey},
    limits::{GENESIS_PARTIES_MAX, LABEL_BYTES_MAX},
};
use serde::{Deserialize, Serialize};

/// A consensus validator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisValidator {
    /// The validator's consensus (Ed25519) public key; it also identifies the node on the p2p
    /// network.
    pub public_key: PublicKey,
    /// The p2p address peers dial, `host:port`.
    pub p2p_address: String,
    /// The organisation that runs this validator, if it is a party.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<crate::ids::PartyId>,
}

/// A party that exists from the first block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisParty {
    pub kind: PartyKind,
    pub label: String,
    pub signing_key: PublicKey,
    pub encryption_key: EncryptionKey,
    pub roles: Roles,
    /// For a non-organisation: the index, in `parties`, of the organisation it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<usize>,
}

/// The genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    pub chain_id: ChainId,
    /// Time of the genesis block, in milliseconds since the Unix epoch.
    pub genesis_time_ms: u64,
    /// How many governor approvals a governance proposal needs.
    pub governance_threshold: u32,
    pub validators: Vec<GenesisValidator>,
    pub parties: Vec<GenesisParty>,
}

impl Genesis {
    /// Checks the file's internal consistency.
    pub fn validate(&self) -> Result<(), ParseError> {
        let invalid = |reason: String| ParseError::Invalid {
            what: "genesis",
            reason,
        };
        if self.validators.is_empty() {
            return Err(invalid("at least one validator is required".into()));
        }
        if self.validators.len() > GENESIS_PARTIES_MAX || self.parties.len() > GENESIS_PARTIES_MAX {
            return Err(invalid(format!(
                "at most {GENESIS_PARTIES_MAX} validators and parties"
            )));
        }
        let mut keys = std::collections::BTreeSet::new();
        for validator in &self.validators {
            validator.public_key.validate()?;
            if !keys.insert(validator.public_key) {
                return Err(invalid(format!(
                    "validator key {} appears twice",
                    validator.public_key
                )));
            }
        }
        let mut party_keys = std::collections::BTreeSet::new();
        let mut governors = 0u32;
        for (index, party) in self.parties.iter().enumerate() {
            party.signing_key.validate()?;
            if !party_keys.insert(party.signing_key) {
                return Err(invalid(format!(
                    "party {index}: signing key {} appears twice",
                    party.signing_key
                )));
            }
            if party.label.len() > LABEL_BYTES_MAX {
                return Err(invalid(format!("party {index}: label too long")));
            }
            match (party.kind, party.organisation) {
                (PartyKind::Organisation, None) => {}
                (PartyKind::Organisation, Some(_)) => {
                    return Err(invalid(format!(
                        "party {index}: an organisation cannot belong to an organisation"
                    )));
                }
                (_, Some(org)) => {
                    let ok = org < index && self.parties[org].kind == PartyKind::Organisation;
                    if !ok {
                        return Err(invalid(format!(
                            "party {index}: organisation {org} must be an earlier organisation"
                        )));
                    }
                }
                (_, None) => {
                    return Err(invalid(format!(
                        "party {index}: a {:?} must name its organisation",
                        party.kind
                    )));
                }
            }
            if party.kind == PartyKind::Patient && !party.label.is_empty() {
                return Err(invalid(format!(
                    "party {index}: patients carry no label on chain"
                )));
            }
            if party.kind == PartyKind::Organisation
                && party.roles.contains(crate::identity::Role::Governor)
            {
                governors += 1;
            }
        }
        let organisations: std::collections::BTreeSet<crate::ids::PartyId> = self
            .parties
            .iter()
            .filter(|party| party.kind == PartyKind::Organisation)
            .map(|party| crate::ids::PartyId::derive(&party.signing_key))
            .collect();
        for validator in &self.validators {
            if let Some(operator) = &validator.operator
                && !organisations.contains(operator)
            {
                return Err(invalid(format!(
                    "validator {} names operator {operator}, which is not a genesis organisation",
                    validator.public_key
                )));
            }
        }
        if self.governance_threshold == 0 || self.governance_threshold > governors.max(1) {
            return Err(invalid(format!(
                "governance_threshold must be 1 to the number of governing organisations ({governors}), found {}",
                self.governance_threshold
            )));
        }
        Ok(())
    }

    /// A digest of the whole file (its canonical JSON), which nodes compare on the p2p
    /// handshake namespace so that nodes of different chains never talk.
    pub fn digest(&self) -> Hash32 {
        let json = serde_json_canonical(self);
        hash_parts(b"medchain/genesis/v1", &[json.as_bytes()])
    }
}

fn serde_json_canonical(genesis: &Genesis) -> String {
    // Struct fields serialise in declaration order, so this text is stable for a given value.
    let mut out = String::new();
    out.push_str(genesis.chain_id.as_str());
    out.push('|');
    out.push_str(&genesis.genesis_time_ms.to_string());
    out.push('|');
    out.push_str(&genesis.governance_threshold.to_string());
    for validator in &genesis.validators {
        out.push('|');
        out.push_str(&validator.public_key.to_hex());
        if let Some(operator) = &validator.operator {
            out.push('@');
            out.push_str(&operator.to_hex());
        }
    }
    for party in &genesis.parties {
        out.push('|');
        out.push_str(&format!(
            "{:?},{},{},{},{:?},{:?}",
            party.kind,
            party.label,
            party.signing_key,
            party.encryption_key,
            party.roles.as_slice(),
            party.organisation
        ));
    }
    out
}
