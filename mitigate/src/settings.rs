//! Typed mitigation settings, built from the config's `mitigation` section.

use ipnet::IpNet;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The four escalation levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// FlowSpec rate-limit of the attack's narrowest signature.
    L1 = 1,
    /// FlowSpec discard of the attack's protocol and ports.
    L2 = 2,
    /// RTBH of the victim's /32 or /128.
    L3 = 3,
    /// Diversion to scrubbing: the covering prefix announced to the scrubbing peer.
    L4 = 4,
}

impl Level {
    /// All levels, lowest first.
    pub const ALL: [Level; 4] = [Level::L1, Level::L2, Level::L3, Level::L4];

    /// 1 to 4.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The level numbered 1 to 4.
    pub fn from_number(n: u8) -> Option<Level> {
        Level::ALL.get(usize::from(n).checked_sub(1)?).copied()
    }

    /// Index into per-level arrays.
    pub fn index(self) -> usize {
        self as usize - 1
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "L{}", self.number())
    }
}

/// A set of levels: the routes an adapter or a BGP peer carries (`levels: [l1, l2, l3]`
/// in the config), and the levels a route belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Levels(u8);

impl Levels {
    /// Every level.
    pub const ALL: Levels = Levels(0b1111);
    /// No level.
    pub const NONE: Levels = Levels(0);

    /// The set of one level.
    pub fn of(l: Level) -> Levels {
        Levels(1 << l.index())
    }

    /// The set with `l` added.
    pub fn with(self, l: Level) -> Levels {
        Levels(self.0 | Levels::of(l).0)
    }

    /// Whether `l` is in the set.
    pub fn contains(self, l: Level) -> bool {
        self.0 & Levels::of(l).0 != 0
    }

    /// Whether the sets share a level.
    pub fn intersects(self, other: Levels) -> bool {
        self.0 & other.0 != 0
    }

    /// The levels in both sets.
    pub fn and(self, other: Levels) -> Levels {
        Levels(self.0 & other.0)
    }

    /// The levels in either set.
    pub fn or(self, other: Levels) -> Levels {
        Levels(self.0 | other.0)
    }

    /// The set of the levels whose bits (L1 is bit 0) are set.
    pub fn from_bits(bits: u8) -> Levels {
        Levels(bits & Levels::ALL.0)
    }

    /// The set as bits (L1 is bit 0), as the BGP speaker's export groups take it.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// The levels of a route: its mitigation's level, or for a route an operator gave
    /// as text, the levels that announce its kind (FlowSpec: L1 and L2; unicast with
    /// BLACKHOLE: L3; other unicast: L4).
    pub fn of_route(level: Option<Level>, route: &levee_bgp::rib::RouteText) -> Levels {
        use levee_bgp::rib::Nlri;
        match (level, &route.nlri) {
            (Some(l), _) => Levels::of(l),
            (None, Nlri::Flow(_)) => Levels::of(Level::L1).with(Level::L2),
            (None, Nlri::Unicast(_))
                if route
                    .attrs
                    .communities
                    .contains(&levee_bgp::update::attr::community::BLACKHOLE) =>
            {
                Levels::of(Level::L3)
            }
            (None, Nlri::Unicast(_)) => Levels::of(Level::L4),
        }
    }
}

impl Levels {
    /// The levels' config names, lowest first (`["l1", "l4"]`).
    pub fn names(self) -> Vec<String> {
        Level::ALL
            .iter()
            .filter(|l| self.contains(**l))
            .map(|l| format!("l{}", l.number()))
            .collect()
    }
}

/// As its text: `"l1, l2"` (or `"none"`).
impl serde::Serialize for Levels {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Levels {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Levels, D::Error> {
        let text = String::deserialize(d)?;
        text.split(',')
            .map(str::trim)
            .filter(|n| *n != "none")
            .try_fold(Levels::NONE, |acc, n| {
                n.strip_prefix('l')
                    .and_then(|x| x.parse().ok())
                    .and_then(Level::from_number)
                    .map(|l| acc.with(l))
                    .ok_or_else(|| serde::de::Error::custom(format!("not a level: {n:?}")))
            })
    }
}

impl std::fmt::Display for Levels {
    /// `l1, l2, l3, l4` (or `none`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = self.names();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(", "))
        }
    }
}

/// The metric a level's trigger compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Bits per second.
    Bps,
    /// Packets per second.
    Pps,
}

/// "Attack above this rate".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// Bits or packets per second.
    pub metric: Metric,
    /// The rate.
    pub value: u64,
}

impl Trigger {
    /// Whether a rate (pps, bps) is above the trigger.
    pub fn fires(&self, pps: u64, bps: u64) -> bool {
        match self.metric {
            Metric::Bps => bps > self.value,
            Metric::Pps => pps > self.value,
        }
    }
}

/// One rung of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelSettings {
    /// Whether the level is used at all.
    pub enabled: bool,
    /// When it applies.
    pub trigger: Trigger,
    /// Escalation hold-down: how long (µs) the rate must stay above the trigger before
    /// the level is taken.
    pub hold_us: u64,
}

/// Attributes of the unicast routes of L3 (RTBH) or L4 (scrubbing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnicastAttrs {
    /// Communities besides BLACKHOLE (which L3 always carries).
    pub communities: Vec<u32>,
    /// Large communities.
    pub large_communities: Vec<[u32; 3]>,
    /// Add NO_EXPORT.
    pub no_export: bool,
    /// Next hop for IPv4 routes (`None`: the speaker's own address).
    pub next_hop_v4: Option<Ipv4Addr>,
    /// Next hop for IPv6 routes.
    pub next_hop_v6: Option<Ipv6Addr>,
}

/// A protected network group's ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladder {
    /// L1 to L4.
    pub levels: [LevelSettings; 4],
    /// The L1 rate-limit, in bits per second.
    pub rate_limit_bps: u64,
    /// RTBH attributes (L3).
    pub rtbh: UnicastAttrs,
    /// Scrubbing diversion attributes (L4).
    pub scrubbing: UnicastAttrs,
    /// The covering prefix length L4 announces for an IPv4 victim.
    pub scrub_len_v4: u8,
    /// The covering prefix length L4 announces for an IPv6 victim.
    pub scrub_len_v6: u8,
}

impl Default for Ladder {
    /// The defaults: 100 Mbps, 500 Mbps, 2 Gbps, 5 Gbps; L1 limits to 10 Mbps;
    /// L3 waits 5 s and L4 10 s above their triggers.
    fn default() -> Self {
        let bps = |value, hold_s: u64, enabled| LevelSettings {
            enabled,
            trigger: Trigger {
                metric: Metric::Bps,
                value,
            },
            hold_us: hold_s * 1_000_000,
        };
        Ladder {
            levels: [
                bps(100_000_000, 0, true),
                bps(500_000_000, 0, true),
                bps(2_000_000_000, 5, true),
                bps(5_000_000_000, 10, true),
            ],
            rate_limit_bps: 10_000_000,
            rtbh: UnicastAttrs::default(),
            scrubbing: UnicastAttrs::default(),
            scrub_len_v4: 24,
            scrub_len_v6: 48,
        }
    }
}

impl Ladder {
    /// The settings of one level.
    pub fn level(&self, l: Level) -> &LevelSettings {
        &self.levels[l.index()]
    }
}

/// A protected network as the mitigation engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Name.
    pub name: String,
    /// Prefixes.
    pub prefixes: Vec<IpNet>,
    /// Its ladder.
    pub ladder: Ladder,
}

/// The longest a route may be asked to live (30 days): every TTL, from the config, the
/// command line or the control socket, is checked against it, so none wraps or
/// overflows an expiry.
pub const MAX_TTL_US: u64 = 30 * 24 * 3600 * 1_000_000;

/// Whether an asked-for TTL (µs) is from 1 s to [`MAX_TTL_US`].
pub fn valid_ttl_us(us: u64) -> bool {
    (1_000_000..=MAX_TTL_US).contains(&us)
}

/// Everything the engine is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Monitor mode: decide and log, announce nothing.
    pub dry_run: bool,
    /// Rule lifetime after the attack was last seen (µs).
    pub ttl_us: u64,
    /// After a victim's mitigation is withdrawn, automatic mitigation of it waits this
    /// long (µs), so a withdrawal (an operator's above all) is not undone at once.
    pub cooldown_us: u64,
    /// De-escalation hold-down: how long (µs) the rate must stay below the current
    /// level's trigger before stepping down.
    pub deescalate_after_us: u64,
    /// Cap on active mitigations (routes) in total.
    pub max_active: usize,
    /// Cap on active mitigations per protected network.
    pub max_active_per_network: usize,
    /// Prefixes never mitigated.
    pub safelist: Vec<IpNet>,
    /// Protected networks with their ladders.
    pub networks: Vec<Network>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            dry_run: false,
            ttl_us: 300_000_000,
            cooldown_us: 60_000_000,
            deescalate_after_us: 60_000_000,
            max_active: 1000,
            max_active_per_network: 200,
            safelist: Vec::new(),
            networks: Vec::new(),
        }
    }
}
