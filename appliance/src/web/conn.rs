//! Bounds on the web endpoint's connections, whatever a stranger sends:
//! - at most [`MAX_CONNECTIONS`] at once, and [`MAX_PER_SOURCE`] from one address
//!   (more are closed as they arrive, and counted);
//! - a connection that gets no answer within [`FIRST_ANSWER`] of opening (a request
//!   that never finishes: slowloris), or no byte from levee for [`IDLE`] afterwards (an
//!   idle keep-alive), is closed. An event stream is never idle that long: it carries
//!   a keep-alive comment every 15 s.
//!
//! [`Capped`] wraps the plain or TLS listener; each connection it hands out holds its
//! place until it closes.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Connections open at once.
pub const MAX_CONNECTIONS: usize = 512;
/// Connections open at once from one source address.
pub const MAX_PER_SOURCE: usize = 128;
/// How long a new connection may go without an answer.
pub const FIRST_ANSWER: Duration = Duration::from_secs(30);
/// How long a connection may go without levee sending a byte, after its first answer.
pub const IDLE: Duration = Duration::from_secs(75);

/// Connections refused or closed by the bounds.
#[derive(Debug, Default)]
pub struct ConnCounters {
    /// Refused at accept: too many open, overall or from the source.
    pub refused: AtomicU64,
    /// Closed for sending nothing levee could answer, or for idling.
    pub timed_out: AtomicU64,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// A listener whose connections are bounded as the module says.
#[derive(Debug)]
pub struct Capped<L> {
    inner: L,
    open: Arc<Mutex<Open>>,
    counters: Arc<ConnCounters>,
}

impl<L> Capped<L> {
    /// Wraps `inner`, counting into `counters`.
    pub fn new(inner: L, counters: Arc<ConnCounters>) -> Capped<L> {
        Capped {
            inner,
            open: Arc::default(),
            counters,
        }
    }
}

/// Holds a connection's place.
#[derive(Debug)]
struct Place {
    open: Arc<Mutex<Open>>,
    source: IpAddr,
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Ok(mut o) = self.open.lock() {
            o.total = o.total.saturating_sub(1);
            if let Some(n) = o.by_source.get_mut(&self.source) {
                *n -= 1;
                if *n == 0 {
                    o.by_source.remove(&self.source);
                }
            }
        }
    }
}

impl<L> axum::serve::Listener for Capped<L>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: Unpin,
{
    type Io = Bounded<L::Io>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (io, addr) = self.inner.accept().await;
            let source = addr.ip();
            let admitted = match self.open.lock() {
                Ok(mut o) => {
                    let from = o.by_source.get(&source).copied().unwrap_or(0);
                    let ok = o.total < MAX_CONNECTIONS && from < MAX_PER_SOURCE;
                    if ok {
                        o.total += 1;
                        *o.by_source.entry(source).or_default() += 1;
                    }
                    ok
                }
                Err(_) => false,
            };
            if !admitted {
                self.counters.refused.fetch_add(1, Relaxed);
                continue;
            }
            let place = Place {
                open: self.open.clone(),
                source,
            };
            let io = Bounded {
                io,
                _place: place,
                deadline: Box::pin(tokio::time::sleep(FIRST_ANSWER)),
                counters: self.counters.clone(),
            };
            return (io, addr);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection with its place and its deadline: reads fail once the deadline passes,
/// and every byte levee writes moves it [`IDLE`] ahead.
#[derive(Debug)]
pub struct Bounded<Io> {
    io: Io,
    _place: Place,
    deadline: Pin<Box<Sleep>>,
    counters: Arc<ConnCounters>,
}

impl<Io: AsyncRead + Unpin> AsyncRead for Bounded<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Pending => {
                if this.deadline.as_mut().poll(cx).is_ready() {
                    this.counters.timed_out.fetch_add(1, Relaxed);
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "web: connection idle",
                    )));
                }
                Poll::Pending
            }
            ready => ready,
        }
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for Bounded<Io> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.io).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.deadline.as_mut().reset(Instant::now() + IDLE);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
