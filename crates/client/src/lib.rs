//! medchain's client SDK.
//!
//! - [`keys`]: party and validator key files (generation, loading, the demo keys of a dev chain).
//! - [`custodial`]: who holds a party's keys ([`custodial::Holder`]): the party, or a node's
//!   custodial account signed into with a password and a TOTP code.
//! - [`Client`]: the `/v1` HTTP API, with typed answers and [`Problem`] errors.
//! - [`verify`]: the light verifier, which checks a state proof offline against the genesis.
//! - [`proven`]: proven answers: entries verified against one fresh finalized block, and the
//!   answer recomputed from them by the node's own pure query, never read off the node.
//!
//! ```no_run
//! # async fn example() -> Result<(), medchain_client::ClientError> {
//! use medchain_client::{Client, keys::PartyKeys};
//! use medchain_types::{Hash32, TxBody};
//! let client = Client::new("http://127.0.0.1:8080");
//! let hospital = PartyKeys::dev("hospital");
//! let status = client.status().await?;
//! let nonce = client.next_nonce(&hospital.party_id).await?;
//! let tx = hospital.sign(&status.chain_id, nonce, TxBody::Attest {
//!     subject: Hash32::ZERO,
//!     digest: medchain_types::sha256(b"discharge summary v3"),
//! });
//! let answer = client.submit(&tx, true).await?;
//! println!("{:?}", answer.status);
//! # Ok(())
//! # }
//! ```
//!
//! [`Problem`]: medchain_types::api::Problem

pub mod credentials;
pub mod custodial;
pub mod http;
pub mod keys;
pub mod proven;
pub mod records;
pub mod supply;
pub mod vc;

pub use http::{Client, ClientError};
pub use medchain_node::light as verify;
