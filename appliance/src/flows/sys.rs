//! Safe wrappers over the two kernel interfaces the inputs use directly: the only
//! `unsafe` in levee.
//!
//! - [`MultiRecv`]: batched UDP receive with `recvmmsg(2)`, up to [`BATCH`] datagrams per
//!   system call. The kernel takes arrays of raw pointers; `MultiRecv` owns every buffer
//!   they name, rebuilds the pointer arrays right before each call (so nothing can
//!   dangle), and exposes only safe slices.
//! - [`wait_readable`]: `poll(2)` on one descriptor with a timeout.

#![allow(unsafe_code)]

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::RawFd;

/// Datagrams per call.
pub const BATCH: usize = 32;
/// Largest UDP payload; the kernel only writes what a datagram holds.
const MAX_DATAGRAM: usize = 65_535;

/// Receive buffers and the kernel's per-message headers for one socket.
pub struct MultiRecv {
    bufs: Vec<Box<[u8]>>,
    addrs: Vec<libc::sockaddr_storage>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
    received: usize,
}

// SAFETY: the raw pointers inside `iovecs` and `headers` only ever point into buffers
// owned by this same struct, are rewritten before every use, and are never shared; moving
// the whole struct to another thread moves what they point to along with it (the boxed
// buffers and Vec heap storage do not move).
unsafe impl Send for MultiRecv {}

impl std::fmt::Debug for MultiRecv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiRecv")
            .field("received", &self.received)
            .finish()
    }
}

impl Default for MultiRecv {
    fn default() -> Self {
        // SAFETY: sockaddr_storage, iovec and mmsghdr are plain C structs for which all-zero
        // bytes are a valid value (null pointers, zero lengths).
        let zeroed = || unsafe { std::mem::zeroed::<libc::sockaddr_storage>() };
        MultiRecv {
            bufs: (0..BATCH)
                .map(|_| vec![0u8; MAX_DATAGRAM].into_boxed_slice())
                .collect(),
            addrs: (0..BATCH).map(|_| zeroed()).collect(),
            iovecs: (0..BATCH)
                .map(|_| libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                })
                .collect(),
            headers: (0..BATCH)
                .map(|_| unsafe { std::mem::zeroed::<libc::mmsghdr>() })
                .collect(),
            received: 0,
        }
    }
}

impl MultiRecv {
    /// Receives up to [`BATCH`] queued datagrams. With `wait`, blocks until at least one
    /// arrives (or the socket's receive timeout passes: `WouldBlock`), then takes what is
    /// queued (MSG_WAITFORONE); without, never blocks. Returns how many.
    pub fn recv(&mut self, fd: RawFd, wait: bool) -> io::Result<usize> {
        self.received = 0;
        for i in 0..BATCH {
            self.iovecs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr().cast(),
                iov_len: MAX_DATAGRAM,
            };
            let h = &mut self.headers[i];
            h.msg_hdr.msg_name = (&raw mut self.addrs[i]).cast();
            h.msg_hdr.msg_namelen =
                std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_hdr.msg_iov = &raw mut self.iovecs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = std::ptr::null_mut();
            h.msg_hdr.msg_controllen = 0;
            h.msg_hdr.msg_flags = 0;
            h.msg_len = 0;
        }
        // SAFETY: every header points at a live iovec and sockaddr_storage owned by self,
        // each iovec at a live buffer of MAX_DATAGRAM bytes; BATCH headers exist. The
        // kernel writes at most those lengths.
        let flags = if wait {
            libc::MSG_WAITFORONE
        } else {
            libc::MSG_DONTWAIT
        };
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                flags,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        self.received = n as usize;
        Ok(self.received)
    }

    /// The `i`-th datagram of the last call: its source and payload.
    pub fn get(&self, i: usize) -> Option<(SocketAddr, &[u8])> {
        if i >= self.received {
            return None;
        }
        let len = (self.headers[i].msg_len as usize).min(MAX_DATAGRAM);
        Some((sockaddr(&self.addrs[i])?, &self.bufs[i][..len]))
    }
}

/// Waits until `fd` is readable or `timeout` passes. Returns whether it is readable.
pub fn wait_readable(fd: RawFd, timeout: std::time::Duration) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: one valid pollfd that lives across the call.
    let n = unsafe { libc::poll(&raw mut p, 1, ms) };
    match n {
        n if n < 0 => Err(io::Error::last_os_error()),
        0 => Ok(false),
        _ => Ok(true),
    }
}

/// Converts the kernel's source address.
fn sockaddr(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: ss_family says this storage holds a sockaddr_in, which it can contain.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be(a.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            // IPv4 exporters on a dual-stack [::] socket arrive as ::ffff:a.b.c.d.
            let ip = ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4);
            Some(SocketAddr::new(ip, u16::from_be(a.sin6_port)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn receives_a_batch_with_sources() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut m = MultiRecv::default();
        assert_eq!(
            m.recv(rx.as_raw_fd(), false).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        for i in 0..40u8 {
            tx.send_to(&[i; 3], rx.local_addr().unwrap()).unwrap();
        }
        assert_eq!(m.recv(rx.as_raw_fd(), false).unwrap(), BATCH);
        let (from, data) = m.get(5).unwrap();
        assert_eq!(from, tx.local_addr().unwrap());
        assert_eq!(data, &[5, 5, 5]);
        assert!(m.get(BATCH).is_none());
        assert_eq!(m.recv(rx.as_raw_fd(), false).unwrap(), 8);
        assert_eq!(m.get(7).unwrap().1, &[39, 39, 39]);
        assert!(m.get(8).is_none());
    }

    #[test]
    fn poll_times_out_then_sees_data() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let timeout = std::time::Duration::from_millis(20);
        assert!(!wait_readable(rx.as_raw_fd(), timeout).unwrap());
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .send_to(b"x", rx.local_addr().unwrap())
            .unwrap();
        assert!(wait_readable(rx.as_raw_fd(), timeout).unwrap());
    }

    #[test]
    fn ipv6_and_mapped_sources() {
        let rx = std::net::UdpSocket::bind("[::1]:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = std::net::UdpSocket::bind("[::1]:0").unwrap();
        tx.send_to(b"x", rx.local_addr().unwrap()).unwrap();
        let mut m = MultiRecv::default();
        assert_eq!(m.recv(rx.as_raw_fd(), false).unwrap(), 1);
        assert_eq!(m.get(0).unwrap().0, tx.local_addr().unwrap());
    }
}
