//! Big-endian (network order) word lists, as every flow-export format writes its fields.

/// 16-bit words, big-endian.
pub fn u16s(words: &[u16]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

/// 32-bit words, big-endian.
pub fn u32s(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_be_bytes()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn network_order() {
        assert_eq!(super::u16s(&[0x0102, 3]), [1, 2, 0, 3]);
        assert_eq!(super::u32s(&[0x0102_0304]), [1, 2, 3, 4]);
    }
}
