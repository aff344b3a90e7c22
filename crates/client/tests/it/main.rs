//! Integration tests of the client SDK against outside implementations.

mod httpsig_oracle;
mod totp_oracle;
mod vc_oracle;
mod venv;
