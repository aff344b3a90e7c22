//! Integration tests of the client SDK against outside implementations.

mod vc_oracle;
