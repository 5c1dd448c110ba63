//! One peer's task: runs the session FSM over a TCP connection, keeps the Adj-RIB-Out,
//! and turns the FSM's outputs into socket and timer operations.

use super::listener::canonical;
use super::{Command, Event, LocRib, PeerConfig, PeerStatus, ShutdownPolicy, sys};
use crate::codes::{Afi, Safi, route_refresh};
use crate::flowspec::FlowSpec;
use crate::message::{Family, Message, Notification, RouteRefresh};
use crate::rib::{AdjRibOut, Encoder};
use crate::session::{self, Input, Output, Session, State, Timer};
use crate::update::Update;
use crate::update::attr::Attribute;
use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

type Connecting = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// Longest a write may block before the peer is taken to be gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

struct Peer {
    cfg: PeerConfig,
    session: Session,
    rib: AdjRibOut,
    enc: Option<Encoder>,
    stream: Option<TcpStream>,
    connecting: Option<Connecting>,
    timers: [Option<Instant>; 3],
    /// Adj-RIB-In: NLRI the peer announced (family, wire octets), counted not used.
    received: HashSet<(Family, Vec<u8>)>,
    loc: LocRib,
    status: Arc<Mutex<PeerStatus>>,
    events: broadcast::Sender<Event>,
    stopping: bool,
    /// Both sides advertised enhanced route refresh (RFC 7313).
    enhanced_refresh: bool,
}

fn timer_index(t: Timer) -> usize {
    match t {
        Timer::ConnectRetry => 0,
        Timer::Hold => 1,
        Timer::Keepalive => 2,
    }
}

const TIMERS: [Timer; 3] = [Timer::ConnectRetry, Timer::Hold, Timer::Keepalive];

pub(super) async fn run(
    cfg: PeerConfig,
    mut rx: mpsc::Receiver<Command>,
    loc: LocRib,
    status: Arc<Mutex<PeerStatus>>,
    events: broadcast::Sender<Event>,
) {
    let session = Session::new(session::Config {
        local_as: cfg.local_as,
        peer_as: cfg.remote_as,
        router_id: cfg.router_id,
        hold_time: cfg.hold_time,
        connect_retry: cfg.connect_retry,
        families: cfg.families.clone(),
        graceful_restart: cfg.graceful_restart,
        active: !cfg.passive,
    });
    let mut p = Peer {
        cfg,
        session,
        rib: AdjRibOut::new(),
        enc: None,
        stream: None,
        connecting: None,
        timers: [None; 3],
        received: HashSet::new(),
        loc,
        status,
        events,
        stopping: false,
        enhanced_refresh: false,
    };
    p.input(Input::Start).await;
    let mut buf = vec![0u8; 65536];
    loop {
        let deadline = p.timers.iter().flatten().min().copied();
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => {
                    if p.command(cmd, &mut rx).await {
                        return;
                    }
                }
                None => return,
            },
            r = read(&mut p.stream, &mut buf) => match r {
                Ok(0) | Err(_) => {
                    p.stream = None;
                    p.input(Input::Disconnected).await;
                }
                Ok(n) => p.input(Input::Bytes(buf[..n].to_vec())).await,
            },
            r = connect(&mut p.connecting) => {
                p.connecting = None;
                match r {
                    Ok(s) => {
                        let _ = s.set_nodelay(true);
                        p.stream = Some(s);
                        p.input(Input::Connected).await;
                    }
                    Err(e) => {
                        p.note_error(format!("connect to {}:{}: {e}", p.cfg.address, p.cfg.port));
                        // The connect-retry timer tries again.
                    }
                }
            },
            _ = sleep(deadline) => {
                let now = Instant::now();
                for t in TIMERS {
                    if p.timers[timer_index(t)].is_some_and(|d| d <= now) {
                        p.timers[timer_index(t)] = None;
                        p.input(Input::Timer(t)).await;
                    }
                }
            },
        }
    }
}

async fn read(stream: &mut Option<TcpStream>, buf: &mut [u8]) -> io::Result<usize> {
    match stream {
        Some(s) => s.read(buf).await,
        None => std::future::pending().await,
    }
}

async fn connect(c: &mut Option<Connecting>) -> io::Result<TcpStream> {
    match c {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

async fn sleep(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Opens the connection with MD5 and GTSM set before the SYN leaves.
async fn open(
    peer: SocketAddr,
    local: Option<IpAddr>,
    md5: Option<Vec<u8>>,
    gtsm: Option<u8>,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let v6 = peer.is_ipv6();
    let sock = if v6 {
        TcpSocket::new_v6()?
    } else {
        TcpSocket::new_v4()?
    };
    if let Some(key) = &md5 {
        sys::set_md5(sock.as_fd(), v6, peer.ip(), key)?;
    }
    if let Some(hops) = gtsm {
        sys::set_gtsm(sock.as_fd(), v6, hops)?;
    }
    if let Some(l) = local {
        sock.bind(SocketAddr::new(l, 0))?;
    }
    match tokio::time::timeout(timeout, sock.connect(peer)).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
    }
}

impl Peer {
    /// Handles a command; true when the task should end. A batch of changes takes every
    /// batch already queued behind it, so they pack into the same UPDATEs.
    async fn command(&mut self, first: Command, rx: &mut mpsc::Receiver<Command>) -> bool {
        let mut next = Some(first);
        while let Some(cmd) = next.take() {
            match cmd {
                Command::Changes(batch) => {
                    batch.iter().for_each(|c| self.admit(c));
                    while let Ok(cmd) = rx.try_recv() {
                        match cmd {
                            Command::Changes(b) => b.iter().for_each(|c| self.admit(c)),
                            other => {
                                next = Some(other);
                                break;
                            }
                        }
                    }
                    self.flush().await;
                }
                Command::Incoming(s) => self.incoming(s).await,
                Command::Reset(n) => self.input(Input::Reset(n)).await,
                Command::Close(n, ack) => {
                    self.stopping = true;
                    self.input(Input::Stop(Some(n))).await;
                    let _ = ack.send(());
                    return true;
                }
                Command::Shutdown(policy, ack) => {
                    self.shutdown(policy).await;
                    let _ = ack.send(());
                    return true;
                }
            }
        }
        false
    }

    /// Queues a change for this peer: an announcement in none of its export groups is
    /// a withdrawal here (the route may have been in them before).
    fn admit(&mut self, ((nlri, attrs), groups): &super::Grouped) {
        match attrs {
            Some(a) if groups.intersects(self.cfg.export) => {
                self.rib.announce(nlri.clone(), a.clone())
            }
            _ => self.rib.withdraw(nlri.clone()),
        }
    }

    fn set_status(&self, f: impl FnOnce(&mut PeerStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn note_error(&self, e: String) {
        tracing::debug!(error = %e, "session error");
        self.set_status(|s| s.last_error = Some(e));
    }

    fn emit(&self, e: Event) {
        let _ = self.events.send(e);
    }

    async fn incoming(&mut self, s: TcpStream) {
        // Keep an existing connection (RFC 4271 §6.8 in its simplest form); a passive
        // peer or one we have not reached yet takes the new one.
        if self.stream.is_some() || self.stopping {
            return;
        }
        if matches!(self.session.state(), State::Connect | State::Active) {
            self.connecting = None;
            self.stream = Some(s);
            self.input(Input::Connected).await;
        }
    }

    /// Feeds one input, then every output, including inputs that outputs cause (a failed
    /// write is a disconnection).
    async fn input(&mut self, input: Input) {
        let mut queue = vec![input];
        while let Some(i) = queue.pop() {
            let outs = self.session.handle(std::time::Instant::now(), i);
            for o in outs {
                if let Some(next) = self.output(o).await
                    && !queue.contains(&next)
                {
                    queue.push(next);
                }
            }
        }
        let messages_in = self.session.messages_in();
        self.set_status(|s| s.messages_in = messages_in);
    }

    async fn write(&mut self, bytes: &[u8], messages: u64) -> Option<Input> {
        let s = self.stream.as_mut()?;
        match tokio::time::timeout(WRITE_TIMEOUT, s.write_all(bytes)).await {
            Ok(Ok(())) => {
                self.set_status(|s| s.messages_out += messages);
                None
            }
            Ok(Err(e)) => {
                self.note_error(format!("write: {e}"));
                self.stream = None;
                Some(Input::Disconnected)
            }
            Err(_) => {
                self.note_error("write: the peer has not read for 30 s".into());
                self.stream = None;
                Some(Input::Disconnected)
            }
        }
    }

    async fn output(&mut self, o: Output) -> Option<Input> {
        match o {
            Output::Connect => {
                let addr = SocketAddr::new(self.cfg.address, self.cfg.port);
                let md5 = self.cfg.md5_password.clone().map(String::into_bytes);
                let timeout = self.cfg.connect_retry.max(Duration::from_secs(1));
                self.connecting = Some(Box::pin(open(
                    addr,
                    self.cfg.local_address,
                    md5,
                    self.cfg.ttl_security,
                    timeout,
                )));
            }
            Output::Close => {
                if let Some(mut s) = self.stream.take() {
                    let _ = s.shutdown().await;
                }
                self.connecting = None;
            }
            Output::Send(b) => return self.write(&b, 1).await,
            Output::SetTimer(t, d) => self.timers[timer_index(t)] = Some(Instant::now() + d),
            Output::CancelTimer(t) => self.timers[timer_index(t)] = None,
            Output::State(st) => {
                tracing::info!(state = ?st, "BGP state");
                self.set_status(|s| {
                    s.state = st;
                    if st != State::Established {
                        s.established_at = None;
                    }
                });
                self.emit(Event::State {
                    peer: self.cfg.name.clone(),
                    state: st,
                });
            }
            Output::Established(n) => return self.established(n).await,
            Output::Update(u) => return self.update(u, false),
            Output::TreatAsWithdraw(u) => return self.update(u, true),
            Output::RouteRefresh(f) => return self.route_refresh(f).await,
            Output::Down(d) => self.down(d),
        }
        None
    }

    /// The peer asked for `f` again: resend every route of the family.
    async fn route_refresh(&mut self, f: Family) -> Option<Input> {
        tracing::info!(family = ?f, "route refresh");
        // RFC 7313 §4: with enhanced route refresh, bracket the family's routes
        // with Beginning- and End-of-Route-Refresh so the peer can drop stale ones.
        let marker =
            |subtype| Message::RouteRefresh(RouteRefresh { family: f, subtype }).to_bytes();
        if self.enhanced_refresh
            && let Some(i) = self.write(&marker(route_refresh::BEGIN), 1).await
        {
            return Some(i);
        }
        self.rib.refresh(f);
        if let Some(i) = self.flush_inner().await {
            return Some(i);
        }
        if self.enhanced_refresh {
            return self.write(&marker(route_refresh::END), 1).await;
        }
        None
    }

    /// The session went down: the peer holds nothing of ours any more.
    fn down(&mut self, d: session::Down) {
        tracing::warn!(reason = %d.reason, "BGP session down");
        self.rib.down();
        self.enc = None;
        self.received.clear();
        self.set_status(|s| {
            s.last_error = Some(d.reason.clone());
            if d.sent.is_some() {
                s.last_notification_sent = d.sent.clone();
            }
            if d.received.is_some() {
                s.last_notification_received = d.received.clone();
            }
            s.families.clear();
            s.routes_sent = 0;
            s.routes_pending = 0;
            s.routes_received = 0;
        });
        self.emit(Event::Down {
            peer: self.cfg.name.clone(),
            reason: d.reason,
        });
    }

    async fn established(&mut self, n: session::Negotiated) -> Option<Input> {
        let local = self.stream.as_ref().and_then(|s| s.local_addr().ok());
        let (v4, v6) = match local.map(|a| canonical(a.ip())) {
            Some(IpAddr::V4(a)) => (a, a.to_ipv6_mapped()),
            Some(IpAddr::V6(a)) => (self.cfg.router_id, a),
            None => (self.cfg.router_id, self.cfg.router_id.to_ipv6_mapped()),
        };
        self.enhanced_refresh = n.enhanced_route_refresh;
        self.enc = Some(Encoder {
            local_as: self.cfg.local_as,
            ebgp: self.cfg.local_as != self.cfg.remote_as,
            four_octet: n.four_octet,
            next_hop_v4: self.cfg.next_hop_v4.unwrap_or(v4),
            next_hop_v6: self.cfg.next_hop_v6.unwrap_or(v6),
        });
        {
            let loc = self.loc.lock().unwrap_or_else(|e| e.into_inner());
            let export = self.cfg.export;
            let routes = loc
                .iter()
                .filter(|(_, (_, g))| g.intersects(export))
                .map(|(n, (a, _))| (n, a));
            self.rib.up(&n.families, routes);
        }
        let routes = self.rib.pending_len();
        tracing::info!(families = ?n.families, routes, "BGP session established");
        self.set_status(|s| {
            s.established_at = Some(SystemTime::now());
            s.established_count += 1;
            s.families = n.families.clone();
            s.last_error = None;
        });
        self.emit(Event::Established {
            peer: self.cfg.name.clone(),
            families: n.families.clone(),
            routes,
        });
        self.flush_inner().await
    }

    /// Counts what the peer announced (levee does not use received routes; it keeps the
    /// Adj-RIB-In's size for status and for the maximum-prefix limit).
    fn update(&mut self, u: Update, treat_as_withdraw: bool) -> Option<Input> {
        let mut rejected = 0u64;
        let mut add: Vec<(Family, Vec<u8>)> = Vec::new();
        let mut del: Vec<(Family, Vec<u8>)> = Vec::new();
        let v4 = |a: Ipv4Addr, l: u8| {
            let mut b = vec![l];
            b.extend_from_slice(&a.octets()[..usize::from(l).div_ceil(8)]);
            (Family::IPV4_UNICAST, b)
        };
        del.extend(u.withdrawn.iter().map(|(a, l)| v4(*a, *l)));
        add.extend(u.nlri.iter().map(|(a, l)| v4(*a, *l)));
        for a in &u.attributes {
            match a {
                Attribute::MpReach { family, nlri, .. } => match split(*family, nlri) {
                    Some(v) => add.extend(v.into_iter().map(|b| (*family, b))),
                    None => rejected += 1,
                },
                Attribute::MpUnreach { family, withdrawn } => match split(*family, withdrawn) {
                    Some(v) => del.extend(v.into_iter().map(|b| (*family, b))),
                    None => rejected += 1,
                },
                _ => {}
            }
        }
        if treat_as_withdraw {
            rejected += add.len() as u64;
            del.append(&mut add);
        }
        for k in del {
            self.received.remove(&k);
        }
        let last_added = add.last().map(|(f, _)| *f);
        self.received.extend(add);
        let count = self.received.len();
        self.set_status(|s| {
            s.updates_in += 1;
            s.routes_received = count;
            s.routes_rejected += rejected;
        });
        // Only an UPDATE that added routes can cross the limit (one queued behind the
        // crossing one, such as an End-of-RIB, must not send a second Cease).
        if let Some(family) = last_added
            && count > self.cfg.max_prefixes
        {
            self.note_error(format!(
                "the peer sent {count} routes, more than max_prefixes {}",
                self.cfg.max_prefixes
            ));
            // Cease, Maximum Number of Prefixes Reached (RFC 4486 §4), naming the family
            // of the route that went over the limit.
            return Some(Input::Reset(Notification::max_prefixes(
                family,
                self.cfg.max_prefixes,
            )));
        }
        None
    }

    /// Sends pending changes if the session is up.
    async fn flush(&mut self) {
        if let Some(i) = self.flush_inner().await {
            self.input(i).await;
        }
    }

    async fn flush_inner(&mut self) -> Option<Input> {
        let enc = self.enc.clone()?;
        let mut msgs = Vec::new();
        let taken = self.rib.take(&enc, &mut msgs);
        let (sent, pending) = (self.rib.sent_len(), self.rib.pending_len());
        self.set_status(|s| {
            s.routes_sent = sent;
            s.routes_pending = pending;
            s.routes_unencodable += taken.unencodable;
        });
        if msgs.is_empty() {
            return None;
        }
        let bytes = msgs.concat();
        let r = self.write(&bytes, taken.updates).await;
        if r.is_none() {
            self.set_status(|s| s.updates_out += taken.updates);
            if taken.announced + taken.withdrawn > 0 {
                self.emit(Event::Sent {
                    peer: self.cfg.name.clone(),
                    announced: taken.announced,
                    withdrawn: taken.withdrawn,
                });
            }
        }
        r
    }

    async fn shutdown(&mut self, policy: ShutdownPolicy) {
        self.stopping = true;
        let notification = match &policy {
            ShutdownPolicy::Withdraw(m) => {
                self.rib.withdraw_all();
                self.flush().await;
                Some(Notification::shutdown(m))
            }
            ShutdownPolicy::Cease(m) => Some(Notification::shutdown(m)),
            ShutdownPolicy::Keep => None,
        };
        self.input(Input::Stop(notification)).await;
    }
}

/// Splits an MP NLRI field into its routes, or `None` if it is malformed.
fn split(family: Family, mut b: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let used = match family.safi {
            // Routes of a family the peer was not offered are counted too: an AFI other
            // than IPv4 and IPv6 reads as IPv6 in FlowSpec, as IPv4 otherwise.
            Safi::FLOWSPEC => {
                let afi = if family.afi == Afi::IPV4 {
                    Afi::IPV4
                } else {
                    Afi::IPV6
                };
                FlowSpec::decode(b, afi).ok()?.1
            }
            _ => {
                let bits = if family.afi == Afi::IPV6 { 128 } else { 32 };
                let len = *b.first()?;
                if len > bits {
                    return None;
                }
                1 + usize::from(len).div_ceil(8)
            }
        };
        out.push(b.get(..used)?.to_vec());
        b = &b[used..];
    }
    Some(out)
}
