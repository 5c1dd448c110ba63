//! A tiny deterministic generator for the randomized tests (xorshift64).

/// Returns a generator seeded with `s` (non-zero).
pub(crate) fn xorshift(mut s: u64) -> impl FnMut() -> u64 {
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}
