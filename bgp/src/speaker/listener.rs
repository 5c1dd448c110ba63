//! The shared listening socket: accepts a connection and hands it to the peer task for
//! its source address. Connections from anywhere else are closed and reported.

use super::{Command, Event, PeerConfig, sys};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

/// An IPv4 peer reaching a dual-stack socket shows up IPv4-mapped.
pub(super) fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Per peer address: its GTSM hops and its task; changed by a reconfiguration.
pub(super) type Routes = Arc<Mutex<Vec<(IpAddr, Option<u8>, mpsc::Sender<Command>)>>>;

/// The listening socket, its accept task and the table it hands connections by.
pub(super) struct Listening {
    pub(super) addr: SocketAddr,
    pub(super) task: JoinHandle<()>,
    socket: Arc<TcpListener>,
    pub(super) routes: Routes,
    v6: bool,
}

impl std::fmt::Debug for Listening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listening")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Listening {
    /// Sets (a key) or removes (`None`) the MD5 key for a peer address on the socket.
    pub(super) fn set_md5(&self, peer: IpAddr, key: Option<&str>) -> io::Result<()> {
        let key = key.map_or(&[][..], str::as_bytes);
        sys::set_md5(self.socket.as_fd(), self.v6, peer, key)
    }

    /// Sets the socket's GTSM minimum for `peers` (see [`gtsm_floor`]).
    pub(super) fn set_gtsm(&self, peers: &[PeerConfig]) -> io::Result<()> {
        sys::set_gtsm(
            self.socket.as_fd(),
            self.v6,
            gtsm_floor(peers).unwrap_or(255),
        )
    }
}

/// The GTSM hop limit the listener itself enforces: our SYN-ACK must leave with TTL
/// 255 for a GTSM peer to accept it, and the minimum on arrival is set per connection
/// once the peer is known. A minimum on the listener would also turn away peers
/// without GTSM, so it is set there (to the loosest one) only when every peer uses
/// GTSM. `None`: no peer uses GTSM.
fn gtsm_floor(peers: &[PeerConfig]) -> Option<u8> {
    let loosest = peers.iter().filter_map(|p| p.ttl_security).max()?;
    let all = peers.iter().all(|p| p.ttl_security.is_some());
    Some(if all { loosest } else { 255 })
}

pub(super) fn start(
    addr: SocketAddr,
    peers: &[PeerConfig],
    senders: Vec<mpsc::Sender<Command>>,
    events: broadcast::Sender<Event>,
) -> io::Result<Listening> {
    let v6 = addr.is_ipv6();
    let sock = if v6 {
        TcpSocket::new_v6()?
    } else {
        TcpSocket::new_v4()?
    };
    sock.set_reuseaddr(true)?;
    for p in peers {
        if let Some(key) = &p.md5_password {
            sys::set_md5(sock.as_fd(), v6, p.address, key.as_bytes())?;
        }
    }
    if let Some(hops) = gtsm_floor(peers) {
        sys::set_gtsm(sock.as_fd(), v6, hops)?;
    }
    sock.bind(addr)?;
    let socket = Arc::new(sock.listen(128)?);
    let bound = socket.local_addr()?;
    let routes: Routes = Arc::new(Mutex::new(
        peers
            .iter()
            .zip(senders)
            .map(|(p, tx)| (p.address, p.ttl_security, tx))
            .collect(),
    ));
    let (listener, table) = (socket.clone(), routes.clone());
    let task = tokio::spawn(async move {
        loop {
            let (stream, from) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "BGP listener: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let ip = canonical(from.ip());
            let found = table
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|(a, _, _)| *a == ip)
                .map(|(_, gtsm, tx)| (*gtsm, tx.clone()));
            let Some((gtsm, tx)) = found else {
                tracing::warn!(%from, "BGP connection from an address that is not a peer: closed");
                let _ = events.send(Event::UnknownPeer { from });
                continue;
            };
            if let Some(hops) = gtsm
                && let Err(e) = sys::set_gtsm(stream.as_fd(), v6, hops)
            {
                tracing::warn!(%from, error = %e, "cannot set GTSM on the connection: closed");
                continue;
            }
            let _ = stream.set_nodelay(true);
            if tx.try_send(Command::Incoming(stream)).is_err() {
                tracing::warn!(%from, "peer task busy: incoming connection closed");
            }
        }
    });
    Ok(Listening {
        addr: bound,
        task,
        socket,
        routes,
        v6,
    })
}
