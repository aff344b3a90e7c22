//! RFC 3339 timestamps (UTC) for milliseconds since the Unix epoch, and civil dates: what
//! reports, VCs, the API and GS1 barcodes print and parse. Pure arithmetic (Howard Hinnant's
//! civil-date algorithms), no clock.

use std::fmt;

/// Milliseconds in a day.
pub const DAY_MS: u64 = 86_400_000;

/// A proleptic Gregorian calendar date (UTC), such as a medicine's expiry date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// The date, if `month` and `day` name a day of `year`.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month))
            .then_some(Date { year, month, day })
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days(self) -> i64 {
        let (year, month, day) = (
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (month + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01.
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date {
            year: year as i32,
            month: month as u8,
            day: day as u8,
        }
    }

    /// The UTC date of a moment in milliseconds since the Unix epoch.
    pub fn of_ms(ms: u64) -> Date {
        Date::from_days((ms / DAY_MS) as i64)
    }

    /// Milliseconds since the Unix epoch at the start of the day (UTC); 0 before 1970.
    pub fn start_ms(self) -> u64 {
        u64::try_from(self.days()).map_or(0, |days| days * DAY_MS)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Date> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let number = |range| number_in(text, range);
        Date::new(
            i32::try_from(number(0..4)?).ok()?,
            u8::try_from(number(5..7)?).ok()?,
            u8::try_from(number(8..10)?).ok()?,
        )
    }
}

/// Canonical encoding: days since 1970-01-01 as a big-endian `i32`.
impl commonware_codec::Write for Date {
    fn write(&self, buf: &mut impl bytes::BufMut) {
        commonware_codec::Write::write(&(self.days() as i32), buf);
    }
}

impl commonware_codec::FixedSize for Date {
    const SIZE: usize = 4;
}

impl commonware_codec::Read for Date {
    type Cfg = ();
    fn read_cfg(
        buf: &mut impl commonware_codec::Buf,
        _: &(),
    ) -> Result<Self, commonware_codec::Error> {
        let days = <i32 as commonware_codec::ReadExt>::read(buf)?;
        Ok(Date::from_days(i64::from(days)))
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        Date::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("'{text}' is not a date (YYYY-MM-DD)")))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Whether `year` is a leap year.
pub fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The number of days in `month` (1 to 12) of `year`; 0 for a month that does not exist.
pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// RFC 3339 UTC time of milliseconds since the Unix epoch: whole seconds, with milliseconds
/// when there are any (so a signing time is never rounded to before the moment it names).
pub fn rfc3339(ms: u64) -> String {
    let date = Date::of_ms(ms);
    let rem = (ms / 1000) % 86_400;
    let millis = match ms % 1000 {
        0 => String::new(),
        millis => format!(".{millis:03}"),
    };
    format!(
        "{date}T{:02}:{:02}:{:02}{millis}Z",
        rem / 3_600,
        (rem % 3_600) / 60,
        rem % 60
    )
}

/// Parses an RFC 3339 date-time (`2026-11-18T11:06:40Z`, with optional fractional seconds and
/// a `Z` or `±HH:MM` offset) to milliseconds since the Unix epoch; `None` if malformed or before
/// 1970.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let number = |range| number_in(text, range);
    if bytes.len() < 20
        || bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't')
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    let date = Date::new(
        i32::try_from(year).ok()?,
        u8::try_from(month).ok()?,
        u8::try_from(day).ok()?,
    )?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0i64;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let padded: String = fraction[..digits]
            .chars()
            .chain("000".chars())
            .take(3)
            .collect();
        millis = padded.parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let (h, m) = (number_in(rest, 1..3)?, number_in(rest, 4..6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if rest.starts_with('-') {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    let days = date.days();
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    u64::try_from(seconds * 1_000 + millis).ok()
}

/// Parses a full date (`2026-11-22`) to the milliseconds of its start, UTC.
pub fn parse_date(text: &str) -> Option<u64> {
    let date = Date::parse(text)?;
    (date.year >= 1970).then(|| date.start_ms())
}

fn number_in(text: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let part = text.get(range)?;
    if part.bytes().all(|b| b.is_ascii_digit()) {
        part.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_to_days_and_back() {
        assert_eq!(Date::new(1970, 1, 1).map(Date::days), Some(0));
        assert_eq!(Date::new(2000, 2, 29).map(Date::days), Some(11_016));
        assert_eq!(Date::new(2026, 2, 29), None);
        assert_eq!(Date::new(2026, 4, 31), None);
        assert_eq!(Date::new(2026, 0, 1), None);
        for days in (-800_000..800_000).step_by(997) {
            assert_eq!(Date::from_days(days).days(), days);
        }
        assert_eq!(
            Date::parse("2026-11-22").map(|d| d.to_string()).as_deref(),
            Some("2026-11-22")
        );
        assert_eq!(Date::of_ms(1_795_000_000_000).to_string(), "2026-11-18");
        for bad in ["2026-11-31", "2026/11/22", "26-11-22", "2026-11-2"] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_and_parses_round_trip() {
        for ms in [
            0,
            1_000,
            951_782_400_000,
            1_795_000_000_123,
            4_102_444_799_999,
        ] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms), "{}", rfc3339(ms));
        }
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(
            parse_rfc3339("2026-11-22T01:00:00+01:00"),
            parse_rfc3339("2026-11-22T00:00:00Z")
        );
        assert_eq!(
            parse_date("2026-11-22"),
            parse_rfc3339("2026-11-22T00:00:00Z")
        );
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-11-22",
            "2026-11-22T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "2026-11-22T00:00:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        for bad in ["2026-13-01", "2026-1-01", "2026-11-22T00:00:00Z", ""] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_parses_what_it_prints_and_refuses_the_malformed() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_000_000_000), "2026-11-18T11:06:40Z");
        for ms in [
            0,
            951_782_400_000,
            1_795_000_000_000,
            1_795_000_000_007,
            4_102_444_799_999,
        ] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)), Some(ms), "{}", rfc3339(ms));
        }
        assert_eq!(
            parse_rfc3339("2026-11-18T12:06:40.25+01:00"),
            Some(1_795_000_000_250)
        );
        assert_eq!(
            parse_rfc3339("2026-11-18T06:06:40-05:00"),
            Some(1_795_000_000_000)
        );
        for bad in [
            "",
            "2026-11-18",
            "2026-11-18 11:06:40Z",
            "2026-13-18T11:06:40Z",
            "2026-02-29T11:06:40Z",
            "2026-11-18T24:06:40Z",
            "2026-11-18T11:06:40",
            "2026-11-18T11:06:40.Z",
            "2026-11-18T11:06:40+1:00",
            "1969-12-31T23:59:59Z",
            "+026-11-18T11:06:40Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
    }
}
