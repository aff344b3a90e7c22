//! medchain's data formats, pure functions over text and JSON: GS1 barcodes (element
//! strings, the human-readable form, Digital Link URIs) and, for the supply chain, EPCIS 2.0.
//!
//! Nothing here does I/O or reads a clock: a caller that needs "today" (GS1 two-digit years)
//! passes it in.

pub mod epcis;
pub mod gs1;
pub mod uri;
