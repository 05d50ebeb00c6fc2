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
