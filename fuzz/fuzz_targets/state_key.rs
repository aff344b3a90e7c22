//! The state key text form (HTTP paths, CLI arguments).
#![no_main]

use libfuzzer_sys::fuzz_target;
use medchain_state::keys;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(key) = keys::parse(text)
    {
        // Rendering and parsing again gives the same key.
        assert_eq!(keys::parse(&keys::describe(&key)).ok(), Some(key));
    }
});
