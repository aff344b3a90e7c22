//! Table-driven properties of the GS1 parser, over every application identifier: values drawn
//! from each AI's own pattern parse (or are refused only for a check digit or a date), and a
//! parsed scan renders to an element string, a human-readable form and (when it has a primary
//! key) a Digital Link URI that all parse back to the same elements.

use medchain_formats::gs1::{Element, Gs1Error, Scan, ai, syntax};
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
        gtin_first in any::<bool>(),
        elements in proptest::collection::vec(element(), 1..6),
    ) {
        let mut parsed = Vec::new();
        if gtin_first {
            parsed.push(Element::new(ai::lookup("01").expect("01"), "09521111111115", today().year).expect("GTIN"));
        }
        for (code, value) in &elements {
            let ai = ai::lookup(code).expect("in the table");
            match Element::new(ai, value, today().year) {
                Ok(element) => parsed.push(element),
                Err(Gs1Error::Key { .. } | Gs1Error::Date { .. } | Gs1Error::Lint { .. }) => {}
                // Patterns with percent-escapes count an escape as one character, so they
                // draw values longer than the AI allows; those are refused.
                Err(Gs1Error::Format { .. }) if value.contains('%') => {}
                // Two patterns (AIs 30, 7004) allow an empty value their formats do not.
                Err(Gs1Error::Format { .. }) if value.is_empty() => {}
                Err(other) => prop_assert!(false, "({code}){value:?}: {other}"),
            }
        }
        prop_assume!(!parsed.is_empty());
        // One value per AI (the same value twice is read once), and GS1's association rules.
        let mut unique: Vec<Element> = Vec::new();
        let mut repeated = false;
        for e in &parsed {
            match unique.iter().find(|u| u.ai == e.ai) {
                Some(u) if u.value != e.value => repeated = true,
                Some(_) => {}
                None => unique.push(e.clone()),
            }
        }
        let codes: Vec<&str> = unique.iter().map(|e| e.ai.code.as_str()).collect();
        let keeps_rules = !repeated && syntax::check(&codes).is_ok();
        let text = medchain_formats::gs1::element_string(&parsed);
        let scan = match Scan::parse(&text, today()) {
            Ok(scan) => {
                prop_assert!(keeps_rules, "{text:?} breaks a rule but was accepted");
                scan
            }
            Err(Gs1Error::Repeated { .. } | Gs1Error::Excluded { .. } | Gs1Error::Unmet { .. })
                if !keeps_rules => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(format!("{text:?}: {e}"))),
        };
        prop_assert_eq!(&scan.elements, &unique);
        let hri = scan.human_readable();
        // A value with a parenthesis or a space cannot be told apart in the human-readable form.
        if !unique.iter().any(|e| e.value.contains(['(', ' '])) {
            let again = Scan::parse(&hri, today()).map_err(|e| TestCaseError::fail(format!("{hri:?}: {e}")))?;
            prop_assert_eq!(&again.elements, &unique);
        }
        if let Ok(uri) = scan.digital_link("id.gs1.org") {
            let again = Scan::parse(&uri, today()).map_err(|e| TestCaseError::fail(format!("{uri:?}: {e}")))?;
            // The URI puts the primary key and its qualifiers first and the rest in AI order:
            // the same set of elements.
            prop_assert_eq!(again.elements.len(), unique.len(), "{}", uri);
            for element in &again.elements {
                prop_assert!(unique.contains(element), "{uri}: {element:?}");
            }
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
        let _ = Scan::parse(&text, today());
    }
}
