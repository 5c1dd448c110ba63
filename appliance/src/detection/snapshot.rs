//! Warm restarts: the detection engine's baselines saved to a file beside the store
//! (`<store dir>/baselines.snap`) every minute and at shutdown, and put back at start,
//! so a restart does not fall back to the 300 s warm-up.
//!
//! What is saved: the baseline of every protected network and of every tracked IP that
//! has learned any non-zero second (an IP whose samples are all zero tells nothing its
//! warm-up thresholds do not). Not saved: open incidents and their evidence (sources,
//! heavy hitters, TTLs). An attack still going at the restart is detected again within
//! half a second of the new process's first records, against the restored baseline; the
//! mitigation service keeps its routes in the store and re-announces them itself, so
//! nothing is lost by starting the incident over, and evidence from before the stop
//! would describe traffic the new process has not seen.
//!
//! Ignored, with a log line saying why: a snapshot older than the baseline window
//! (300 s: every sample in it would have rotated out), one made for other protected
//! networks (a fingerprint of their names and prefixes), and a corrupt or truncated one
//! (a SHA-256 trailer over the whole file).
//!
//! Format, version 1, integers little-endian:
//! ```text
//! "LEVEEBSN" | version u16 | written_at_us u64 | fingerprint [32]
//! networks u32 | { name_len u16, name, series }*
//! hosts u32    | { 4 or 6 u8, address [4|16], series }*
//! sha256 [32] of everything before
//! series: samples u16 (<= 300) | runs u16 | { run u8 (1..=255), pps code u8, bps code u8 }*
//! ```
//! Samples are the baselines' one-byte logarithmic codes, oldest first, run-length
//! encoded (quiet seconds are runs of zeros).
//!
//! The file is written 0600 to a temporary name, synced, and renamed over the old one.

use levee_detect::Engine;
use levee_detect::NetworkConfig;
use levee_detect::baseline::{Baseline, SAMPLES};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"LEVEEBSN";
const VERSION: u16 = 1;
/// A snapshot older than this is ignored: the baseline window.
pub const MAX_AGE_US: u64 = SAMPLES as u64 * 1_000_000;

/// The snapshot file beside the store database.
pub fn path_beside(store: &Path) -> PathBuf {
    store.with_file_name("baselines.snap")
}

/// What identifies the protected networks a snapshot was made for: SHA-256 over their
/// names and prefixes, in config order.
pub fn fingerprint(networks: &[NetworkConfig]) -> [u8; 32] {
    let mut h = Sha256::new();
    for n in networks {
        h.update(n.name.as_bytes());
        h.update([0]);
        for p in &n.prefixes {
            h.update(p.to_string().as_bytes());
            h.update([b',']);
        }
        h.update([b'\n']);
    }
    h.finalize().into()
}

/// Why a snapshot was not used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not a snapshot, or damaged.
    #[error("corrupt snapshot: {0}")]
    Corrupt(&'static str),
    /// Written by another version of levee.
    #[error("snapshot version {0}, this levee reads version {VERSION}")]
    Version(u16),
    /// Older than the baseline window.
    #[error("snapshot is {age_s} s old, older than the {max_s} s baseline window")]
    Stale {
        /// Its age.
        age_s: u64,
        /// The window.
        max_s: u64,
    },
    /// Made for other protected networks.
    #[error("snapshot was made for other protected networks")]
    OtherConfig,
}

/// The engine's baselines, encoded (see the module overview).
pub fn encode(engine: &Engine, fingerprint: &[u8; 32], now_us: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&now_us.to_le_bytes());
    out.extend_from_slice(fingerprint);
    let nets: Vec<_> = engine.network_baselines().collect();
    out.extend_from_slice(&(nets.len() as u32).to_le_bytes());
    for (name, b) in nets {
        let name = &name.as_bytes()[..name.len().min(usize::from(u16::MAX))];
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
        series(&mut out, b);
    }
    let count_at = out.len();
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut hosts = 0u32;
    for (ip, b) in engine.host_baselines() {
        if b.is_silent() {
            continue;
        }
        match ip {
            IpAddr::V4(a) => {
                out.push(4);
                out.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                out.push(6);
                out.extend_from_slice(&a.octets());
            }
        }
        series(&mut out, b);
        hosts += 1;
    }
    out[count_at..count_at + 4].copy_from_slice(&hosts.to_le_bytes());
    let digest: [u8; 32] = Sha256::digest(&out).into();
    out.extend_from_slice(&digest);
    out
}

fn series(out: &mut Vec<u8>, b: &Baseline) {
    out.extend_from_slice(&(b.samples() as u16).to_le_bytes());
    let runs_at = out.len();
    out.extend_from_slice(&0u16.to_le_bytes());
    let mut runs = 0u16;
    let mut cur: Option<(u8, (u8, u8))> = None;
    for c in b.codes() {
        cur = match cur {
            Some((n, v)) if v == c && n < u8::MAX => Some((n + 1, v)),
            Some((n, v)) => {
                out.extend_from_slice(&[n, v.0, v.1]);
                runs += 1;
                Some((1, c))
            }
            None => Some((1, c)),
        };
    }
    if let Some((n, v)) = cur {
        out.extend_from_slice(&[n, v.0, v.1]);
        runs += 1;
    }
    out[runs_at..runs_at + 2].copy_from_slice(&runs.to_le_bytes());
}

/// A decoded snapshot.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// When it was written (µs since the epoch).
    pub written_at_us: u64,
    /// Network baselines by name.
    pub networks: Vec<(String, Baseline)>,
    /// Host baselines.
    pub hosts: Vec<(IpAddr, Baseline)>,
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if self.0.len() < n {
            return Err(SnapshotError::Corrupt("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, SnapshotError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().unwrap_or_default(),
        ))
    }
    fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
    fn series(&mut self) -> Result<Baseline, SnapshotError> {
        let samples = usize::from(self.u16()?);
        if samples > SAMPLES {
            return Err(SnapshotError::Corrupt("more samples than a baseline holds"));
        }
        let runs = self.u16()?;
        let mut codes = Vec::with_capacity(samples);
        for _ in 0..runs {
            let r = self.take(3)?;
            if r[0] == 0 || codes.len() + usize::from(r[0]) > samples {
                return Err(SnapshotError::Corrupt("sample runs do not add up"));
            }
            codes.extend(std::iter::repeat_n((r[1], r[2]), usize::from(r[0])));
        }
        if codes.len() != samples {
            return Err(SnapshotError::Corrupt("sample runs do not add up"));
        }
        Baseline::restore(&codes).ok_or(SnapshotError::Corrupt("baseline"))
    }
}

/// Decodes a snapshot made for `fingerprint`, refusing one older than
/// [`MAX_AGE_US`] at `now_us`.
pub fn decode(
    bytes: &[u8],
    fingerprint: &[u8; 32],
    now_us: u64,
) -> Result<Snapshot, SnapshotError> {
    if bytes.len() < MAGIC.len() + 2 + 8 + 32 + 4 + 4 + 32 || &bytes[..8] != MAGIC {
        return Err(SnapshotError::Corrupt("not a levee baseline snapshot"));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != digest {
        return Err(SnapshotError::Corrupt("checksum mismatch"));
    }
    let mut c = Cursor(&body[8..]);
    let version = c.u16()?;
    if version != VERSION {
        return Err(SnapshotError::Version(version));
    }
    let written_at_us = c.u64()?;
    let age = now_us.saturating_sub(written_at_us);
    if age > MAX_AGE_US {
        return Err(SnapshotError::Stale {
            age_s: age / 1_000_000,
            max_s: MAX_AGE_US / 1_000_000,
        });
    }
    if c.take(32)? != fingerprint {
        return Err(SnapshotError::OtherConfig);
    }
    let mut snap = Snapshot {
        written_at_us,
        ..Snapshot::default()
    };
    for _ in 0..c.u32()? {
        let len = usize::from(c.u16()?);
        let name = std::str::from_utf8(c.take(len)?)
            .map_err(|_| SnapshotError::Corrupt("network name"))?
            .to_string();
        snap.networks.push((name, c.series()?));
    }
    for _ in 0..c.u32()? {
        let ip = match c.u8()? {
            4 => IpAddr::from(<[u8; 4]>::try_from(c.take(4)?).unwrap_or_default()),
            6 => IpAddr::from(<[u8; 16]>::try_from(c.take(16)?).unwrap_or_default()),
            _ => return Err(SnapshotError::Corrupt("address family")),
        };
        snap.hosts.push((ip, c.series()?));
    }
    if !c.0.is_empty() {
        return Err(SnapshotError::Corrupt("trailing bytes"));
    }
    Ok(snap)
}

/// Puts a snapshot's baselines into the engine: (networks, hosts) restored.
pub fn restore(engine: &mut Engine, snap: Snapshot) -> (usize, usize) {
    let nets = snap
        .networks
        .into_iter()
        .filter(|(n, b)| engine.restore_network(n, b.clone()))
        .count();
    let hosts = snap
        .hosts
        .into_iter()
        .filter(|(ip, b)| engine.restore_host(*ip, b.clone()))
        .count();
    (nets, hosts)
}

/// Writes `bytes` to `path` atomically (a 0600 temporary file, synced, renamed over).
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), SnapshotError> {
    let io = |source| SnapshotError::Io {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("snap.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads, checks and decodes the snapshot at `path`. `Ok(None)`: there is none.
pub fn read(
    path: &Path,
    fingerprint: &[u8; 32],
    now_us: u64,
) -> Result<Option<Snapshot>, SnapshotError> {
    match std::fs::read(path) {
        Ok(bytes) => decode(&bytes, fingerprint, now_us).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SnapshotError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use levee_detect::EngineConfig;
    use levee_detect::policy::Policy;

    const T0: u64 = 1_800_000_000_000_000;

    fn networks(prefix: &str) -> Vec<NetworkConfig> {
        vec![NetworkConfig {
            name: "lab".into(),
            prefixes: vec![prefix.parse().unwrap()],
            policy: Policy::default(),
        }]
    }

    /// An engine whose two hosts and network learned 40 s of traffic.
    fn learned() -> Engine {
        let cfg = EngineConfig {
            networks: networks("203.0.113.0/24"),
            ..EngineConfig::default()
        };
        let mut e = Engine::new(cfg, T0, 1, 1);
        let exporter: IpAddr = "192.0.2.1".parse().unwrap();
        for s in 0..40u64 {
            for (dst, n) in [("203.0.113.1", 3u64), ("203.0.113.2", 1 + s % 5)] {
                let mut r = levee_flow::FlowRecord::blank(
                    T0 + s * 1_000_000 + 1000,
                    exporter,
                    levee_flow::FlowType::Sflow,
                );
                r.dst_addr = dst.parse().unwrap();
                r.set_scaled(1000, n, 500 * n);
                e.ingest(&[r]);
            }
            e.tick(T0 + (s + 1) * 1_000_000);
        }
        e
    }

    fn codes(b: &Baseline) -> Vec<(u8, u8)> {
        b.codes().collect()
    }

    #[test]
    fn round_trip_keeps_every_baseline() {
        let e = learned();
        let fp = fingerprint(&networks("203.0.113.0/24"));
        let bytes = encode(&e, &fp, T0 + 40_000_000);
        let snap = decode(&bytes, &fp, T0 + 60_000_000).unwrap();
        assert_eq!(snap.hosts.len(), 2);
        for (ip, b) in e.host_baselines() {
            let (_, got) = snap.hosts.iter().find(|(a, _)| *a == ip).unwrap();
            assert_eq!(codes(got), codes(b));
            assert_eq!(got.samples(), 40);
        }
        let (name, net) = &snap.networks[0];
        assert_eq!(name, "lab");
        assert_eq!(codes(net), codes(e.network_baselines().next().unwrap().1));
        // And back into a fresh engine.
        let cfg = EngineConfig {
            networks: networks("203.0.113.0/24"),
            ..EngineConfig::default()
        };
        let mut fresh = Engine::new(cfg, T0 + 60_000_000, 2, 1);
        assert_eq!(restore(&mut fresh, snap), (1, 2));
        assert_eq!(fresh.stats().tracked, 2);
    }

    #[test]
    fn stale_foreign_and_damaged_snapshots_are_refused() {
        let e = learned();
        let fp = fingerprint(&networks("203.0.113.0/24"));
        let bytes = encode(&e, &fp, T0);
        assert!(matches!(
            decode(&bytes, &fp, T0 + MAX_AGE_US + 1),
            Err(SnapshotError::Stale { .. })
        ));
        let other = fingerprint(&networks("198.51.100.0/24"));
        assert!(matches!(
            decode(&bytes, &other, T0),
            Err(SnapshotError::OtherConfig)
        ));
        for cut in [0, 7, 20, bytes.len() / 2, bytes.len() - 1] {
            assert!(matches!(
                decode(&bytes[..cut], &fp, T0),
                Err(SnapshotError::Corrupt(_))
            ));
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(decode(&bad, &fp, T0).is_err(), "byte {i}");
        }
    }

    /// Bodies that pass the checksum but lie inside (a hostile or buggy writer) are
    /// refused without panicking.
    #[test]
    fn hostile_bodies_with_valid_checksums_do_not_panic() {
        let fp = [7u8; 32];
        let mut rnd = levee_testkit::Rng::new(99);
        let mut refused = 0;
        for _ in 0..2000 {
            let mut body = Vec::new();
            body.extend_from_slice(MAGIC);
            body.extend_from_slice(&VERSION.to_le_bytes());
            body.extend_from_slice(&T0.to_le_bytes());
            body.extend_from_slice(&fp);
            let n = (rnd.next_u64() % 64) as usize;
            body.extend((0..n).map(|_| rnd.next_u64() as u8));
            let digest: [u8; 32] = Sha256::digest(&body).into();
            body.extend_from_slice(&digest);
            if decode(&body, &fp, T0).is_err() {
                refused += 1;
            }
        }
        assert!(refused > 1900, "{refused}");
    }

    #[test]
    fn written_atomically_and_private() {
        let dir = std::env::temp_dir().join(format!("levee-snap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = path_beside(&dir.join("levee.db"));
        assert_eq!(path, dir.join("baselines.snap"));
        let fp = fingerprint(&networks("203.0.113.0/24"));
        assert!(read(&path, &fp, T0).unwrap().is_none());
        let e = learned();
        write(&path, &encode(&e, &fp, T0)).unwrap();
        write(&path, &encode(&e, &fp, T0 + 1)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!path.with_extension("snap.tmp").exists());
        let snap = read(&path, &fp, T0 + 2).unwrap().unwrap();
        assert_eq!(snap.written_at_us, T0 + 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
