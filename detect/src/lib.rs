//! levee-detect: the detection engine's building blocks (sans-IO, explicit time).
//!
//! This crate holds the per-destination state the engine keeps for every tracked IP, sized
//! so a million tracked IPs fit in about a gigabyte:
//! - [`window::SlidingWindow`]: packets, bytes and flows over the last second, in ten
//!   100 ms buckets, so rates can be evaluated every 100 ms instead of once a second;
//! - [`breakdown::Breakdown`]: the per-second split by protocol and attack shape (TCP,
//!   SYN, other TCP flag floods, UDP, ICMP, fragments, DNS, amplification source ports);
//! - [`baseline::Baseline`]: the last 300 one-second samples of pps and bps, stored as
//!   8-bit logarithmic codes ([`logcode`]), with the p99 recomputed every 10 samples.
//!
//! Nothing here reads a clock: callers pass times in. The incident logic, classification
//! and replay that build on these types are not written yet.

pub mod baseline;
pub mod breakdown;
pub mod logcode;
pub mod prefixset;
#[cfg(test)]
mod testrng;
pub mod threatintel;
pub mod window;

#[cfg(test)]
mod tests {
    /// The per-IP budget is 1 KiB in all; these three leave room for incident state.
    #[test]
    fn per_ip_state_fits_the_budget() {
        use std::mem::size_of;
        let used = size_of::<crate::window::SlidingWindow>()
            + size_of::<crate::breakdown::Breakdown>()
            + size_of::<crate::baseline::Baseline>();
        assert!(used <= 900, "{used} bytes");
    }
}
