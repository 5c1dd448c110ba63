//! States, inputs, outputs and transitions.

use crate::message::{self, Capability, Family, Message, MessageError, Notification, Open};
use crate::update::Update;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// Session states (RFC 4271 §8.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not trying.
    Idle,
    /// Waiting for the TCP connection.
    Connect,
    /// Waiting for the peer to connect (or to retry).
    Active,
    /// OPEN sent, waiting for the peer's.
    OpenSent,
    /// OPENs exchanged, waiting for KEEPALIVE.
    OpenConfirm,
    /// Up.
    Established,
}

/// Timers the driver runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Retry the connection.
    ConnectRetry,
    /// The peer has been silent too long.
    Hold,
    /// Time to send a KEEPALIVE.
    Keepalive,
}

/// What goes into the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Start the session (ManualStart).
    Start,
    /// Stop it, sending this NOTIFICATION if a connection is up (ManualStop). `None`
    /// closes the connection without one, so a peer that negotiated graceful restart
    /// (RFC 4724) keeps our routes until its restart timer runs out.
    Stop(Option<Notification>),
    /// Drop the session with this NOTIFICATION and try again after the backoff (an
    /// operator reset, or a limit such as maximum prefixes; RFC 4486).
    Reset(Notification),
    /// The TCP connection is up (either direction).
    Connected,
    /// The TCP connection failed or closed.
    Disconnected,
    /// Bytes received.
    Bytes(Vec<u8>),
    /// A timer fired.
    Timer(Timer),
}

/// What comes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a TCP connection to the peer.
    Connect,
    /// Close the TCP connection.
    Close,
    /// Send these bytes.
    Send(Vec<u8>),
    /// (Re)arm a timer to fire after this long.
    SetTimer(Timer, Duration),
    /// Disarm a timer.
    CancelTimer(Timer),
    /// The state changed.
    State(State),
    /// The session is established with these parameters.
    Established(Negotiated),
    /// An UPDATE arrived (body, already checked for framing).
    Update(Update),
    /// An UPDATE asked for its routes to be treated as withdrawn (RFC 7606).
    TreatAsWithdraw(Update),
    /// A ROUTE-REFRESH for a family.
    RouteRefresh(Family),
    /// The session went down.
    Down(Down),
}

/// Why a session went down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Down {
    /// For the operator.
    pub reason: String,
    /// The NOTIFICATION we sent, if any.
    pub sent: Option<Notification>,
    /// The NOTIFICATION the peer sent, if any.
    pub received: Option<Notification>,
}

/// Session settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Our AS.
    pub local_as: u32,
    /// The peer's AS we expect.
    pub peer_as: u32,
    /// Our BGP identifier.
    pub router_id: Ipv4Addr,
    /// Hold time we propose (0, or 3 s and more).
    pub hold_time: Duration,
    /// Connect-retry base interval.
    pub connect_retry: Duration,
    /// Families we want.
    pub families: Vec<Family>,
    /// Graceful-restart time to advertise, if any.
    pub graceful_restart: Option<Duration>,
    /// Connect actively (else wait for the peer).
    pub active: bool,
}

/// What the two OPENs agreed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The peer's AS.
    pub peer_as: u32,
    /// The peer's identifier.
    pub peer_id: Ipv4Addr,
    /// Hold time (the smaller of the two).
    pub hold_time: Duration,
    /// Families both sides support.
    pub families: Vec<Family>,
    /// Four-octet AS numbers on both sides.
    pub four_octet: bool,
    /// The peer takes ROUTE-REFRESH.
    pub route_refresh: bool,
    /// The peer takes enhanced route refresh.
    pub enhanced_route_refresh: bool,
}

/// One BGP session.
#[derive(Debug)]
pub struct Session {
    cfg: Config,
    state: State,
    buf: Vec<u8>,
    negotiated: Option<Negotiated>,
    /// Consecutive failed attempts, for backoff.
    failures: u32,
    last_error: Option<String>,
    messages_in: u64,
}

/// Hold time used while waiting for the peer's OPEN (RFC 4271 suggests 4 minutes).
const LARGE_HOLD: Duration = Duration::from_secs(240);

impl Session {
    /// A session in Idle.
    pub fn new(cfg: Config) -> Self {
        Session {
            cfg,
            state: State::Idle,
            buf: Vec::new(),
            negotiated: None,
            failures: 0,
            last_error: None,
            messages_in: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// What was agreed, once established.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// Whole messages received, over the session's life.
    pub fn messages_in(&self) -> u64 {
        self.messages_in
    }

    /// The last error, for the operator.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    fn set(&mut self, s: State, out: &mut Vec<Output>) {
        if self.state != s {
            self.state = s;
            out.push(Output::State(s));
        }
    }

    fn open(&self) -> Message {
        let mut caps: Vec<Capability> = self
            .cfg
            .families
            .iter()
            .map(|f| Capability::Multiprotocol(*f))
            .collect();
        caps.push(Capability::RouteRefresh);
        caps.push(Capability::EnhancedRouteRefresh);
        if let Some(t) = self.cfg.graceful_restart {
            caps.push(Capability::GracefulRestart(message::GracefulRestart {
                restarting: false,
                time: t.as_secs().min(4095) as u16,
                families: self.cfg.families.iter().map(|f| (*f, false)).collect(),
            }));
        }
        caps.push(Capability::FourOctetAs(self.cfg.local_as));
        Message::Open(Open::new(
            self.cfg.local_as,
            self.cfg.hold_time.as_secs().min(u64::from(u16::MAX)) as u16,
            self.cfg.router_id,
            caps,
        ))
    }

    /// Backoff for the next connection attempt: base × 2^failures, at most 8×.
    fn retry_after(&self) -> Duration {
        self.cfg.connect_retry * (1u32 << self.failures.min(3))
    }

    /// Drops the connection and goes back to waiting, with backoff.
    fn fail(
        &mut self,
        why: String,
        sent: Option<Notification>,
        received: Option<Notification>,
        out: &mut Vec<Output>,
    ) {
        if let Some(n) = &sent {
            out.push(Output::Send(Message::Notification(n.clone()).to_bytes()));
        }
        out.push(Output::Close);
        out.push(Output::CancelTimer(Timer::Hold));
        out.push(Output::CancelTimer(Timer::Keepalive));
        out.push(Output::Down(Down {
            reason: why.clone(),
            sent,
            received,
        }));
        self.last_error = Some(why);
        self.failures = self.failures.saturating_add(1);
        self.negotiated = None;
        self.buf.clear();
        out.push(Output::SetTimer(Timer::ConnectRetry, self.retry_after()));
        self.set(
            if self.cfg.active {
                State::Connect
            } else {
                State::Active
            },
            out,
        );
    }

    /// Takes one input at `now`; returns what to do, in order.
    pub fn handle(&mut self, _now: Instant, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Start if self.state == State::Idle => {
                if self.cfg.active {
                    out.push(Output::Connect);
                    out.push(Output::SetTimer(Timer::ConnectRetry, self.retry_after()));
                    self.set(State::Connect, &mut out);
                } else {
                    self.set(State::Active, &mut out);
                }
            }
            Input::Start => {}
            Input::Stop(n) => {
                let connected = matches!(
                    self.state,
                    State::OpenSent | State::OpenConfirm | State::Established
                );
                let sent = n.filter(|_| connected);
                if let Some(n) = &sent {
                    out.push(Output::Send(Message::Notification(n.clone()).to_bytes()));
                }
                if self.state != State::Idle {
                    out.push(Output::Close);
                    out.push(Output::Down(Down {
                        reason: "stopped".into(),
                        sent,
                        received: None,
                    }));
                }
                for t in [Timer::ConnectRetry, Timer::Hold, Timer::Keepalive] {
                    out.push(Output::CancelTimer(t));
                }
                self.negotiated = None;
                self.buf.clear();
                self.set(State::Idle, &mut out);
            }
            Input::Connected => match self.state {
                State::Connect | State::Active => {
                    out.push(Output::CancelTimer(Timer::ConnectRetry));
                    out.push(Output::Send(self.open().to_bytes()));
                    out.push(Output::SetTimer(Timer::Hold, LARGE_HOLD));
                    self.set(State::OpenSent, &mut out);
                }
                // A second connection while one is being set up: refuse it (no
                // collision detection beyond keeping the first).
                _ => {}
            },
            Input::Disconnected => {
                if self.state != State::Idle {
                    self.fail("connection closed".into(), None, None, &mut out);
                }
            }
            Input::Reset(n) => {
                let connected = matches!(
                    self.state,
                    State::OpenSent | State::OpenConfirm | State::Established
                );
                if self.state != State::Idle {
                    let why = format!("reset: {n}");
                    self.fail(why, Some(n).filter(|_| connected), None, &mut out);
                }
            }
            Input::Timer(Timer::ConnectRetry) => {
                if matches!(self.state, State::Connect | State::Active) && self.cfg.active {
                    out.push(Output::Connect);
                    out.push(Output::SetTimer(Timer::ConnectRetry, self.retry_after()));
                    self.set(State::Connect, &mut out);
                }
            }
            Input::Timer(Timer::Hold) => {
                if matches!(
                    self.state,
                    State::OpenSent | State::OpenConfirm | State::Established
                ) {
                    let n = Notification {
                        code: 4,
                        subcode: 0,
                        data: vec![],
                    };
                    self.fail("hold timer expired".into(), Some(n), None, &mut out);
                }
            }
            Input::Timer(Timer::Keepalive) => {
                if matches!(self.state, State::OpenConfirm | State::Established)
                    && let Some(n) = &self.negotiated
                {
                    out.push(Output::Send(Message::Keepalive.to_bytes()));
                    if !n.hold_time.is_zero() {
                        out.push(Output::SetTimer(Timer::Keepalive, n.hold_time / 3));
                    }
                }
            }
            Input::Bytes(b) => {
                self.buf.extend_from_slice(&b);
                self.drain(&mut out);
            }
        }
        out
    }

    /// Handles every whole message in the buffer.
    fn drain(&mut self, out: &mut Vec<Output>) {
        loop {
            if matches!(self.state, State::Idle | State::Connect | State::Active) {
                self.buf.clear();
                return;
            }
            let len = match message::frame(&self.buf) {
                Ok(Some(len)) => len,
                Ok(None) => return,
                Err(e) => return self.protocol_error(e, out),
            };
            let msg: Vec<u8> = self.buf.drain(..len).collect();
            if let Err(e) = self.message(&msg, out) {
                return self.protocol_error(e, out);
            }
        }
    }

    fn protocol_error(&mut self, e: MessageError, out: &mut Vec<Output>) {
        let n = e.notification();
        self.fail(
            format!("sent NOTIFICATION: {n}: {}", e.what),
            Some(n),
            None,
            out,
        );
    }

    fn message(&mut self, msg: &[u8], out: &mut Vec<Output>) -> Result<(), MessageError> {
        let m = Message::decode(msg)?;
        self.messages_in += 1;
        // Any message restarts the hold timer once the hold time is agreed.
        if let Some(n) = &self.negotiated
            && !n.hold_time.is_zero()
        {
            out.push(Output::SetTimer(Timer::Hold, n.hold_time));
        }
        match (self.state, m) {
            (_, Message::Notification(n)) => {
                self.fail(format!("received NOTIFICATION: {n}"), None, Some(n), out);
            }
            (State::OpenSent, Message::Open(open)) => {
                let neg = self.negotiate(&open)?;
                out.push(Output::Send(Message::Keepalive.to_bytes()));
                if neg.hold_time.is_zero() {
                    out.push(Output::CancelTimer(Timer::Hold));
                } else {
                    out.push(Output::SetTimer(Timer::Hold, neg.hold_time));
                    out.push(Output::SetTimer(Timer::Keepalive, neg.hold_time / 3));
                }
                self.negotiated = Some(neg);
                self.set(State::OpenConfirm, out);
            }
            (State::OpenConfirm, Message::Keepalive) => {
                self.failures = 0;
                self.set(State::Established, out);
                if let Some(n) = &self.negotiated {
                    out.push(Output::Established(n.clone()));
                }
            }
            (State::Established, Message::Keepalive) => {}
            (State::Established, Message::Update(body)) => {
                let four = self.negotiated.as_ref().is_some_and(|n| n.four_octet);
                let d = Update::decode(&body, four)?;
                out.push(if d.treat_as_withdraw {
                    Output::TreatAsWithdraw(d.update)
                } else {
                    Output::Update(d.update)
                });
            }
            (State::Established, Message::RouteRefresh(r)) => {
                if r.subtype == 0 {
                    out.push(Output::RouteRefresh(r.family));
                }
            }
            (state, m) => {
                // RFC 4271 §6.6: a message unexpected in this state is an FSM error.
                let sub = match state {
                    State::OpenSent => 1,
                    State::OpenConfirm => 2,
                    _ => 3,
                };
                let _ = m;
                return Err(MessageError::new(
                    5,
                    sub,
                    &[],
                    "message unexpected in this state",
                ));
            }
        }
        Ok(())
    }

    fn negotiate(&self, open: &Open) -> Result<Negotiated, MessageError> {
        let peer_as = open.asn();
        if peer_as != self.cfg.peer_as {
            return Err(MessageError::new(
                2,
                2,
                &open.my_as.to_be_bytes(),
                "peer AS is not the configured one",
            ));
        }
        if open.router_id == self.cfg.router_id && self.cfg.local_as == peer_as {
            return Err(MessageError::new(
                2,
                3,
                &open.router_id.octets(),
                "peer has our BGP identifier",
            ));
        }
        let ours = self.cfg.hold_time.as_secs();
        let hold = ours.min(u64::from(open.hold_time));
        let mut families = Vec::new();
        let mut route_refresh = false;
        let mut enhanced = false;
        let mut four_octet = false;
        for c in &open.capabilities {
            match c {
                Capability::Multiprotocol(f)
                    if self.cfg.families.contains(f) && !families.contains(f) =>
                {
                    families.push(*f)
                }
                Capability::RouteRefresh => route_refresh = true,
                Capability::EnhancedRouteRefresh => enhanced = true,
                Capability::FourOctetAs(_) => four_octet = true,
                _ => {}
            }
        }
        // A peer without the multiprotocol capability speaks IPv4 unicast (RFC 4760 §8).
        if !open
            .capabilities
            .iter()
            .any(|c| matches!(c, Capability::Multiprotocol(_)))
            && self.cfg.families.contains(&Family::IPV4_UNICAST)
        {
            families.push(Family::IPV4_UNICAST);
        }
        if families.is_empty() {
            return Err(MessageError::new(
                2,
                7,
                &[],
                "no address family in common with the peer",
            ));
        }
        Ok(Negotiated {
            peer_as,
            peer_id: open.router_id,
            hold_time: Duration::from_secs(hold),
            families,
            four_octet,
            route_refresh,
            enhanced_route_refresh: enhanced,
        })
    }
}
