//! The socket options a BGP session needs that the standard library lacks: the only
//! `unsafe` in levee-bgp, each a single `setsockopt(2)` on a descriptor the caller owns.
//!
//! - [`set_md5`]: TCP MD5 signatures (RFC 2385) through Linux `TCP_MD5SIG`. Set on the
//!   connecting socket before `connect`, and on the listener for each peer address.
//! - [`set_gtsm`]: the Generalized TTL Security Mechanism (RFC 5082): send with TTL
//!   (hop limit) 255 and drop anything that arrives with less than 255 - `hops` + 1.

#![allow(unsafe_code)]

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// Longest key Linux accepts (`TCP_MD5SIG_MAXKEYLEN`).
pub const MD5_MAX_KEY: usize = 80;

/// `struct tcp_md5sig` from linux/tcp.h.
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: libc::c_int,
    key: [u8; MD5_MAX_KEY],
}

fn setsockopt<T>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    v: &T,
) -> io::Result<()> {
    // SAFETY: `v` is a valid, initialised value of the type the option expects, and its
    // size is passed alongside; the descriptor is borrowed, so it is open for the call.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets (or with an empty key, removes) the MD5 key for segments to and from `peer`.
/// `ipv6_socket`: the socket is AF_INET6, so an IPv4 peer is written IPv4-mapped.
pub fn set_md5(fd: BorrowedFd<'_>, ipv6_socket: bool, peer: IpAddr, key: &[u8]) -> io::Result<()> {
    if key.len() > MD5_MAX_KEY {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TCP MD5 key longer than 80 octets",
        ));
    }
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid (unspecified) value.
    let mut sig = TcpMd5Sig {
        addr: unsafe { std::mem::zeroed() },
        flags: 0,
        prefixlen: 0,
        keylen: key.len() as u16,
        ifindex: 0,
        key: [0; MD5_MAX_KEY],
    };
    sig.key[..key.len()].copy_from_slice(key);
    let v6 = match peer {
        IpAddr::V6(a) => Some(a),
        IpAddr::V4(a) if ipv6_socket => Some(a.to_ipv6_mapped()),
        IpAddr::V4(_) => None,
    };
    let storage = (&raw mut sig.addr).cast::<u8>();
    match (v6, peer) {
        (Some(a), _) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in6 and suitably aligned.
            unsafe { storage.cast::<libc::sockaddr_in6>().write(sin6) };
        }
        (None, IpAddr::V4(a)) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            unsafe { storage.cast::<libc::sockaddr_in>().write(sin) };
        }
        (None, IpAddr::V6(_)) => unreachable!("an IPv6 peer always takes the first arm"),
    }
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig)
}

/// GTSM (RFC 5082 §3): outgoing TTL 255, incoming at least 256 - `hops`.
pub fn set_gtsm(fd: BorrowedFd<'_>, ipv6_socket: bool, hops: u8) -> io::Result<()> {
    let ttl: libc::c_int = 255;
    let min: libc::c_int = 256 - libc::c_int::from(hops.max(1));
    // A dual-stack socket carries IPv4 for mapped peers: set both.
    setsockopt(fd, libc::IPPROTO_IP, libc::IP_TTL, &ttl).or_else(ignore_on_v6(ipv6_socket))?;
    setsockopt(fd, libc::IPPROTO_IP, libc::IP_MINTTL, &min).or_else(ignore_on_v6(ipv6_socket))?;
    if ipv6_socket {
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &ttl)?;
        setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, &min)?;
    }
    Ok(())
}

/// On an IPv6-only socket the IPv4 options may be refused; that is fine there.
fn ignore_on_v6(v6: bool) -> impl Fn(io::Error) -> io::Result<()> {
    move |e| if v6 { Ok(()) } else { Err(e) }
}
