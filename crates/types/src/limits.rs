//! Limits on every input that comes from outside the node.
//!
//! Each limit is a constant so that every node enforces the same bound: a block that one node
//! accepts must be accepted by all. Exceeding a limit is an error that names the limit.

/// Largest encoded signed transaction, in bytes.
pub const TRANSACTION_BYTES_MAX: usize = 64 * 1024;
/// Largest number of transactions in one block.
pub const BLOCK_TRANSACTIONS_MAX: usize = 20_000;
/// Largest total encoded size of one block's transactions, in bytes.
pub const BLOCK_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Most state keys a block writes before its last transaction: a proposer stops adding
/// transactions once this many are written, and a block that goes on past it is refused. A
/// block writes at most this many plus its last transaction's writes (a supply operation may
/// touch 20,000 units).
pub const BLOCK_WRITES_MAX: usize = 50_000;
/// Shortest leader timeout a genesis file may set, in milliseconds.
pub const LEADER_TIMEOUT_MS_MIN: u64 = 100;
/// Longest leader timeout a genesis file may set, in milliseconds.
pub const LEADER_TIMEOUT_MS_MAX: u64 = 60_000;
/// Largest chain id, in bytes.
pub const CHAIN_ID_BYTES_MAX: usize = 64;
/// Largest label (organisation name, practitioner display name), in bytes.
pub const LABEL_BYTES_MAX: usize = 128;
/// Largest number of roles a party may hold.
pub const ROLES_MAX: usize = 32;
/// Largest number of events one transaction may emit.
pub const EVENTS_PER_TRANSACTION_MAX: usize = 64;
/// Largest encoded event, in bytes.
pub const EVENT_BYTES_MAX: usize = 16 * 1024;
/// Largest state key, in bytes.
pub const STATE_KEY_BYTES_MAX: usize = 256;
/// Largest state value, in bytes.
pub const STATE_VALUE_BYTES_MAX: usize = 128 * 1024;
/// Largest number of founding organisations or validators in a genesis file.
pub const GENESIS_PARTIES_MAX: usize = 1_024;
/// Largest number of approvals a proposal can collect (one per governing organisation).
pub const APPROVALS_MAX: usize = 1_024;
/// Largest step a block's time may take past its parent's, in milliseconds. A permanent rule,
/// so that a proposer cannot move the chain's clock far into the future.
pub const BLOCK_TIME_STEP_MS_MAX: u64 = 10 * 60 * 1000;
/// Default number of milliseconds a governance proposal stays open.
pub const PROPOSAL_TTL_MS_DEFAULT: u64 = 7 * 24 * 60 * 60 * 1000;
/// Largest lifetime a proposer may give a proposal, in milliseconds.
pub const PROPOSAL_TTL_MS_MAX: u64 = 90 * 24 * 60 * 60 * 1000;
/// Largest sealed record content (ciphertext with its header and tag), in bytes.
pub const RECORD_CIPHERTEXT_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Largest media type of a record's content, in bytes.
pub const MEDIA_TYPE_BYTES_MAX: usize = 127;
