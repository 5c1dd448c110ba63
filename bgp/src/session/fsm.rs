//! States, inputs, outputs and transitions: one handler per RFC 4271 §8.1 event, named
//! after it (`manual_start` for Event 1 ManualStart, `hold_timer_expires` for Event 10
//! HoldTimer_Expires, `bgp_open` for Event 19 BGPOpen, ...).

use crate::codes::error::{self, fsm, open as open_error};
use crate::codes::route_refresh;
use crate::message::{
    self, Capability, Family, Message, MessageError, Notification, Open, RouteRefresh,
};
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
    /// Start the session (Event 1, ManualStart).
    Start,
    /// Stop it, sending this NOTIFICATION if a connection is up (Event 2, ManualStop).
    /// `None` closes the connection without one, so a peer that negotiated graceful
    /// restart (RFC 4724) keeps our routes until its restart timer runs out.
    Stop(Option<Notification>),
    /// Drop the session with this NOTIFICATION and try again after the backoff (Event 8,
    /// AutomaticStop: an operator reset, or a limit such as maximum prefixes; RFC 4486).
    Reset(Notification),
    /// The TCP connection is up, either direction (Events 16 and 17, Tcp_CR_Acked and
    /// TcpConnectionConfirmed).
    Connected,
    /// The TCP connection failed or closed (Event 18, TcpConnectionFails).
    Disconnected,
    /// Bytes received: one event per whole message (Events 19 to 28).
    Bytes(Vec<u8>),
    /// A timer fired (Events 9 to 11).
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

    /// Whether a TCP connection carries BGP messages (OpenSent, OpenConfirm or
    /// Established).
    fn connected(&self) -> bool {
        matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        )
    }

    /// Takes one input at `now`; returns what to do, in order. Each input is one event of
    /// RFC 4271 §8.1 (received bytes are one event per whole message), handled by the
    /// method named after it.
    pub fn handle(&mut self, _now: Instant, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Start => self.manual_start(&mut out),
            Input::Stop(n) => self.manual_stop(n, &mut out),
            Input::Reset(n) => self.automatic_stop(n, &mut out),
            Input::Connected => self.tcp_connection_confirmed(&mut out),
            Input::Disconnected => self.tcp_connection_fails(&mut out),
            Input::Timer(Timer::ConnectRetry) => self.connect_retry_timer_expires(&mut out),
            Input::Timer(Timer::Hold) => self.hold_timer_expires(&mut out),
            Input::Timer(Timer::Keepalive) => self.keepalive_timer_expires(&mut out),
            Input::Bytes(b) => {
                self.buf.extend_from_slice(&b);
                self.drain(&mut out);
            }
        }
        out
    }

    /// Event 1, ManualStart: connect (active) or wait for the peer (passive). Ignored
    /// unless Idle.
    fn manual_start(&mut self, out: &mut Vec<Output>) {
        if self.state != State::Idle {
            return;
        }
        if self.cfg.active {
            out.push(Output::Connect);
            out.push(Output::SetTimer(Timer::ConnectRetry, self.retry_after()));
            self.set(State::Connect, out);
        } else {
            self.set(State::Active, out);
        }
    }

    /// Event 2, ManualStop: send the NOTIFICATION if one is given and a connection is
    /// up, close, stop every timer, and go to Idle.
    fn manual_stop(&mut self, n: Option<Notification>, out: &mut Vec<Output>) {
        let sent = n.filter(|_| self.connected());
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
        self.set(State::Idle, out);
    }

    /// Event 8, AutomaticStop: drop the session with this NOTIFICATION (an operator
    /// reset, or a limit such as maximum prefixes) and retry after the backoff.
    fn automatic_stop(&mut self, n: Notification, out: &mut Vec<Output>) {
        if self.state != State::Idle {
            let why = format!("reset: {n}");
            let sent = Some(n).filter(|_| self.connected());
            self.fail(why, sent, None, out);
        }
    }

    /// Events 16 and 17, Tcp_CR_Acked / TcpConnectionConfirmed: send our OPEN and wait
    /// for the peer's under the large hold time. A second connection while one is being
    /// set up is refused (no collision detection beyond keeping the first).
    fn tcp_connection_confirmed(&mut self, out: &mut Vec<Output>) {
        if matches!(self.state, State::Connect | State::Active) {
            out.push(Output::CancelTimer(Timer::ConnectRetry));
            out.push(Output::Send(self.open().to_bytes()));
            out.push(Output::SetTimer(Timer::Hold, LARGE_HOLD));
            self.set(State::OpenSent, out);
        }
    }

    /// Event 18, TcpConnectionFails: the connection failed or closed; retry.
    fn tcp_connection_fails(&mut self, out: &mut Vec<Output>) {
        if self.state != State::Idle {
            self.fail("connection closed".into(), None, None, out);
        }
    }

    /// Event 9, ConnectRetryTimer_Expires: connect again (active sessions).
    fn connect_retry_timer_expires(&mut self, out: &mut Vec<Output>) {
        if matches!(self.state, State::Connect | State::Active) && self.cfg.active {
            out.push(Output::Connect);
            out.push(Output::SetTimer(Timer::ConnectRetry, self.retry_after()));
            self.set(State::Connect, out);
        }
    }

    /// Event 10, HoldTimer_Expires: the peer has been silent for the hold time; send
    /// Hold Timer Expired and drop the session.
    fn hold_timer_expires(&mut self, out: &mut Vec<Output>) {
        if self.connected() {
            let n = Notification {
                code: error::HOLD_TIMER_EXPIRED,
                subcode: error::UNSPECIFIC,
                data: vec![],
            };
            self.fail("hold timer expired".into(), Some(n), None, out);
        }
    }

    /// Event 11, KeepaliveTimer_Expires: send a KEEPALIVE and rearm the timer.
    fn keepalive_timer_expires(&mut self, out: &mut Vec<Output>) {
        if matches!(self.state, State::OpenConfirm | State::Established)
            && let Some(n) = &self.negotiated
        {
            out.push(Output::Send(Message::Keepalive.to_bytes()));
            if !n.hold_time.is_zero() {
                out.push(Output::SetTimer(Timer::Keepalive, n.hold_time / 3));
            }
        }
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
                Err(e) => return self.msg_err(e, out),
            };
            let msg: Vec<u8> = self.buf.drain(..len).collect();
            if let Err(e) = self.message(&msg, out) {
                return self.msg_err(e, out);
            }
        }
    }

    /// Events 21, 22 and 28, BGPHeaderErr / BGPOpenMsgErr / UpdateMsgErr (and the FSM
    /// error of a message unexpected in its state, RFC 4271 §6.6): send the
    /// NOTIFICATION the error carries and drop the session.
    fn msg_err(&mut self, e: MessageError, out: &mut Vec<Output>) {
        let n = e.notification();
        self.fail(
            format!("sent NOTIFICATION: {n}: {}", e.what),
            Some(n),
            None,
            out,
        );
    }

    /// One whole message: restarts the hold timer once it is agreed, then goes to the
    /// handler of its event.
    fn message(&mut self, msg: &[u8], out: &mut Vec<Output>) -> Result<(), MessageError> {
        let m = Message::decode(msg)?;
        self.messages_in += 1;
        if let Some(n) = &self.negotiated
            && !n.hold_time.is_zero()
        {
            out.push(Output::SetTimer(Timer::Hold, n.hold_time));
        }
        match m {
            Message::Notification(n) => {
                self.notif_msg(n, out);
                Ok(())
            }
            Message::Open(open) => self.bgp_open(&open, out),
            Message::Keepalive => self.keep_alive_msg(out),
            Message::Update(body) => self.update_msg(&body, out),
            Message::RouteRefresh(r) => self.route_refresh_msg(r, out),
        }
    }

    /// The FSM error for a message unexpected in the current state (RFC 4271 §6.6, with
    /// the subcodes of RFC 6608).
    fn unexpected(&self) -> MessageError {
        let sub = match self.state {
            State::OpenSent => fsm::UNEXPECTED_IN_OPEN_SENT,
            State::OpenConfirm => fsm::UNEXPECTED_IN_OPEN_CONFIRM,
            _ => fsm::UNEXPECTED_IN_ESTABLISHED,
        };
        MessageError::new(error::FSM, sub, &[], "message unexpected in this state")
    }

    /// Event 25, NotifMsg: the peer closes the session; retry after the backoff.
    fn notif_msg(&mut self, n: Notification, out: &mut Vec<Output>) {
        self.fail(format!("received NOTIFICATION: {n}"), None, Some(n), out);
    }

    /// Event 19, BGPOpen (OpenSent): negotiate, answer with a KEEPALIVE, arm the agreed
    /// timers and go to OpenConfirm.
    fn bgp_open(&mut self, open: &Open, out: &mut Vec<Output>) -> Result<(), MessageError> {
        if self.state != State::OpenSent {
            return Err(self.unexpected());
        }
        let neg = self.negotiate(open)?;
        out.push(Output::Send(Message::Keepalive.to_bytes()));
        if neg.hold_time.is_zero() {
            out.push(Output::CancelTimer(Timer::Hold));
        } else {
            out.push(Output::SetTimer(Timer::Hold, neg.hold_time));
            out.push(Output::SetTimer(Timer::Keepalive, neg.hold_time / 3));
        }
        self.negotiated = Some(neg);
        self.set(State::OpenConfirm, out);
        Ok(())
    }

    /// Event 26, KeepAliveMsg: in OpenConfirm the session is established; in
    /// Established it only restarted the hold timer.
    fn keep_alive_msg(&mut self, out: &mut Vec<Output>) -> Result<(), MessageError> {
        match self.state {
            State::OpenConfirm => {
                self.failures = 0;
                self.set(State::Established, out);
                if let Some(n) = &self.negotiated {
                    out.push(Output::Established(n.clone()));
                }
                Ok(())
            }
            State::Established => Ok(()),
            _ => Err(self.unexpected()),
        }
    }

    /// Event 27, UpdateMsg (Established): decode it with RFC 7606 handling and hand it
    /// on. A malformed one that RFC 7606 answers with a reset is Event 28, UpdateMsgErr.
    fn update_msg(&mut self, body: &[u8], out: &mut Vec<Output>) -> Result<(), MessageError> {
        if self.state != State::Established {
            return Err(self.unexpected());
        }
        let four = self.negotiated.as_ref().is_some_and(|n| n.four_octet);
        let d = Update::decode(body, four)?;
        out.push(if d.treat_as_withdraw {
            Output::TreatAsWithdraw(d.update)
        } else {
            Output::Update(d.update)
        });
        Ok(())
    }

    /// ROUTE-REFRESH (Established; RFC 2918 §4, not an RFC 4271 event): a request asks
    /// for a family again; the RFC 7313 markers a peer sends are ignored.
    fn route_refresh_msg(
        &mut self,
        r: RouteRefresh,
        out: &mut Vec<Output>,
    ) -> Result<(), MessageError> {
        if self.state != State::Established {
            return Err(self.unexpected());
        }
        if r.subtype == route_refresh::REQUEST {
            out.push(Output::RouteRefresh(r.family));
        }
        Ok(())
    }

    fn negotiate(&self, open: &Open) -> Result<Negotiated, MessageError> {
        let peer_as = open.asn();
        if peer_as != self.cfg.peer_as {
            return Err(MessageError::new(
                error::OPEN_MESSAGE,
                open_error::BAD_PEER_AS,
                &open.my_as.to_be_bytes(),
                "peer AS is not the configured one",
            ));
        }
        if open.router_id == self.cfg.router_id && self.cfg.local_as == peer_as {
            return Err(MessageError::new(
                error::OPEN_MESSAGE,
                open_error::BAD_BGP_IDENTIFIER,
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
                error::OPEN_MESSAGE,
                open_error::UNSUPPORTED_CAPABILITY,
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
