//! The daemon's one time type: [`Timestamp`], wall-clock microseconds since the Unix
//! epoch, the unit flow records, both engines (`levee-detect`, `levee-mitigate`), the
//! store and the JSON output use. Durations are `std::time::Duration`. Stages read
//! the time here, never from `SystemTime` themselves. The engines' sans-IO interfaces,
//! the store's rows and the flow records keep bare microseconds (`u64`); they are
//! converted at those boundaries (`as_micros`, [`now_us`]).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The wall clock now (the epoch if the clock is before it).
    pub fn now() -> Timestamp {
        Timestamp(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64),
        )
    }

    /// From microseconds since the epoch, as the engines and the store keep them.
    pub const fn from_micros(us: u64) -> Timestamp {
        Timestamp(us)
    }

    /// From a `struct timeval` (libpcap's packet headers); negative parts count as 0.
    pub fn from_timeval(secs: i64, micros: i64) -> Timestamp {
        Timestamp((secs.max(0) as u64) * 1_000_000 + micros.max(0) as u64)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Whole seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000
    }

    /// How long after `earlier` this is (zero if it is not after).
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

/// RFC 3339, UTC, with microseconds: `2026-11-21T19:39:18.123456Z`.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1_000_000;
        let micros = self.0 % 1_000_000;
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days((secs / 86_400) as i64);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            rem / 3600,
            rem % 3600 / 60,
            rem % 60
        )
    }
}

/// Now, in microseconds since the epoch: what the engines' sans-IO interfaces take.
pub fn now_us() -> u64 {
    Timestamp::now().as_micros()
}

/// RFC 3339 text of microseconds since the epoch (see [`Timestamp`]'s `Display`).
pub fn rfc3339(us: u64) -> String {
    Timestamp(us).to_string()
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339(951_782_400_000_001), "2000-02-29T00:00:00.000001Z");
        assert_eq!(
            rfc3339(1_795_289_958_123_456),
            "2026-11-21T19:39:18.123456Z"
        );
    }

    #[test]
    fn arithmetic() {
        let t = Timestamp::from_timeval(1_795_289_958, 123_456);
        assert_eq!(t.as_micros(), 1_795_289_958_123_456);
        assert_eq!(t.as_secs(), 1_795_289_958);
        let later = Timestamp::from_micros(t.as_micros() + 300_000_000);
        assert_eq!(later.since(t), Duration::from_secs(300));
        assert_eq!(t.since(later), Duration::ZERO);
        assert_eq!(Timestamp::from_timeval(-1, -1), Timestamp::default());
        assert!(Timestamp::now() > t);
    }
}
