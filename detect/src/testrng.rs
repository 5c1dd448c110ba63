//! A small deterministic generator for the oracle tests (xorshift64).

/// Returns a generator of pseudo-random u64s from `seed` (must be non-zero).
pub(crate) fn xorshift(mut x: u64) -> impl FnMut() -> u64 {
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
