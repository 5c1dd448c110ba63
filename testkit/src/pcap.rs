//! Classic pcap capture files (draft-ietf-opsawg-pcap): little-endian, microsecond
//! timestamps. [`Writer`] writes them; [`frames`] reads what such a file holds.

use std::path::Path;

/// Link type of Ethernet frames.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Link type of raw IP packets (no link-layer header).
pub const LINKTYPE_RAW: u32 = 101;

/// A capture being written in memory.
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// The file header: version 2.4, snapshot length 65535, `linktype`.
    pub fn new(linktype: u32) -> Writer {
        let mut buf = Vec::new();
        buf.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        buf.extend_from_slice(&2u16.to_le_bytes());
        buf.extend_from_slice(&4u16.to_le_bytes());
        buf.extend_from_slice(&[0; 8]);
        buf.extend_from_slice(&65535u32.to_le_bytes());
        buf.extend_from_slice(&linktype.to_le_bytes());
        Writer { buf }
    }

    /// One packet, captured whole at `time_us` (µs since the Unix epoch).
    pub fn packet(&mut self, time_us: u64, data: &[u8]) {
        self.buf
            .extend_from_slice(&((time_us / 1_000_000) as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&((time_us % 1_000_000) as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(data);
    }

    /// The file's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Writes the file to `path` (panics on failure).
    pub fn write(self, path: &Path) {
        std::fs::write(path, self.buf).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// The captured bytes of each packet of a classic little-endian pcap file (panics if
/// it cannot be read).
pub fn frames(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        data.starts_with(&0xa1b2_c3d4u32.to_le_bytes()),
        "{}: not a little-endian microsecond pcap file",
        path.display()
    );
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let caplen = u32::from_le_bytes(data[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push(data[at + 16..at + 16 + caplen].to_vec());
        at += 16 + caplen;
    }
    out
}

/// The UDP payloads of a capture on loopback of IPv4 datagrams (Ethernet 14 + IPv4 20 +
/// UDP 8 bytes before each), as the exporter captures in tests/fixtures/flows are.
pub fn udp_payloads(path: &Path) -> Vec<Vec<u8>> {
    frames(path).into_iter().map(|f| f[42..].to_vec()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_then_read() {
        let mut w = Writer::new(LINKTYPE_RAW);
        w.packet(1_500_000, b"one");
        w.packet(2_000_001, b"second");
        let path = std::env::temp_dir().join(format!("testkit-pcap-{}", std::process::id()));
        let bytes = {
            let w2 = Writer::new(LINKTYPE_RAW);
            assert_eq!(w2.into_bytes().len(), 24);
            w.into_bytes()
        };
        assert_eq!(bytes[20..24], 101u32.to_le_bytes());
        assert_eq!(bytes[24..28], 1u32.to_le_bytes());
        assert_eq!(bytes[28..32], 500_000u32.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(frames(&path), [b"one".to_vec(), b"second".to_vec()]);
        std::fs::remove_file(path).unwrap();
    }
}
