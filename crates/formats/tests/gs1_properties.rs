//! Table-driven properties of the GS1 parser, over every application identifier: values drawn
//! from each AI's own pattern parse (or are refused only for a check digit or a date), and a
//! parsed scan renders to an element string, a human-readable form and (when it has a primary
//! key) a Digital Link URI that all parse back to the same elements.

use medchain_formats::gs1::{Element, Gs1Error, Scan, ai};
use medchain_types::time::Date;
use proptest::prelude::*;

fn today() -> Date {
    Date::new(2026, 11, 23).expect("date")
}

/// An AI and a value drawn from its pattern (ASCII only).
fn element() -> impl Strategy<Value = (&'static str, String)> {
    (0..ai::all().len()).prop_flat_map(|i| {
        let ai = &ai::all()[i];
        let body = &ai.pattern()[1 + ai.code.len()..ai.pattern().len() - 1];
        let values = proptest::string::string_regex(&format!("(?-u){body}"))
            .expect("the AI patterns are regular expressions proptest can draw from");
        (Just(ai.code.as_str()), values)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_ai_value_parses_or_is_refused_for_its_check_digit_or_date(
        elements in proptest::collection::vec(element(), 1..6),
    ) {
        let mut parsed = Vec::new();
        for (code, value) in &elements {
            let ai = ai::lookup(code).expect("in the table");
            match Element::new(ai, value, today().year) {
                Ok(element) => parsed.push(element),
                Err(Gs1Error::Key { .. } | Gs1Error::Date { .. }) => {}
                // Patterns with percent-escapes count an escape as one character, so they
                // draw values longer than the AI allows; those are refused.
                Err(Gs1Error::Format { .. }) if value.contains('%') => {}
                // Two patterns (AIs 30, 7004) allow an empty value their formats do not.
                Err(Gs1Error::Format { .. }) if value.is_empty() => {}
                Err(other) => prop_assert!(false, "({code}){value:?}: {other}"),
            }
        }
        prop_assume!(!parsed.is_empty());
        let text = medchain_formats::gs1::element_string(&parsed);
        let scan = Scan::parse(&text, today()).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&scan.elements, &parsed);
        let hri = scan.human_readable();
        // A value with a parenthesis or a space cannot be told apart in the human-readable form.
        if !parsed.iter().any(|e| e.value.contains(['(', ' '])) {
            let again = Scan::parse(&hri, today()).map_err(|e| TestCaseError::fail(format!("{hri:?}: {e}")))?;
            prop_assert_eq!(&again.elements, &parsed);
        }
        if let Ok(uri) = scan.digital_link("id.gs1.org") {
            let again = Scan::parse(&uri, today()).map_err(|e| TestCaseError::fail(format!("{uri:?}: {e}")))?;
            // The URI puts the primary key and its qualifiers first and the rest in AI order,
            // and keeps one value per AI: the same set of elements.
            for element in &again.elements {
                prop_assert!(parsed.contains(element), "{uri}: {element:?}");
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
        let _ = Scan::parse(&text, today());
    }
}
