//! The genesis file: the chain id, the founding organisations, the validators and the
//! governance threshold. Every node of a chain starts from the same file, and a light client
//! needs nothing else to check a proof.

use crate::{
    error::ParseError,
    hash::{Hash32, hash_parts},
    identity::{PartyKind, Roles},
    ids::ChainId,
    keys::{EncryptionKey, PublicKey},
    limits::{GENESIS_PARTIES_MAX, LABEL_BYTES_MAX, LEADER_TIMEOUT_MS_MAX, LEADER_TIMEOUT_MS_MIN},
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

/// How long consensus waits, the same on every validator of a chain.
///
/// A proposer stops adding transactions to a block once building it (executing the
/// transactions and merkleizing their writes) has taken half the leader timeout, and never lets
/// it run past four fifths, so that the block can still be sent and checked in time. One
/// transaction that alone takes longer than that is refused as too costly, rather than proposed
/// view after view past the timeout. A chain whose validators run on slower machines raises the
/// leader timeout, and with it what one operation may cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusTiming {
    /// How long validators wait for the leader's proposal before they vote to skip the view,
    /// in milliseconds.
    pub leader_timeout_ms: u64,
    /// How long validators wait for a view to be certified before they vote to skip it, in
    /// milliseconds; longer than the leader timeout.
    pub certification_timeout_ms: u64,
}

impl Default for ConsensusTiming {
    fn default() -> Self {
        Self {
            leader_timeout_ms: 1_000,
            certification_timeout_ms: 2_000,
        }
    }
}

impl ConsensusTiming {
    /// How long a proposer adds transactions to a block: half the leader timeout.
    pub fn proposal_budget_ms(&self) -> u64 {
        self.leader_timeout_ms / 2
    }

    /// The longest a proposer lets a block's building run, and so the most one transaction may
    /// cost: four fifths of the leader timeout, leaving a fifth to send the block.
    pub fn proposal_limit_ms(&self) -> u64 {
        self.leader_timeout_ms * 4 / 5
    }

    fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Checks the timeouts are in range and in order; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(LEADER_TIMEOUT_MS_MIN..=LEADER_TIMEOUT_MS_MAX).contains(&self.leader_timeout_ms) {
            return Err(format!(
                "consensus.leader_timeout_ms must be {LEADER_TIMEOUT_MS_MIN} to {LEADER_TIMEOUT_MS_MAX}, found {}",
                self.leader_timeout_ms
            ));
        }
        if self.certification_timeout_ms <= self.leader_timeout_ms
            || self.certification_timeout_ms > 2 * LEADER_TIMEOUT_MS_MAX
        {
            return Err(format!(
                "consensus.certification_timeout_ms must be more than the leader timeout ({}) and at most {}, found {}",
                self.leader_timeout_ms,
                2 * LEADER_TIMEOUT_MS_MAX,
                self.certification_timeout_ms
            ));
        }
        Ok(())
    }
}

/// The genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    pub chain_id: ChainId,
    /// Time of the genesis block, in milliseconds since the Unix epoch.
    pub genesis_time_ms: u64,
    /// How many governor approvals a governance proposal needs.
    pub governance_threshold: u32,
    /// Consensus timeouts; left out, the defaults (a 1 s leader timeout).
    #[serde(default, skip_serializing_if = "ConsensusTiming::is_default")]
    pub consensus: ConsensusTiming,
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
        self.consensus.validate().map_err(invalid)?;
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
    // Left out at their defaults, so the digest of a file without them is what it always was.
    if !genesis.consensus.is_default() {
        out.push_str(&format!(
            "|timing:{}/{}",
            genesis.consensus.leader_timeout_ms, genesis.consensus.certification_timeout_ms
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Genesis {
        let key = crate::Keypair::from_seed([7; 32]).public_key();
        crate::dev::genesis(vec![(key, "127.0.0.1:9000".into())], 1_700_000_000_000)
    }

    #[test]
    fn default_timing_is_left_out_of_the_file_and_the_digest() {
        let genesis = dev();
        let json = serde_json::to_value(&genesis).expect("serialises");
        assert!(json.get("consensus").is_none());
        let read: Genesis = serde_json::from_value(json).expect("reads back");
        assert_eq!(read.consensus, ConsensusTiming::default());
        assert_eq!(read.digest(), genesis.digest());

        let mut slower = genesis.clone();
        slower.consensus = ConsensusTiming {
            leader_timeout_ms: 3_000,
            certification_timeout_ms: 6_000,
        };
        slower.validate().expect("valid");
        assert_ne!(
            slower.digest(),
            genesis.digest(),
            "timing is part of the chain"
        );
        let json = serde_json::to_value(&slower).expect("serialises");
        assert_eq!(json["consensus"]["leader_timeout_ms"], 3_000);
        let read: Genesis = serde_json::from_value(json).expect("reads back");
        assert_eq!(read, slower);
        assert_eq!(read.consensus.proposal_budget_ms(), 1_500);
        assert_eq!(read.consensus.proposal_limit_ms(), 2_400);
    }

    #[test]
    fn bad_timing_is_refused_by_name() {
        let mut genesis = dev();
        for (leader, certification, named) in [
            (50, 2_000, "consensus.leader_timeout_ms"),
            (120_000, 240_000, "consensus.leader_timeout_ms"),
            (1_000, 1_000, "consensus.certification_timeout_ms"),
            (1_000, 500, "consensus.certification_timeout_ms"),
        ] {
            genesis.consensus = ConsensusTiming {
                leader_timeout_ms: leader,
                certification_timeout_ms: certification,
            };
            let err = genesis.validate().expect_err("refused").to_string();
            assert!(err.contains(named), "{leader}/{certification}: {err}");
        }
        let json = r#"{"leader_timeout_ms": 1000, "certification_timeout_ms": 2000, "skip_ms": 5}"#;
        let err = serde_json::from_str::<ConsensusTiming>(json).expect_err("refused");
        assert!(err.to_string().contains("skip_ms"), "{err}");
    }
}
