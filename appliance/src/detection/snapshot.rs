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
//! What is put back: each network's baseline when a network of the same name still has
//! the same prefixes (a fingerprint per network); each IP's baseline when the IP is
//! still inside a protected network (whichever). Ignored as a whole, with a log line
//! saying why: a snapshot older than the baseline window (300 s: every sample in it
//! would have rotated out), one larger than [`MAX_FILE_BYTES`], and a corrupt or
//! truncated one (a SHA-256 trailer over the whole file; then every record is checked
//! before any is applied).
//!
//! Cost: at 1M tracked IPs the encoding reads about 0.6 GB of baselines, far too long
//! for one go on the detection thread (docs/PERFORMANCE.md), so the live loop encodes
//! [`Encoder::step`] by step, a slice of the host table per tick; the checksum
//! ([`Encoded::seal`]) and the write are done by a thread of its own. Past [`MAX_FILE_BYTES`] the remaining IPs are left out and
//! counted ([`Encoded::left_out`]). Restoring decodes straight into the engine.
//!
//! Format, version 2, integers little-endian:
//! ```text
//! "LEVEEBSN" | version u16 | written_at_us u64
//! networks u32 | { name_len u16, name, prefixes_fingerprint [32], series }*
//! hosts u32    | { 4 or 6 u8, address [4|16], series }*
//! sha256 [32] of everything before
//! series: samples u16 (<= 300) | runs u16 | { run u8 (1..=255), pps code u8, bps code u8 }*
//! ```
//! Samples are the baselines' one-byte logarithmic codes, oldest first, run-length
//! encoded (quiet seconds are runs of zeros). A version 1 file (one fingerprint for all
//! networks) is refused; the baselines then warm up once.
//!
//! The file is written 0600 to a temporary name, synced, and renamed over the old one.

use levee_detect::Engine;
use levee_detect::NetworkConfig;
use levee_detect::baseline::{Baseline, SAMPLES};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"LEVEEBSN";
const VERSION: u16 = 2;
/// A snapshot older than this is ignored: the baseline window.
pub const MAX_AGE_US: u64 = SAMPLES as u64 * 1_000_000;
/// The largest snapshot written or read: 512 MiB, room for 1M IPs averaging 530 bytes
/// (a quiet IP takes a few runs; one whose every second differs, 921 bytes).
pub const MAX_FILE_BYTES: usize = 512 << 20;
/// Bytes one IP takes at most: family, IPv6 address, the series' counts, 300 runs.
const MAX_HOST_BYTES: usize = 1 + 16 + 4 + 3 * SAMPLES;

/// The snapshot file beside the store database.
pub fn path_beside(store: &Path) -> PathBuf {
    store.with_file_name("baselines.snap")
}

/// Each protected network's name and the fingerprint of its prefixes.
pub type Fingerprints = Vec<(String, [u8; 32])>;

/// What identifies each protected network a snapshot was made for: its name, and
/// SHA-256 over its name and prefixes (in config order).
pub fn fingerprints(networks: &[NetworkConfig]) -> Fingerprints {
    networks
        .iter()
        .map(|n| {
            let mut h = Sha256::new();
            h.update(n.name.as_bytes());
            h.update([0]);
            for p in &n.prefixes {
                h.update(p.to_string().as_bytes());
                h.update([b',']);
            }
            (n.name.clone(), h.finalize().into())
        })
        .collect()
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
    /// Larger than [`MAX_FILE_BYTES`].
    #[error("snapshot is {bytes} bytes, more than the {max} bytes levee reads")]
    TooLarge {
        /// Its size.
        bytes: u64,
        /// The cap.
        max: usize,
    },
}

/// A snapshot being encoded, a slice of the host table at a time.
#[derive(Debug)]
pub struct Encoder {
    out: Vec<u8>,
    count_at: usize,
    hosts: u32,
    /// The next host-table slot to encode.
    next: usize,
    left_out: u64,
    max_bytes: usize,
}

/// A finished snapshot.
#[derive(Debug)]
pub struct Encoded {
    /// The file's bytes, without the checksum until [`Encoded::seal`] (which hashes
    /// the whole file: a writer thread's work, not the detection thread's).
    pub bytes: Vec<u8>,
    /// IPs saved.
    pub hosts: u32,
    /// IPs with a baseline left out because the file reached its size cap.
    pub left_out: u64,
}

impl Encoder {
    /// Starts a snapshot at `now_us`: the header and the networks' baselines
    /// (`networks`: the fingerprints of the engine's protected networks). The file
    /// will hold at most `max_bytes`.
    pub fn start(engine: &Engine, networks: &Fingerprints, now_us: u64, max_bytes: usize) -> Self {
        let mut out = Vec::with_capacity(1 << 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&now_us.to_le_bytes());
        let nets: Vec<_> = engine
            .network_baselines()
            .filter_map(|(name, b)| {
                let (_, fp) = networks.iter().find(|(n, _)| n == name)?;
                Some((name, fp, b))
            })
            .collect();
        out.extend_from_slice(&(nets.len() as u32).to_le_bytes());
        for (name, fp, b) in nets {
            let name = &name.as_bytes()[..name.len().min(usize::from(u16::MAX))];
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name);
            out.extend_from_slice(fp);
            series(&mut out, b);
        }
        let count_at = out.len();
        out.extend_from_slice(&0u32.to_le_bytes());
        Encoder {
            out,
            count_at,
            hosts: 0,
            next: 0,
            left_out: 0,
            max_bytes,
        }
    }

    /// Encodes up to `max_hosts` more slots of the host table. True when the table's
    /// end is reached.
    pub fn step(&mut self, engine: &Engine, max_hosts: usize) -> bool {
        let mut seen = 0;
        for (ip, b) in engine.host_baselines_from(self.next).take(max_hosts) {
            seen += 1;
            if b.is_silent() {
                continue;
            }
            if self.out.len() + MAX_HOST_BYTES + 32 > self.max_bytes {
                self.left_out += 1;
                continue;
            }
            match ip {
                IpAddr::V4(a) => {
                    self.out.push(4);
                    self.out.extend_from_slice(&a.octets());
                }
                IpAddr::V6(a) => {
                    self.out.push(6);
                    self.out.extend_from_slice(&a.octets());
                }
            }
            series(&mut self.out, b);
            self.hosts += 1;
        }
        self.next += seen;
        seen < max_hosts
    }

    /// The file's bytes with its host count; [`Encoded::seal`] adds the checksum.
    pub fn finish(mut self) -> Encoded {
        let at = self.count_at;
        self.out[at..at + 4].copy_from_slice(&self.hosts.to_le_bytes());
        Encoded {
            bytes: self.out,
            hosts: self.hosts,
            left_out: self.left_out,
        }
    }
}

impl Encoded {
    /// Appends the checksum: the file is complete.
    pub fn seal(mut self) -> Encoded {
        let digest: [u8; 32] = Sha256::digest(&self.bytes).into();
        self.bytes.extend_from_slice(&digest);
        self
    }
}

/// The engine's baselines encoded in one go and sealed (at shutdown, and in tests).
pub fn encode(engine: &Engine, networks: &Fingerprints, now_us: u64) -> Encoded {
    let mut e = Encoder::start(engine, networks, now_us, MAX_FILE_BYTES);
    while !e.step(engine, usize::MAX) {}
    e.finish().seal()
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

/// What a restore put back and left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// When the snapshot was written (µs since the epoch).
    pub written_at_us: u64,
    /// Network baselines put back.
    pub networks: usize,
    /// Network baselines left out: the network is gone or its prefixes changed.
    pub networks_changed: usize,
    /// IP baselines put back.
    pub hosts: usize,
    /// IP baselines left out: no longer protected, or the table is full.
    pub hosts_left_out: usize,
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
    /// One series' codes, into `codes` (reused from one series to the next).
    fn series(&mut self, codes: &mut Vec<(u8, u8)>) -> Result<(), SnapshotError> {
        codes.clear();
        let samples = usize::from(self.u16()?);
        if samples > SAMPLES {
            return Err(SnapshotError::Corrupt("more samples than a baseline holds"));
        }
        let runs = self.u16()?;
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
        Ok(())
    }
}

/// One record of a snapshot, as [`walk`] meets it.
enum Item<'a> {
    Network(&'a str, &'a [u8], &'a [(u8, u8)]),
    Host(IpAddr, &'a [(u8, u8)]),
}

/// Checks the snapshot's frame (magic, checksum, version, age) and hands each record to
/// `visit`, in order; an error stops it. Returns when it was written.
fn walk(bytes: &[u8], now_us: u64, mut visit: impl FnMut(Item)) -> Result<u64, SnapshotError> {
    if bytes.len() < MAGIC.len() + 2 + 8 + 4 + 4 + 32 || &bytes[..8] != MAGIC {
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
    let mut codes = Vec::with_capacity(SAMPLES);
    for _ in 0..c.u32()? {
        let len = usize::from(c.u16()?);
        let name = std::str::from_utf8(c.take(len)?)
            .map_err(|_| SnapshotError::Corrupt("network name"))?;
        let fp = c.take(32)?;
        c.series(&mut codes)?;
        visit(Item::Network(name, fp, &codes));
    }
    for _ in 0..c.u32()? {
        let ip = match c.u8()? {
            4 => IpAddr::from(<[u8; 4]>::try_from(c.take(4)?).unwrap_or_default()),
            6 => IpAddr::from(<[u8; 16]>::try_from(c.take(16)?).unwrap_or_default()),
            _ => return Err(SnapshotError::Corrupt("address family")),
        };
        c.series(&mut codes)?;
        visit(Item::Host(ip, &codes));
    }
    if !c.0.is_empty() {
        return Err(SnapshotError::Corrupt("trailing bytes"));
    }
    Ok(written_at_us)
}

/// Checks a snapshot whole, then puts its baselines into the engine (see the module
/// overview for what goes back); `networks`: the fingerprints of the engine's protected
/// networks. On error the engine is left as it was.
pub fn restore(
    engine: &mut Engine,
    bytes: &[u8],
    networks: &Fingerprints,
    now_us: u64,
) -> Result<Restored, SnapshotError> {
    walk(bytes, now_us, |_| {})?;
    let mut done = Restored::default();
    let written_at_us = walk(bytes, now_us, |item| match item {
        Item::Network(name, fp, codes) => {
            let same = networks.iter().any(|(n, f)| n == name && f[..] == *fp);
            let put =
                same && Baseline::restore(codes).is_some_and(|b| engine.restore_network(name, b));
            match put {
                true => done.networks += 1,
                false => done.networks_changed += 1,
            }
        }
        Item::Host(ip, codes) => {
            match Baseline::restore(codes).is_some_and(|b| engine.restore_host(ip, b)) {
                true => done.hosts += 1,
                false => done.hosts_left_out += 1,
            }
        }
    })?;
    done.written_at_us = written_at_us;
    Ok(done)
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

/// Reads the snapshot at `path` (at most [`MAX_FILE_BYTES`]). `Ok(None)`: there is none.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>, SnapshotError> {
    let io = |source| SnapshotError::Io {
        path: path.display().to_string(),
        source,
    };
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io(source)),
    };
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > MAX_FILE_BYTES {
        let bytes = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
        return Err(SnapshotError::TooLarge {
            bytes,
            max: MAX_FILE_BYTES,
        });
    }
    Ok(Some(bytes))
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

    fn engine_for(nets: Vec<NetworkConfig>, now_us: u64) -> Engine {
        let cfg = EngineConfig {
            networks: nets,
            ..EngineConfig::default()
        };
        Engine::new(cfg, now_us, 2, 1)
    }

    /// An engine whose two hosts and network learned 40 s of traffic.
    fn learned() -> Engine {
        let mut e = engine_for(networks("203.0.113.0/24"), T0);
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

    fn hosts(e: &Engine) -> Vec<(IpAddr, Vec<(u8, u8)>)> {
        let mut v: Vec<_> = e.host_baselines().map(|(ip, b)| (ip, codes(b))).collect();
        v.sort();
        v
    }

    #[test]
    fn round_trip_keeps_every_baseline() {
        let e = learned();
        let fp = fingerprints(&networks("203.0.113.0/24"));
        let enc = encode(&e, &fp, T0 + 40_000_000);
        assert_eq!((enc.hosts, enc.left_out), (2, 0));
        let mut fresh = engine_for(networks("203.0.113.0/24"), T0 + 60_000_000);
        let done = restore(&mut fresh, &enc.bytes, &fp, T0 + 60_000_000).unwrap();
        assert_eq!(
            done,
            Restored {
                written_at_us: T0 + 40_000_000,
                networks: 1,
                networks_changed: 0,
                hosts: 2,
                hosts_left_out: 0,
            }
        );
        assert_eq!(hosts(&fresh), hosts(&e));
        assert!(hosts(&e).iter().all(|(_, c)| c.len() == 40));
        let net = |e: &Engine| codes(e.network_baselines().next().unwrap().1);
        assert_eq!(net(&fresh), net(&e));
        // Encoded a slot at a time, the same bytes.
        let mut step = Encoder::start(&e, &fp, T0 + 40_000_000, MAX_FILE_BYTES);
        let mut steps = 0;
        while !step.step(&e, 1) {
            steps += 1;
        }
        assert_eq!(steps, 2);
        assert_eq!(step.finish().seal().bytes, enc.bytes);
    }

    /// Changed protected networks keep what still applies: a network's baseline only
    /// under the same name and prefixes, an IP's while it is still protected.
    #[test]
    fn changed_networks_restore_what_is_still_protected() {
        let e = learned();
        let fp = fingerprints(&networks("203.0.113.0/24"));
        let bytes = encode(&e, &fp, T0).bytes;
        // The network now also holds 198.51.100.0/24: its own baseline starts over, the
        // IPs in it keep theirs.
        let wider = vec![NetworkConfig {
            prefixes: vec![
                "203.0.113.0/24".parse().unwrap(),
                "198.51.100.0/24".parse().unwrap(),
            ],
            ..networks("203.0.113.0/24").remove(0)
        }];
        let mut fresh = engine_for(wider.clone(), T0);
        let done = restore(&mut fresh, &bytes, &fingerprints(&wider), T0).unwrap();
        assert_eq!(
            (done.networks, done.networks_changed, done.hosts),
            (0, 1, 2)
        );
        assert_eq!(hosts(&fresh), hosts(&e));
        assert_eq!(fresh.network_baselines().next().unwrap().1.samples(), 0);
        // Narrowed to one IP's /32, under another name: that IP alone comes back.
        let narrow = vec![NetworkConfig {
            name: "one".into(),
            ..networks("203.0.113.1/32").remove(0)
        }];
        let mut fresh = engine_for(narrow.clone(), T0);
        let done = restore(&mut fresh, &bytes, &fingerprints(&narrow), T0).unwrap();
        assert_eq!(
            (
                done.networks,
                done.networks_changed,
                done.hosts,
                done.hosts_left_out
            ),
            (0, 1, 1, 1)
        );
        let kept = hosts(&fresh);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0], hosts(&e)[0]);
        // Unchanged prefixes under a new config order elsewhere: the network comes back.
        let mut more = networks("203.0.113.0/24");
        more.insert(
            0,
            NetworkConfig {
                name: "other".into(),
                ..networks("192.0.2.0/24").remove(0)
            },
        );
        let mut fresh = engine_for(more.clone(), T0);
        let done = restore(&mut fresh, &bytes, &fingerprints(&more), T0).unwrap();
        assert_eq!((done.networks, done.hosts), (1, 2));
    }

    #[test]
    fn stale_and_damaged_snapshots_are_refused_and_change_nothing() {
        let e = learned();
        let fp = fingerprints(&networks("203.0.113.0/24"));
        let bytes = encode(&e, &fp, T0).bytes;
        let mut fresh = engine_for(networks("203.0.113.0/24"), T0);
        assert!(matches!(
            restore(&mut fresh, &bytes, &fp, T0 + MAX_AGE_US + 1),
            Err(SnapshotError::Stale { .. })
        ));
        for cut in [0, 7, 20, bytes.len() / 2, bytes.len() - 1] {
            assert!(matches!(
                restore(&mut fresh, &bytes[..cut], &fp, T0),
                Err(SnapshotError::Corrupt(_))
            ));
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(restore(&mut fresh, &bad, &fp, T0).is_err(), "byte {i}");
        }
        assert_eq!(fresh.stats().tracked, 0);
    }

    /// Bodies that pass the checksum but lie inside (a hostile or buggy writer) are
    /// refused without panicking, and nothing of them is applied.
    #[test]
    fn hostile_bodies_with_valid_checksums_do_not_panic() {
        let fp = fingerprints(&networks("0.0.0.0/0"));
        let mut fresh = engine_for(networks("0.0.0.0/0"), T0);
        let mut rnd = levee_testkit::Rng::new(99);
        let mut refused = 0;
        for _ in 0..2000 {
            let mut body = Vec::new();
            body.extend_from_slice(MAGIC);
            body.extend_from_slice(&VERSION.to_le_bytes());
            body.extend_from_slice(&T0.to_le_bytes());
            let n = (rnd.next_u64() % 96) as usize;
            body.extend((0..n).map(|_| rnd.next_u64() as u8));
            let digest: [u8; 32] = Sha256::digest(&body).into();
            body.extend_from_slice(&digest);
            let before = fresh.stats().tracked;
            if restore(&mut fresh, &body, &fp, T0).is_err() {
                refused += 1;
                assert_eq!(fresh.stats().tracked, before);
            }
        }
        assert!(refused > 1900, "{refused}");
    }

    /// Past the size cap the remaining IPs are left out and counted; the file is still
    /// whole and restores.
    #[test]
    fn the_size_cap_leaves_out_and_counts() {
        let e = learned();
        let fp = fingerprints(&networks("203.0.113.0/24"));
        // Room for the header, the network and one worst-case IP.
        let cap = Encoder::start(&e, &fp, T0, MAX_FILE_BYTES).out.len() + MAX_HOST_BYTES + 32;
        let mut enc = Encoder::start(&e, &fp, T0, cap);
        assert!(enc.step(&e, 100));
        let enc = enc.finish().seal();
        assert_eq!((enc.hosts, enc.left_out), (1, 1));
        assert!(enc.bytes.len() <= cap);
        let mut fresh = engine_for(networks("203.0.113.0/24"), T0);
        let done = restore(&mut fresh, &enc.bytes, &fp, T0).unwrap();
        assert_eq!(done.hosts, 1);
    }

    #[test]
    fn written_atomically_and_private() {
        let dir = std::env::temp_dir().join(format!("levee-snap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = path_beside(&dir.join("levee.db"));
        assert_eq!(path, dir.join("baselines.snap"));
        let fp = fingerprints(&networks("203.0.113.0/24"));
        assert!(read(&path).unwrap().is_none());
        let e = learned();
        write(&path, &encode(&e, &fp, T0).bytes).unwrap();
        write(&path, &encode(&e, &fp, T0 + 1).bytes).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!path.with_extension("snap.tmp").exists());
        let bytes = read(&path).unwrap().unwrap();
        let mut fresh = engine_for(networks("203.0.113.0/24"), T0);
        let done = restore(&mut fresh, &bytes, &fp, T0 + 2).unwrap();
        assert_eq!(done.written_at_us, T0 + 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The cost at 1M tracked IPs with varied baselines: encoding (in the live loop's
    /// slices), writing, reading and restoring, and the file's size. A measurement, not
    /// a check; the figures are in docs/PERFORMANCE.md with the command that prints them.
    #[test]
    #[ignore = "a measurement: 1M IPs, about 2 GB of memory"]
    fn cost_at_1m_ips() {
        use std::time::Instant;
        const IPS: u32 = 1_000_000;
        const SLICE: usize = 5_000;
        let nets = networks("10.0.0.0/8");
        let fp = fingerprints(&nets);
        let mut e = engine_for(nets.clone(), T0);
        // 60 % quiet (traffic one second in ten, one rate), 30 % steady (a rate that
        // moves between three codes), 10 % busy (every second a different code).
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut codes = Vec::with_capacity(SAMPLES);
        for i in 0..IPS {
            codes.clear();
            let kind = rnd() % 10;
            let base = 40 + (rnd() % 120) as u8;
            for s in 0..SAMPLES {
                let r = rnd();
                codes.push(match kind {
                    0..=5 if s % 10 != 0 => (0, 0),
                    0..=5 => (base, base + 60),
                    6..=8 => {
                        let c = base + (r % 3) as u8;
                        (c, c + 60)
                    }
                    _ => ((r % 200) as u8 + 1, (r >> 8) as u8 | 1),
                });
            }
            let ip = IpAddr::from((0x0a00_0000u32 + i).to_be_bytes());
            assert!(e.restore_host(ip, Baseline::restore(&codes).unwrap()));
        }
        let t = Instant::now();
        let mut enc = Encoder::start(&e, &fp, T0, MAX_FILE_BYTES);
        let mut slices = vec![t.elapsed()];
        loop {
            let s = Instant::now();
            let end = enc.step(&e, SLICE);
            slices.push(s.elapsed());
            if end {
                break;
            }
        }
        let s = Instant::now();
        let done = enc.finish();
        slices.push(s.elapsed());
        let encode_total = t.elapsed();
        // On the writer thread in the live loop.
        let s = Instant::now();
        let done = done.seal();
        let seal_t = s.elapsed();
        let slice_max = slices.iter().max().copied().unwrap_or_default();
        drop(e);
        eprintln!(
            "snapshot at 1M IPs: {} bytes, {} IPs saved, {} left out; encode {:?} in all, \
             {} slices of {SLICE} slots, the longest {:?}; checksum {:?}",
            done.bytes.len(),
            done.hosts,
            done.left_out,
            encode_total,
            slices.len(),
            slice_max,
            seal_t,
        );
        // LEVEE_SNAP_DIR: where to write it (the temporary directory by default).
        let dir = std::env::var_os("LEVEE_SNAP_DIR")
            .map_or_else(std::env::temp_dir, std::path::PathBuf::from)
            .join(format!("levee-snap-1m-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("baselines.snap");
        let t = Instant::now();
        write(&path, &done.bytes).unwrap();
        let write_t = t.elapsed();
        let t = Instant::now();
        let bytes = read(&path).unwrap().unwrap();
        let read_t = t.elapsed();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut fresh = engine_for(nets, T0);
        let t = Instant::now();
        let restored = restore(&mut fresh, &bytes, &fp, T0).unwrap();
        let restore_t = t.elapsed();
        eprintln!(
            "snapshot at 1M IPs: write {:?}; read {:?}; check + restore {:?} ({} IPs)",
            write_t, read_t, restore_t, restored.hosts,
        );
        assert_eq!(restored.hosts as u32 + done.left_out as u32, IPS);
    }
}
