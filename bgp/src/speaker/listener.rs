//! The shared listening socket: accepts a connection and hands it to the peer task for
//! its source address. Connections from anywhere else are closed and reported.

use super::{Command, Event, PeerConfig, sys};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use tokio::net::TcpSocket;
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

pub(super) fn start(
    addr: SocketAddr,
    peers: &[PeerConfig],
    senders: Vec<mpsc::Sender<Command>>,
    events: broadcast::Sender<Event>,
) -> io::Result<(SocketAddr, JoinHandle<()>)> {
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
    // Our SYN-ACK must leave with TTL 255 for a GTSM peer to accept it; the minimum on
    // arrival is set per connection once the peer is known.
    // A minimum on the listener itself would also turn away peers without GTSM, so it
    // is set there (to the loosest one) only when every peer uses GTSM.
    if let Some(loosest) = peers.iter().filter_map(|p| p.ttl_security).max() {
        let all = peers.iter().all(|p| p.ttl_security.is_some());
        sys::set_gtsm(sock.as_fd(), v6, if all { loosest } else { 255 })?;
    }
    sock.bind(addr)?;
    let listener = sock.listen(128)?;
    let bound = listener.local_addr()?;
    // Per peer address: its GTSM hops and its task.
    let routes: Vec<(IpAddr, Option<u8>, mpsc::Sender<Command>)> = peers
        .iter()
        .zip(senders)
        .map(|(p, tx)| (p.address, p.ttl_security, tx))
        .collect();
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
            let Some((_, gtsm, tx)) = routes.iter().find(|(a, _, _)| *a == ip) else {
                tracing::warn!(%from, "BGP connection from an address that is not a peer: closed");
                let _ = events.send(Event::UnknownPeer { from });
                continue;
            };
            if let Some(hops) = gtsm
                && let Err(e) = sys::set_gtsm(stream.as_fd(), v6, *hops)
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
    Ok((bound, task))
}
