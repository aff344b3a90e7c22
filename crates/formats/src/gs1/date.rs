//! Dates in GS1 element strings: `YYMMDD`, sometimes followed by a time (`hh`, `hhmm`,
//! `hhmmss`) or, for the harvest date (AI 7007), by a second date ending a range.

use medchain_types::time::{Date, days_in_month};
use serde::Serialize;

/// A date read from a GS1 date AI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Gs1Date {
    pub date: Date,
    /// Hour, minute and second, when the AI carries a time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<(u8, u8, u8)>,
    /// The last day of a date range (AI 7007).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Date>,
}

/// The full year of a two-digit year, by the GS1 rule (General Specifications 7.12): the year
/// lies between 49 years before and 50 years after `current_year`.
pub fn full_year(two_digits: i32, current_year: i32) -> i32 {
    let century = current_year - current_year.rem_euclid(100);
    match two_digits - current_year.rem_euclid(100) {
        51..=99 => century - 100 + two_digits,
        -99..=-50 => century + 100 + two_digits,
        _ => century + two_digits,
    }
}

fn number(text: &str) -> u8 {
    text.bytes().fold(0, |n, b| n * 10 + (b - b'0'))
}

/// `YYMMDD` as a date; a day of `00` means the last day of the month.
fn yymmdd(text: &str, current_year: i32) -> Result<Date, String> {
    let year = full_year(i32::from(number(&text[0..2])), current_year);
    let month = number(&text[2..4]);
    let day = match number(&text[4..6]) {
        0 => days_in_month(year, month),
        day => day,
    };
    Date::new(year, month, day).ok_or_else(|| {
        format!(
            "{} is not a date (year {year}, month {month}, day {})",
            &text[..6],
            &text[4..6]
        )
    })
}

/// Reads the date in the value of date AI `ai` (the value has already matched the AI's format,
/// so it is digits of the right length).
pub fn parse(ai: &str, value: &str, current_year: i32) -> Result<Gs1Date, String> {
    if value.len() < 6
        || !value.len().is_multiple_of(2)
        || !value.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!(
            "'{value}' is not YYMMDD followed by pairs of digits"
        ));
    }
    let date = yymmdd(value, current_year)?;
    let rest = &value[6..];
    if ai == "7007" {
        let until = match rest.len() {
            0 => None,
            6 => Some(yymmdd(rest, current_year)?),
            _ => return Err(format!("'{value}' is not YYMMDD[YYMMDD]")),
        };
        if until.is_some_and(|until| until < date) {
            return Err(format!("the range {value} ends before it starts"));
        }
        return Ok(Gs1Date {
            date,
            time: None,
            until,
        });
    }
    if rest.is_empty() {
        return Ok(Gs1Date {
            date,
            time: None,
            until: None,
        });
    }
    let pairs: Vec<u8> = rest
        .as_bytes()
        .chunks(2)
        .map(|pair| (pair[0] - b'0') * 10 + (pair[1] - b'0'))
        .collect();
    let (hour, minute, second) = (
        pairs[0],
        pairs.get(1).copied().unwrap_or(0),
        pairs.get(2).copied().unwrap_or(0),
    );
    // `9999` in place of hhmm: the time is not known (AIs 4324, 4325).
    if hour == 99 && minute == 99 {
        return Ok(Gs1Date {
            date,
            time: None,
            until: None,
        });
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!("{rest} is not a time of day (hhmmss)"));
    }
    Ok(Gs1Date {
        date,
        time: Some((hour, minute, second)),
        until: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u8, d: u8) -> Date {
        Date::new(y, m, d).expect("date")
    }

    #[test]
    fn two_digit_years_follow_the_gs1_sliding_window() {
        assert_eq!(full_year(26, 2026), 2026);
        assert_eq!(full_year(76, 2026), 2076);
        assert_eq!(full_year(77, 2026), 1977);
        assert_eq!(full_year(0, 2026), 2000);
        assert_eq!(full_year(99, 2026), 1999);
        assert_eq!(full_year(0, 2051), 2100);
        assert_eq!(full_year(1, 2051), 2101);
        assert_eq!(full_year(2, 2051), 2002);
        assert_eq!(full_year(99, 2049), 2099);
        assert_eq!(full_year(0, 2049), 2000);
    }

    #[test]
    fn dates_times_and_ranges() {
        let parsed = |ai, value| parse(ai, value, 2026);
        assert_eq!(
            parsed("17", "261231").map(|d| d.date),
            Ok(date(2026, 12, 31))
        );
        assert_eq!(
            parsed("17", "240200").map(|d| d.date),
            Ok(date(2024, 2, 29))
        );
        assert_eq!(
            parsed("17", "260200").map(|d| d.date),
            Ok(date(2026, 2, 28))
        );
        assert!(parsed("17", "260230").is_err());
        assert!(parsed("17", "261301").is_err());
        assert_eq!(
            parsed("7003", "2611221430"),
            Ok(Gs1Date {
                date: date(2026, 11, 22),
                time: Some((14, 30, 0)),
                until: None
            })
        );
        assert_eq!(parsed("4324", "2611229999").map(|d| d.time), Ok(None));
        assert!(parsed("7003", "2611222430").is_err());
        assert_eq!(
            parsed("8008", "26112214").map(|d| d.time),
            Ok(Some((14, 0, 0)))
        );
        assert_eq!(
            parsed("7007", "260101260131").map(|d| d.until),
            Ok(Some(date(2026, 1, 31)))
        );
        assert!(parsed("7007", "260131260101").is_err());
        assert!(parsed("17", "2612").is_err());
    }
}
