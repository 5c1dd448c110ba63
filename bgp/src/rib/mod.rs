//! What levee announces: routes (FlowSpec rules and unicast prefixes) with their path
//! attributes, the per-peer Adj-RIB-Out (RFC 4271 §3.2) that remembers what each peer
//! was sent, and the packing of pending changes into UPDATE messages ([`pack`]).
//!
//! Sans-IO like the rest of the crate: the speaker calls [`AdjRibOut::announce`],
//! [`AdjRibOut::withdraw`], [`AdjRibOut::up`] and [`AdjRibOut::refresh`], then
//! [`AdjRibOut::take`] for the framed messages to write.

pub mod pack;
#[cfg(test)]
mod tests;
mod text;

pub use pack::Encoder;
pub use text::{RouteText, TextError};

use crate::codes::Safi;
use crate::flowspec::FlowSpec;
use crate::message::Family;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// A unicast prefix (bits past `len` are zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpPrefix {
    /// The address.
    pub addr: IpAddr,
    /// The length in bits.
    pub len: u8,
}

impl IpPrefix {
    /// The prefix with host bits cleared, or `None` if `len` is too long for the family.
    pub fn new(addr: IpAddr, len: u8) -> Option<IpPrefix> {
        let addr = match addr {
            IpAddr::V4(a) if len <= 32 => {
                let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
                IpAddr::from((u32::from(a) & mask).to_be_bytes())
            }
            IpAddr::V6(a) if len <= 128 => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                IpAddr::from((u128::from(a) & mask).to_be_bytes())
            }
            _ => return None,
        };
        Some(IpPrefix { addr, len })
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// The key of a route: what is reachable (or filtered).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Nlri {
    /// A FlowSpec rule ([`Safi::FLOWSPEC`]).
    Flow(FlowSpec),
    /// A unicast prefix ([`Safi::UNICAST`]), such as an RTBH /32.
    Unicast(IpPrefix),
}

impl Nlri {
    /// The route's AFI/SAFI.
    pub fn family(&self) -> Family {
        match self {
            Nlri::Flow(f) => Family::new(f.afi, Safi::FLOWSPEC),
            Nlri::Unicast(p) if p.addr.is_ipv4() => Family::IPV4_UNICAST,
            Nlri::Unicast(_) => Family::IPV6_UNICAST,
        }
    }

    /// Appends the NLRI's wire form (RFC 4271 §4.3 prefix, or RFC 8955 §4).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), crate::flowspec::Error> {
        match self {
            Nlri::Flow(f) => f.encode(out),
            Nlri::Unicast(p) => {
                out.push(p.len);
                let n = usize::from(p.len).div_ceil(8);
                match p.addr {
                    IpAddr::V4(a) => out.extend_from_slice(&a.octets()[..n]),
                    IpAddr::V6(a) => out.extend_from_slice(&a.octets()[..n]),
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Nlri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Nlri::Flow(r) => write!(f, "{r}"),
            Nlri::Unicast(p) => write!(f, "{p}"),
        }
    }
}

/// Path attributes the caller chooses for a route. ORIGIN, AS_PATH, LOCAL_PREF (iBGP)
/// and the next hop when none is given are filled in per peer by the [`Encoder`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attrs {
    /// Next hop for unicast routes (an RTBH discard address); `None`: our own address.
    /// Ignored for FlowSpec, which carries no next hop (RFC 8955 §5).
    pub next_hop: Option<IpAddr>,
    /// COMMUNITIES (RFC 1997), such as BLACKHOLE 65535:666 (RFC 7999).
    pub communities: Vec<u32>,
    /// LARGE_COMMUNITY values (RFC 8092).
    pub large_communities: Vec<[u32; 3]>,
    /// EXTENDED_COMMUNITIES: FlowSpec actions ([`crate::flowspec::action::Action`]) and
    /// any others.
    pub extended_communities: Vec<[u8; 8]>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF for iBGP peers (default 100).
    pub local_pref: Option<u32>,
}

/// One route change: an announcement (`Some` attributes) or a withdrawal (`None`).
pub type Change = (Nlri, Option<Arc<Attrs>>);

/// Counts of what [`AdjRibOut::take`] produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Taken {
    /// UPDATE messages.
    pub updates: u64,
    /// Routes announced.
    pub announced: u64,
    /// Routes withdrawn.
    pub withdrawn: u64,
    /// Routes that could not be encoded (a rule longer than a message): dropped.
    pub unencodable: u64,
}

/// What one peer has been sent, and what it is still to be sent.
#[derive(Debug, Default)]
pub struct AdjRibOut {
    sent: HashMap<Nlri, Arc<Attrs>>,
    pending: BTreeMap<Nlri, Option<Arc<Attrs>>>,
    families: Vec<Family>,
    /// End-of-RIB still owed per family after the initial table.
    eor: Vec<Family>,
}

impl AdjRibOut {
    /// An empty Adj-RIB-Out for a session that is not up.
    pub fn new() -> Self {
        Self::default()
    }

    /// The session came up with these families: queue every route of `loc` in them,
    /// followed by End-of-RIB for each family (RFC 4724 §2).
    pub fn up<'a>(
        &mut self,
        families: &[Family],
        loc: impl IntoIterator<Item = (&'a Nlri, &'a Arc<Attrs>)>,
    ) {
        self.down();
        self.families = families.to_vec();
        self.eor = families.to_vec();
        for (n, a) in loc {
            if self.families.contains(&n.family()) {
                self.pending.insert(n.clone(), Some(a.clone()));
            }
        }
    }

    /// The session went down: nothing is held by the peer any more.
    pub fn down(&mut self) {
        self.sent.clear();
        self.pending.clear();
        self.families.clear();
        self.eor.clear();
    }

    /// Whether the session is up (families negotiated).
    pub fn is_up(&self) -> bool {
        !self.families.is_empty()
    }

    /// Queues an announcement (ignored for a family the peer did not negotiate).
    pub fn announce(&mut self, nlri: Nlri, attrs: Arc<Attrs>) {
        if !self.families.contains(&nlri.family()) {
            return;
        }
        if self.sent.get(&nlri) == Some(&attrs) {
            // Already there: cancel whatever was pending.
            self.pending.remove(&nlri);
        } else {
            self.pending.insert(nlri, Some(attrs));
        }
    }

    /// Queues a withdrawal (only what the peer was sent is withdrawn on the wire).
    pub fn withdraw(&mut self, nlri: Nlri) {
        if self.sent.contains_key(&nlri) {
            self.pending.insert(nlri, None);
        } else {
            self.pending.remove(&nlri);
        }
    }

    /// Applies a change.
    pub fn apply(&mut self, (nlri, attrs): Change) {
        match attrs {
            Some(a) => self.announce(nlri, a),
            None => self.withdraw(nlri),
        }
    }

    /// The peer asked for a family again (ROUTE-REFRESH, RFC 2918): queue every route
    /// it holds in that family.
    pub fn refresh(&mut self, family: Family) {
        for (n, a) in &self.sent {
            if n.family() == family && !self.pending.contains_key(n) {
                self.pending.insert(n.clone(), Some(a.clone()));
            }
        }
    }

    /// Marks everything the peer holds for withdrawal (graceful shutdown).
    pub fn withdraw_all(&mut self) {
        self.pending.clear();
        for n in self.sent.keys() {
            self.pending.insert(n.clone(), None);
        }
    }

    /// Routes the peer holds.
    pub fn sent_len(&self) -> usize {
        self.sent.len()
    }

    /// Changes not yet sent.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Whether the peer holds this route, and with which attributes.
    pub fn sent(&self, nlri: &Nlri) -> Option<&Arc<Attrs>> {
        self.sent.get(nlri)
    }

    /// Packs every pending change into framed UPDATE messages (withdrawals first, then
    /// announcements grouped by attributes, then any End-of-RIB owed) and records them
    /// as sent. `enc` supplies the session's per-peer encoding.
    pub fn take(&mut self, enc: &Encoder, out: &mut Vec<Vec<u8>>) -> Taken {
        let mut taken = Taken::default();
        if !self.is_up() {
            self.pending.clear();
            return taken;
        }
        let pending = std::mem::take(&mut self.pending);
        let mut withdrawals: BTreeMap<Family, Vec<Nlri>> = BTreeMap::new();
        let mut groups: BTreeMap<(Family, Arc<Attrs>), Vec<Nlri>> = BTreeMap::new();
        for (n, a) in pending {
            match a {
                None => {
                    self.sent.remove(&n);
                    withdrawals.entry(n.family()).or_default().push(n);
                }
                Some(a) => {
                    groups.entry((n.family(), a.clone())).or_default().push(n);
                }
            }
        }
        for (family, list) in withdrawals {
            let (msgs, bad) = pack::withdraw(family, &list);
            taken.withdrawn += (list.len() - bad) as u64;
            taken.unencodable += bad as u64;
            taken.updates += msgs.len() as u64;
            out.extend(msgs);
        }
        for ((family, attrs), list) in groups {
            let (msgs, bad) = enc.announce(family, &attrs, &list);
            taken.announced += (list.len() - bad.len()) as u64;
            taken.unencodable += bad.len() as u64;
            taken.updates += msgs.len() as u64;
            out.extend(msgs);
            for n in list {
                if !bad.contains(&n) {
                    self.sent.insert(n, attrs.clone());
                }
            }
        }
        for family in std::mem::take(&mut self.eor) {
            out.push(pack::end_of_rib(family));
            taken.updates += 1;
        }
        taken
    }
}
