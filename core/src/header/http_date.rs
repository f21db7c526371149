//! HTTP dates (IMF-fixdate, RFC 9110 §5.6.7), formatted and parsed without
//! a calendar library.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time with one-second precision, as HTTP writes it:
/// `Sun, 06 Nov 1994 08:49:37 GMT`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use turnstile_core::header::HttpDate;
///
/// let date = HttpDate::from(UNIX_EPOCH + Duration::from_secs(784111777));
/// assert_eq!(date.to_string(), "Sun, 06 Nov 1994 08:49:37 GMT");
/// assert_eq!("Sun, 06 Nov 1994 08:49:37 GMT".parse::<HttpDate>().unwrap(), date);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HttpDate {
    /// Seconds since the Unix epoch.
    secs: u64,
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl HttpDate {
    /// Seconds since the Unix epoch.
    pub fn unix_secs(&self) -> u64 {
        self.secs
    }

    /// The 29 bytes of the IMF-fixdate form.
    pub fn to_bytes(&self) -> [u8; 29] {
        let days = self.secs / 86_400;
        let rem = self.secs % 86_400;
        let (year, month, day) = civil_from_days(days as i64);
        let weekday = WEEKDAYS[(days % 7) as usize].as_bytes();
        let month = MONTHS[(month - 1) as usize].as_bytes();
        let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
        let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
        out[..3].copy_from_slice(weekday);
        two_digits(&mut out[5..7], day as u64);
        out[8..11].copy_from_slice(month);
        let year = year.clamp(0, 9999) as u64;
        two_digits(&mut out[12..14], year / 100);
        two_digits(&mut out[14..16], year % 100);
        two_digits(&mut out[17..19], h);
        two_digits(&mut out[20..22], m);
        two_digits(&mut out[23..25], s);
        out
    }
}

fn two_digits(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31); Howard Hinnant's
/// `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl From<SystemTime> for HttpDate {
    fn from(time: SystemTime) -> HttpDate {
        let secs = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        HttpDate { secs }
    }
}

impl From<HttpDate> for SystemTime {
    fn from(date: HttpDate) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(date.secs)
    }
}

impl fmt::Display for HttpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.to_bytes();
        f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?)
    }
}

/// The text was not an IMF-fixdate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidDate;

impl fmt::Display for InvalidDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an HTTP date")
    }
}

impl std::error::Error for InvalidDate {}

impl std::str::FromStr for HttpDate {
    type Err = InvalidDate;

    fn from_str(s: &str) -> Result<HttpDate, InvalidDate> {
        let b = s.as_bytes();
        if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
            return Err(InvalidDate);
        }
        let num = |range: std::ops::Range<usize>| -> Result<u64, InvalidDate> {
            let digits = &b[range];
            if !digits.iter().all(u8::is_ascii_digit) {
                return Err(InvalidDate);
            }
            Ok(digits.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
        };
        let day = num(5..7)? as u32;
        let month = MONTHS
            .iter()
            .position(|m| m.as_bytes() == &b[8..11])
            .ok_or(InvalidDate)? as u32
            + 1;
        let year = num(12..16)? as i64;
        let (h, m, sec) = (num(17..19)?, num(20..22)?, num(23..25)?);
        if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
            return Err(InvalidDate);
        }
        if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 || year < 1970 {
            return Err(InvalidDate);
        }
        let days = days_from_civil(year, month, day);
        if civil_from_days(days) != (year, month, day) {
            return Err(InvalidDate); // 31 Feb and friends
        }
        Ok(HttpDate {
            secs: days as u64 * 86_400 + h * 3600 + m * 60 + sec,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_dates() {
        let at = |secs| HttpDate { secs }.to_string();
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(1_795_996_799), "Sun, 29 Nov 2026 23:59:59 GMT");
    }

    #[test]
    fn round_trips_every_day_for_centuries() {
        for days in (0..150_000).step_by(7) {
            let date = HttpDate {
                secs: days * 86_400 + 45_296,
            };
            assert_eq!(date.to_string().parse::<HttpDate>(), Ok(date));
        }
    }

    #[test]
    fn refuses_other_shapes() {
        for bad in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:49:37 GMT",
            "",
        ] {
            assert!(bad.parse::<HttpDate>().is_err(), "{bad}");
        }
    }
}
