//! Calendar dates (`YYYY-MM-DD`, proleptic Gregorian, UTC) for allowlist expiry, without a date
//! crate: parsing, validation and the conversion from Unix seconds; and [`UnixTime`], the one
//! reading of the wall clock a command takes and passes down.
//!
//! Plain data: nothing here reads the clock. A command calls `SystemTime::now()` once and hands
//! the reading to [`UnixTime::from_system_time`]; analysis gets the [`UnixTime`] or the [`Date`].

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// A calendar date. Ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, e.g. 2025.
    pub year: i32,
    /// Month, 1–12.
    pub month: u8,
    /// Day of month, 1–31.
    pub day: u8,
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// The (year, month 1–12, day 1–31) of a day counted from 1970-01-01 (day 0; negative is
/// before).
///
/// Howard Hinnant's `civil_from_days`, exact for every date of the proleptic Gregorian calendar.
/// [`Date::from_unix_seconds`] is built on it; a renderer that also shows the time of day can
/// use it directly.
#[must_use]
pub fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are within their documented ranges above.
    (
        year,
        u8::try_from(month).unwrap_or(1),
        u8::try_from(day).unwrap_or(1),
    )
}

impl Date {
    /// The UTC date of a Unix time (seconds since 1970-01-01T00:00:00Z; negative is before).
    #[must_use]
    pub fn from_unix_seconds(secs: i64) -> Date {
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        Date {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month,
            day,
        }
    }
}

/// One reading of the wall clock in whole seconds since the Unix epoch, taken once by a command
/// and passed to whatever needs "now" (a baseline's `created`, today's date for allowlist
/// expiry), so every part of one run agrees on the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// The reading of `time`; a clock before 1970 counts as 0 (1970-01-01).
    #[must_use]
    pub fn from_system_time(time: SystemTime) -> UnixTime {
        UnixTime(time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
    }

    /// The UTC date of this time.
    #[must_use]
    pub fn date(self) -> Date {
        Date::from_unix_seconds(i64::try_from(self.0).unwrap_or(i64::MAX))
    }

    /// This time as RFC 3339 in UTC, to the second: `2025-01-02T03:04:05Z` (what a snapshot's
    /// `taken_at` says).
    #[must_use]
    pub fn rfc3339(self) -> String {
        let secs = i64::try_from(self.0).unwrap_or(i64::MAX);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let of_day = secs.rem_euclid(86_400);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60
        )
    }

    /// Parse an RFC 3339 date-time (`2025-01-02T03:04:05Z`, `2025-01-02T04:04:05.25+01:00`;
    /// `T` and `Z` in either case); fractions of a second are dropped, the offset is applied.
    ///
    /// # Errors
    /// A message quoting the text when it is not an RFC 3339 date-time, names a day the
    /// calendar does not have, or a time before 1970.
    pub fn parse_rfc3339(s: &str) -> Result<UnixTime, String> {
        let bad = || {
            format!(
                "\"{}\" is not an RFC 3339 time such as 2025-01-02T03:04:05Z",
                s.chars().take(40).collect::<String>()
            )
        };
        let date: Date = s.get(..10).ok_or_else(bad)?.parse().map_err(|_| bad())?;
        let rest = s.get(10..).ok_or_else(bad)?;
        let rest = rest.strip_prefix(['T', 't']).ok_or_else(bad)?.as_bytes();
        let two = |at: usize| -> Result<i64, String> {
            match rest.get(at..at + 2) {
                Some([a, b]) if a.is_ascii_digit() && b.is_ascii_digit() => {
                    Ok(i64::from((a - b'0') * 10 + (b - b'0')))
                }
                _ => Err(bad()),
            }
        };
        if rest.get(2) != Some(&b':') || rest.get(5) != Some(&b':') {
            return Err(bad());
        }
        let (hour, minute, second) = (two(0)?, two(3)?, two(6)?);
        // 60 is a leap second.
        if hour > 23 || minute > 59 || second > 60 {
            return Err(bad());
        }
        let mut at = 8;
        if rest.get(at) == Some(&b'.') {
            at += 1;
            let digits = rest[at..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == 0 {
                return Err(bad());
            }
            at += digits;
        }
        let offset = match rest.get(at..) {
            Some([b'Z' | b'z']) => 0,
            Some([sign @ (b'+' | b'-'), _, _, b':', _, _]) => {
                let (h, m) = (two(at + 1)?, two(at + 4)?);
                if h > 23 || m > 59 {
                    return Err(bad());
                }
                let minutes = h * 60 + m;
                if *sign == b'+' { minutes } else { -minutes }
            }
            _ => return Err(bad()),
        };
        let days = days_from_civil(i64::from(date.year), date.month, date.day);
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset * 60;
        u64::try_from(secs).map(UnixTime).map_err(|_| {
            format!(
                "\"{}\" is before 1970",
                s.chars().take(40).collect::<String>()
            )
        })
    }
}

/// [`UnixTime`] as an RFC 3339 string in JSON (`taken_at` of a snapshot): written with
/// [`UnixTime::rfc3339`], read with [`UnixTime::parse_rfc3339`]. For
/// `#[serde(with = "rfc3339")]`.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::UnixTime;

    /// Write the time as `2025-01-02T03:04:05Z`.
    ///
    /// # Errors
    /// What the serializer returns.
    pub fn serialize<S: Serializer>(time: &UnixTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time.rfc3339())
    }

    /// Read an RFC 3339 time.
    ///
    /// # Errors
    /// When the value is not a string or not an RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<UnixTime, D::Error> {
        let text = String::deserialize(d)?;
        UnixTime::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// The day counted from 1970-01-01 (day 0) of a date: the inverse of [`civil_from_days`]
/// (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // [0, 11]
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = String;

    /// Parse `YYYY-MM-DD` (exactly that shape), checking the day exists.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("\"{s}\" is not a date: write YYYY-MM-DD, e.g. 2030-12-31");
        let bytes = s.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(bad());
        }
        let digits = |range: std::ops::Range<usize>| -> Result<u32, String> {
            let part = s.get(range).ok_or_else(bad)?;
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        let year = i32::try_from(digits(0..4)?).map_err(|_| bad())?;
        let month = u8::try_from(digits(5..7)?).map_err(|_| bad())?;
        let day = u8::try_from(digits(8..10)?).map_err(|_| bad())?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(format!("\"{s}\" is not a day of the calendar"));
        }
        Ok(Date { year, month, day })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn d(year: i32, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn unix_seconds_to_dates() {
        let cases: &[(i64, Date)] = &[
            (0, d(1970, 1, 1)),
            (86_399, d(1970, 1, 1)),
            (86_400, d(1970, 1, 2)),
            (-1, d(1969, 12, 31)),
            (951_782_400, d(2000, 2, 29)),
            (951_868_800, d(2000, 3, 1)),
            (1_709_164_800, d(2024, 2, 29)),
            (1_735_689_599, d(2024, 12, 31)),
            (1_735_689_600, d(2025, 1, 1)),
            (4_102_444_800, d(2100, 1, 1)),
            (4_107_456_000, d(2100, 2, 28)),
            (4_107_542_400, d(2100, 3, 1)),
        ];
        for &(secs, want) in cases {
            assert_eq!(Date::from_unix_seconds(secs), want, "{secs}");
        }
    }

    #[test]
    fn clock_readings() {
        let at = |secs: u64| UnixTime::from_system_time(UNIX_EPOCH + Duration::from_secs(secs));
        let cases: &[(UnixTime, u64, Date)] = &[
            (at(0), 0, d(1970, 1, 1)),
            (at(1_735_689_600), 1_735_689_600, d(2025, 1, 1)),
            // A clock before the epoch reads as the epoch.
            (
                UnixTime::from_system_time(UNIX_EPOCH - Duration::from_secs(5)),
                0,
                d(1970, 1, 1),
            ),
        ];
        for &(time, secs, date) in cases {
            assert_eq!((time.0, time.date()), (secs, date), "{time:?}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn rfc3339_both_ways() {
        // (Unix seconds, as written)
        let cases: &[(u64, &str)] = &[
            (0, "1970-01-01T00:00:00Z"),
            (951_782_400 + 3_723, "2000-02-29T01:02:03Z"),
            (1_735_689_599, "2024-12-31T23:59:59Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
        ];
        for &(secs, text) in cases {
            assert_eq!(UnixTime(secs).rfc3339(), text);
            assert_eq!(UnixTime::parse_rfc3339(text), Ok(UnixTime(secs)), "{text}");
        }
        for (other, secs) in [
            ("2025-01-01t00:00:00z", 1_735_689_600),
            ("2025-01-01T01:00:00.123+01:00", 1_735_689_600),
            ("2024-12-31T19:30:00-04:30", 1_735_689_600),
        ] {
            assert_eq!(
                UnixTime::parse_rfc3339(other),
                Ok(UnixTime(secs)),
                "{other}"
            );
        }
        for bad in [
            "",
            "2025-01-01",
            "2025-01-01 00:00:00Z",
            "2025-01-01T00:00:00",
            "2025-01-01T24:00:00Z",
            "2025-01-01T00:60:00Z",
            "2025-02-30T00:00:00Z",
            "2025-01-01T00:00:00.Z",
            "2025-01-01T00:00:00+0100",
            "2025-01-01T00:00:00Zjunk",
            "1969-12-31T23:59:59Z",
            "2025-01-01T0a:00:00Z",
            "2025-01-01T00:00:00 Z",
        ] {
            assert!(UnixTime::parse_rfc3339(bad).is_err(), "{bad}");
        }
        for days in [-800_000, -1, 0, 1, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn parse_and_order() {
        assert_eq!("2024-02-29".parse::<Date>(), Ok(d(2024, 2, 29)));
        assert_eq!(d(2030, 1, 5).to_string(), "2030-01-05");
        for bad in [
            "2023-02-29",
            "2100-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-1-01",
            "24-01-01",
            "2024/01/01",
            "2024-01-01T00:00",
            "",
            "+024-01-01",
        ] {
            assert!(bad.parse::<Date>().is_err(), "{bad}");
        }
        assert!(d(2024, 12, 31) < d(2025, 1, 1));
        assert!(d(2025, 1, 31) < d(2025, 2, 1));
    }
}
