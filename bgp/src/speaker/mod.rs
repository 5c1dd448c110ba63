//! The speaker: a thin tokio driver around the sans-IO [`Session`](crate::session) and
//! [`AdjRibOut`](crate::rib::AdjRibOut), one task per peer.
//!
//! - The Loc-RIB (what levee wants announced) is shared; [`Speaker::apply`] changes it
//!   and queues the change for every peer. A peer that establishes is sent the whole
//!   table for its families, then End-of-RIB; a ROUTE-REFRESH is answered from its
//!   Adj-RIB-Out.
//! - Transport: active (we connect, retrying with backoff) or passive (a shared
//!   listener hands the connection to the peer it comes from); IPv4 or IPv6; TCP MD5
//!   (RFC 2385) and GTSM (RFC 5082) per peer ([`sys`]).
//! - Export groups: each route belongs to a set of [`Groups`] and each peer takes the
//!   routes that share a group with its `export` set (levee puts each escalation level
//!   in its own group, so a scrubbing provider's session gets only the diversion).
//! - Each peer's [`PeerStatus`] is readable at any time; [`Event`]s report state changes.
//! - [`Speaker::set_peers`] reconfigures the peers while running: added ones start,
//!   removed ones end with a Cease / Administrative Shutdown, changed ones with a Cease
//!   / Administrative Reset (RFC 4486, with an RFC 9003 communication) and start again
//!   with their new settings; the others keep their sessions.
//! - [`Speaker::shutdown`] ends every session as [`ShutdownPolicy`] says.

mod listener;
mod peer;
pub mod sys;

use crate::codes::error;
use crate::message::{Family, Notification};
use crate::rib::{Attrs, Change, Nlri};
use crate::session::State;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

/// One peer's settings. Its `Debug` masks the MD5 key.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// A name for logs and status.
    pub name: String,
    /// The peer's address.
    pub address: IpAddr,
    /// The peer's TCP port (179).
    pub port: u16,
    /// Our address to connect from, if it matters.
    pub local_address: Option<IpAddr>,
    /// Our AS.
    pub local_as: u32,
    /// The peer's AS; equal to `local_as` for iBGP.
    pub remote_as: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// Hold time to propose.
    pub hold_time: Duration,
    /// Base connect-retry interval (doubles after each failure, up to 8×).
    pub connect_retry: Duration,
    /// Families to negotiate.
    pub families: Vec<Family>,
    /// Wait for the peer to connect instead of connecting.
    pub passive: bool,
    /// TCP MD5 key (RFC 2385).
    pub md5_password: Option<String>,
    /// GTSM (RFC 5082): the peer is at most this many hops away (1: directly connected).
    pub ttl_security: Option<u8>,
    /// Graceful-restart time to advertise (RFC 4724), if any.
    pub graceful_restart: Option<Duration>,
    /// Drop the session when the peer sends more routes than this (RFC 4486 Cease 1).
    pub max_prefixes: usize,
    /// Next hop for IPv4 unicast routes that name none (default: our session address).
    pub next_hop_v4: Option<Ipv4Addr>,
    /// Next hop for IPv6 unicast routes that name none.
    pub next_hop_v6: Option<std::net::Ipv6Addr>,
    /// The groups of routes this peer is sent ([`Groups::ALL`]: every route).
    pub export: Groups,
}

impl std::fmt::Debug for PeerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerConfig")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("port", &self.port)
            .field("local_address", &self.local_address)
            .field("local_as", &self.local_as)
            .field("remote_as", &self.remote_as)
            .field("router_id", &self.router_id)
            .field("hold_time", &self.hold_time)
            .field("connect_retry", &self.connect_retry)
            .field("families", &self.families)
            .field("passive", &self.passive)
            .field("md5_password", &self.md5_password.as_ref().map(|_| "***"))
            .field("ttl_security", &self.ttl_security)
            .field("graceful_restart", &self.graceful_restart)
            .field("max_prefixes", &self.max_prefixes)
            .field("next_hop_v4", &self.next_hop_v4)
            .field("next_hop_v6", &self.next_hop_v6)
            .field("export", &self.export)
            .finish()
    }
}

/// A set of export groups (bit `i` is group `i`): a route goes to the peers whose
/// `export` set shares a group with the route's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Groups(pub u32);

impl Groups {
    /// Every group.
    pub const ALL: Groups = Groups(u32::MAX);

    /// Whether the two sets share a group.
    pub fn intersects(self, other: Groups) -> bool {
        self.0 & other.0 != 0
    }
}

/// The speaker's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerConfig {
    /// Where to accept connections (passive peers, or peers that connect first).
    pub listen: Option<SocketAddr>,
    /// The peers.
    pub peers: Vec<PeerConfig>,
}

/// How [`Speaker::shutdown`] ends sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShutdownPolicy {
    /// Withdraw every route, then Cease with this shutdown communication (RFC 9003).
    Withdraw(String),
    /// Cease with this shutdown communication; the routes go with the session.
    Cease(String),
    /// Close without a NOTIFICATION: a peer that negotiated graceful restart keeps the
    /// routes until its restart timer runs out.
    Keep,
}

/// One peer's observable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// Name.
    pub name: String,
    /// Address.
    pub address: IpAddr,
    /// Port.
    pub port: u16,
    /// The peer's AS (configured).
    pub remote_as: u32,
    /// FSM state.
    pub state: State,
    /// When the session last established (while it is up).
    pub established_at: Option<SystemTime>,
    /// How many times it has established.
    pub established_count: u64,
    /// Families agreed.
    pub families: Vec<Family>,
    /// Messages received.
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
    /// UPDATEs received.
    pub updates_in: u64,
    /// UPDATEs sent.
    pub updates_out: u64,
    /// Routes the peer holds from us (Adj-RIB-Out).
    pub routes_sent: usize,
    /// Changes queued for the peer.
    pub routes_pending: usize,
    /// Routes the peer announced to us and has not withdrawn (Adj-RIB-In).
    pub routes_received: usize,
    /// Received routes that were malformed or treated as withdrawn (RFC 7606).
    pub routes_rejected: u64,
    /// Routes we could not encode (never sent).
    pub routes_unencodable: u64,
    /// Why the session last went down or failed to come up.
    pub last_error: Option<String>,
    /// The last NOTIFICATION we sent.
    pub last_notification_sent: Option<Notification>,
    /// The last NOTIFICATION the peer sent.
    pub last_notification_received: Option<Notification>,
}

impl PeerStatus {
    fn new(c: &PeerConfig) -> Self {
        PeerStatus {
            name: c.name.clone(),
            address: c.address,
            port: c.port,
            remote_as: c.remote_as,
            state: State::Idle,
            established_at: None,
            established_count: 0,
            families: Vec::new(),
            messages_in: 0,
            messages_out: 0,
            updates_in: 0,
            updates_out: 0,
            routes_sent: 0,
            routes_pending: 0,
            routes_received: 0,
            routes_rejected: 0,
            routes_unencodable: 0,
            last_error: None,
            last_notification_sent: None,
            last_notification_received: None,
        }
    }

    /// Time since the session established, if it is up.
    pub fn uptime(&self) -> Option<Duration> {
        self.established_at
            .and_then(|t| SystemTime::now().duration_since(t).ok())
    }
}

/// Something that happened to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The session reached a new state.
    State {
        /// Peer name.
        peer: String,
        /// The state.
        state: State,
    },
    /// The session established; the table was sent.
    Established {
        /// Peer name.
        peer: String,
        /// Families agreed.
        families: Vec<Family>,
        /// Routes sent with the initial table.
        routes: usize,
    },
    /// The session went down.
    Down {
        /// Peer name.
        peer: String,
        /// Why.
        reason: String,
    },
    /// Pending changes went out.
    Sent {
        /// Peer name.
        peer: String,
        /// Routes announced.
        announced: u64,
        /// Routes withdrawn.
        withdrawn: u64,
    },
    /// A connection came from an address that is not a configured peer.
    UnknownPeer {
        /// Its address.
        from: SocketAddr,
    },
}

/// Why the speaker could not start.
#[derive(Debug, thiserror::Error)]
pub enum SpeakerError {
    /// The listening socket.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The kernel refused the port (below 1024, such as 179): the capability is missing.
    #[error(
        "cannot listen on {addr}: {source}; a port below 1024 needs CAP_NET_BIND_SERVICE \
         (the systemd unit grants it; otherwise run levee as root or with that capability)"
    )]
    ListenNoCapability {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// Two peers with the same address.
    #[error("peer {0} is configured twice")]
    DuplicatePeer(IpAddr),
}

/// A change with the export groups of its route.
pub(crate) type Grouped = (Change, Groups);

pub(crate) enum Command {
    Changes(Arc<Vec<Grouped>>),
    Incoming(tokio::net::TcpStream),
    Reset(Notification),
    /// End the session with this NOTIFICATION and the task (the peer is removed or
    /// replaced).
    Close(Notification, oneshot::Sender<()>),
    Shutdown(ShutdownPolicy, oneshot::Sender<()>),
}

struct PeerHandle {
    cfg: PeerConfig,
    tx: mpsc::Sender<Command>,
    status: Arc<Mutex<PeerStatus>>,
    task: JoinHandle<()>,
}

/// The Loc-RIB shared by the speaker and its peers: each route with its export groups.
pub(crate) type LocRib = Arc<Mutex<HashMap<Nlri, (Arc<Attrs>, Groups)>>>;

/// Queue depth of each peer's command channel.
const COMMANDS: usize = 1024;

/// A running speaker.
#[derive(Debug)]
pub struct Speaker {
    loc: LocRib,
    peers: Mutex<Vec<PeerHandle>>,
    events: broadcast::Sender<Event>,
    listener: Option<listener::Listening>,
}

/// What [`Speaker::set_peers`] did, by peer name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerChanges {
    /// Peers started.
    pub added: Vec<String>,
    /// Peers ended (Cease / Administrative Shutdown).
    pub removed: Vec<String>,
    /// Peers whose settings changed: ended (Cease / Administrative Reset) and started
    /// again.
    pub changed: Vec<String>,
    /// Peers left as they were, with their sessions.
    pub unchanged: usize,
}

impl PeerChanges {
    /// Whether anything changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

impl std::fmt::Debug for PeerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerHandle")
            .field("address", &self.cfg.address)
            .finish()
    }
}

impl Speaker {
    /// Starts every peer (and the listener, if configured). Must run inside a tokio
    /// runtime.
    pub async fn start(cfg: SpeakerConfig) -> Result<Speaker, SpeakerError> {
        let loc: LocRib = Arc::default();
        let (events, _) = broadcast::channel(1024);
        duplicates(&cfg.peers)?;
        let peers: Vec<PeerHandle> = cfg
            .peers
            .iter()
            .map(|p| spawn_peer(p, PeerStatus::new(p), &loc, &events))
            .collect();
        let listener = match cfg.listen {
            Some(addr) => {
                let senders = peers.iter().map(|h| h.tx.clone()).collect();
                Some(
                    listener::start(addr, &cfg.peers, senders, events.clone()).map_err(
                        |source| {
                            if source.kind() == std::io::ErrorKind::PermissionDenied {
                                SpeakerError::ListenNoCapability { addr, source }
                            } else {
                                SpeakerError::Listen { addr, source }
                            }
                        },
                    )?,
                )
            }
            None => None,
        };
        Ok(Speaker {
            loc,
            peers: Mutex::new(peers),
            events,
            listener,
        })
    }

    /// The address the listener is bound to.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().map(|l| l.addr)
    }

    fn peers(&self) -> std::sync::MutexGuard<'_, Vec<PeerHandle>> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The peers' settings, in configuration order.
    pub fn peer_configs(&self) -> Vec<PeerConfig> {
        self.peers().iter().map(|p| p.cfg.clone()).collect()
    }

    /// Reconfigures the peers (matched by address) while the speaker runs:
    ///
    /// - a peer no longer configured ends with a Cease / Administrative Shutdown;
    /// - a peer whose settings changed ends with a Cease / Administrative Reset (RFC
    ///   4486; both carry an RFC 9003 communication) and starts again with its new
    ///   settings, once the old session is closed (so the two never collide);
    /// - a new peer starts; it is sent the whole table when it establishes;
    /// - the others are untouched and keep their sessions.
    ///
    /// The listener hands connections by the new table and holds the new MD5 keys.
    /// Waits at most `timeout` for each closing session's NOTIFICATION to go out.
    /// A list with a duplicate address changes nothing.
    pub async fn set_peers(
        &self,
        new: Vec<PeerConfig>,
        timeout: Duration,
    ) -> Result<PeerChanges, SpeakerError> {
        duplicates(&new)?;
        let mut changes = PeerChanges::default();
        let closing: Vec<(PeerHandle, Notification)> = {
            let mut peers = self.peers();
            let mut kept = Vec::new();
            let mut closing = Vec::new();
            for h in peers.drain(..) {
                match new.iter().find(|c| c.address == h.cfg.address) {
                    Some(c) if *c == h.cfg => kept.push(h),
                    Some(_) => {
                        changes.changed.push(h.cfg.name.clone());
                        let n = notification(
                            error::cease::ADMIN_RESET,
                            "levee: peer configuration changed",
                        );
                        closing.push((h, n));
                    }
                    None => {
                        changes.removed.push(h.cfg.name.clone());
                        let n = notification(
                            error::cease::ADMIN_SHUTDOWN,
                            "levee: peer removed from the configuration",
                        );
                        closing.push((h, n));
                    }
                }
            }
            changes.unchanged = kept.len();
            *peers = kept;
            closing
        };
        // A changed peer's status goes on: its counter of sessions keeps counting, and
        // the reset shows as the last NOTIFICATION sent.
        let mut carried: Vec<(IpAddr, PeerStatus)> = Vec::new();
        for (h, n) in closing {
            if new.iter().any(|c| c.address == h.cfg.address) {
                let mut st = h.status.lock().unwrap_or_else(|e| e.into_inner()).clone();
                st.last_notification_sent = Some(n.clone());
                carried.push((h.cfg.address, st));
            }
            let (ack, done) = oneshot::channel();
            if h.tx.send(Command::Close(n, ack)).await.is_ok() {
                let _ = tokio::time::timeout(timeout, done).await;
            }
            h.task.abort();
            if let Some(l) = &self.listener
                && h.cfg.md5_password.is_some()
                && let Err(e) = l.set_md5(h.cfg.address, None)
            {
                tracing::warn!(peer = %h.cfg.name, error = %e, "cannot remove the peer's MD5 key from the listener");
            }
        }
        let mut peers = self.peers();
        let mut old: Vec<PeerHandle> = peers.drain(..).collect();
        for c in &new {
            match old.iter().position(|h| h.cfg.address == c.address) {
                Some(i) => peers.push(old.swap_remove(i)),
                None => {
                    if !changes.changed.contains(&c.name) {
                        changes.added.push(c.name.clone());
                    }
                    if let Some(l) = &self.listener
                        && let Some(key) = &c.md5_password
                        && let Err(e) = l.set_md5(c.address, Some(key))
                    {
                        tracing::warn!(peer = %c.name, error = %e, "cannot set the peer's MD5 key on the listener");
                    }
                    let mut status = PeerStatus::new(c);
                    if let Some((_, old)) = carried.iter().find(|(a, _)| *a == c.address) {
                        status.established_count = old.established_count;
                        status.last_notification_sent = old.last_notification_sent.clone();
                    }
                    peers.push(spawn_peer(c, status, &self.loc, &self.events));
                }
            }
        }
        if let Some(l) = &self.listener {
            *l.routes.lock().unwrap_or_else(|e| e.into_inner()) = peers
                .iter()
                .map(|h| (h.cfg.address, h.cfg.ttl_security, h.tx.clone()))
                .collect();
            if let Err(e) = l.set_gtsm(&new) {
                tracing::warn!(error = %e, "cannot set GTSM on the listener");
            }
        }
        Ok(changes)
    }

    /// Events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Applies announcements and withdrawals to the Loc-RIB and queues them for every
    /// peer; the routes go to every peer ([`Groups::ALL`]).
    pub async fn apply(&self, changes: Vec<Change>) {
        self.apply_grouped(changes.into_iter().map(|c| (c, Groups::ALL)).collect())
            .await
    }

    /// Applies announcements and withdrawals, each route in its export groups: a peer
    /// is sent the routes that share a group with its `export` set, and a route whose
    /// groups change is withdrawn from the peers that no longer take it. Changes that
    /// do not alter the Loc-RIB are dropped.
    pub async fn apply_grouped(&self, changes: Vec<Grouped>) {
        let effective: Vec<Grouped> = {
            let mut loc = self.loc.lock().unwrap_or_else(|e| e.into_inner());
            changes
                .into_iter()
                .filter(|((n, a), g)| match a {
                    Some(a) => {
                        let new = (a.clone(), *g);
                        loc.insert(n.clone(), new.clone()).as_ref() != Some(&new)
                    }
                    None => loc.remove(n).is_some(),
                })
                .collect()
        };
        if effective.is_empty() {
            return;
        }
        let batch = Arc::new(effective);
        let senders: Vec<_> = self.peers().iter().map(|p| p.tx.clone()).collect();
        for tx in senders {
            // A peer task that has ended (after shutdown) no longer needs changes.
            let _ = tx.send(Command::Changes(batch.clone())).await;
        }
    }

    /// Announces one route.
    pub async fn announce(&self, nlri: Nlri, attrs: Attrs) {
        self.apply(vec![(nlri, Some(Arc::new(attrs)))]).await
    }

    /// Withdraws one route.
    pub async fn withdraw(&self, nlri: Nlri) {
        self.apply(vec![(nlri, None)]).await
    }

    /// Routes in the Loc-RIB.
    pub fn routes(&self) -> Vec<(Nlri, Arc<Attrs>)> {
        let loc = self.loc.lock().unwrap_or_else(|e| e.into_inner());
        let mut v: Vec<_> = loc
            .iter()
            .map(|(n, (a, _))| (n.clone(), a.clone()))
            .collect();
        v.sort();
        v
    }

    /// Every peer's status, in configuration order.
    pub fn status(&self) -> Vec<PeerStatus> {
        self.peers()
            .iter()
            .map(|p| p.status.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect()
    }

    /// Drops the session with `peer` (by name) with a Cease and lets it come back.
    /// Returns false if there is no such peer.
    pub async fn reset(&self, peer: &str, message: &str) -> bool {
        let Some(tx) = self
            .peers()
            .iter()
            .find(|p| p.cfg.name == peer)
            .map(|p| p.tx.clone())
        else {
            return false;
        };
        let n = notification(error::cease::ADMIN_RESET, message);
        tx.send(Command::Reset(n)).await.is_ok()
    }

    /// Ends every session as `policy` says and stops the tasks. Waits at most `timeout`
    /// for the peers to take their withdrawals.
    pub async fn shutdown(self, policy: ShutdownPolicy, timeout: Duration) {
        let mut acks = Vec::new();
        let senders: Vec<_> = self.peers().iter().map(|p| p.tx.clone()).collect();
        for p in senders {
            let (tx, rx) = oneshot::channel();
            if p.send(Command::Shutdown(policy.clone(), tx)).await.is_ok() {
                acks.push(rx);
            }
        }
        let _ = tokio::time::timeout(timeout, async {
            for a in acks {
                let _ = a.await;
            }
        })
        .await;
        // Drop runs next and stops anything left.
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        for p in self.peers().iter() {
            p.task.abort();
        }
        if let Some(l) = &self.listener {
            l.task.abort();
        }
    }
}

/// Refuses a peer list with two peers at one address.
fn duplicates(peers: &[PeerConfig]) -> Result<(), SpeakerError> {
    for (i, p) in peers.iter().enumerate() {
        if peers[..i].iter().any(|q| q.address == p.address) {
            return Err(SpeakerError::DuplicatePeer(p.address));
        }
    }
    Ok(())
}

/// A Cease with `subcode` and an RFC 9003 shutdown communication.
fn notification(subcode: u8, message: &str) -> Notification {
    Notification {
        code: error::CEASE,
        subcode,
        data: Notification::shutdown(message).data,
    }
}

/// Starts one peer's task.
fn spawn_peer(
    p: &PeerConfig,
    status: PeerStatus,
    loc: &LocRib,
    events: &broadcast::Sender<Event>,
) -> PeerHandle {
    let (tx, rx) = mpsc::channel(COMMANDS);
    let status = Arc::new(Mutex::new(status));
    let span = tracing::info_span!("peer", name = %p.name, addr = %p.address);
    let task = tokio::spawn(
        peer::run(p.clone(), rx, loc.clone(), status.clone(), events.clone()).instrument(span),
    );
    PeerHandle {
        cfg: p.clone(),
        tx,
        status,
        task,
    }
}
