//! Rate-limited logging: at most `burst` messages per window, then one line saying how
//! many were suppressed. A hostile exporter must not be able to flood the logs.

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct LogLimiter {
    window: Duration,
    burst: u32,
    started: Option<Instant>,
    used: u32,
    suppressed: u64,
}

impl LogLimiter {
    pub fn new(burst: u32, window: Duration) -> Self {
        LogLimiter {
            window,
            burst,
            started: None,
            used: 0,
            suppressed: 0,
        }
    }

    /// Whether to log now. When a new window opens, returns how many were suppressed in
    /// the previous one so the caller can say so.
    pub fn allow(&mut self, now: Instant) -> (bool, u64) {
        let mut dropped = 0;
        if self
            .started
            .is_none_or(|s| now.duration_since(s) >= self.window)
        {
            self.started = Some(now);
            self.used = 0;
            dropped = std::mem::take(&mut self.suppressed);
        }
        if self.used < self.burst {
            self.used += 1;
            (true, dropped)
        } else {
            self.suppressed += 1;
            (false, dropped)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_window() {
        let t0 = Instant::now();
        let mut l = LogLimiter::new(2, Duration::from_secs(10));
        assert_eq!(l.allow(t0), (true, 0));
        assert_eq!(l.allow(t0), (true, 0));
        assert_eq!(l.allow(t0), (false, 0));
        assert_eq!(l.allow(t0), (false, 0));
        assert_eq!(l.allow(t0 + Duration::from_secs(11)), (true, 2));
    }
}
