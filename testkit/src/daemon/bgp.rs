//! The BGP daemons levee's speaker and adapters are tested against, each with its
//! control program: gobgpd (`gobgp`), BIRD 2 (`birdc`), FRR (`vtysh`), ExaBGP.
//! Configuration files are the test's; what is common to every test is here.

use super::Launch;
use crate::lab::output;
use std::path::Path;

/// Where Debian installs FRR's daemons (zebra, staticd, bgpd...).
pub const FRR_DIR: &str = "/usr/lib/frr";

impl Launch {
    /// gobgpd with the configuration file `conf`, its API on 127.0.0.1:`api`, logging at
    /// info.
    pub fn gobgpd(conf: &Path, api: u16) -> Launch {
        Launch::new("gobgpd", "gobgpd")
            .args(["-f"])
            .arg(conf)
            .args(["--api-hosts", &format!("127.0.0.1:{api}"), "-l", "info"])
    }

    /// BIRD in the foreground with the configuration file `conf` and its control socket
    /// at `socket`.
    pub fn bird(conf: &Path, socket: &Path) -> Launch {
        Launch::new("bird", "bird")
            .args(["-f", "-c"])
            .arg(conf)
            .arg("-s")
            .arg(socket)
    }

    /// FRR's `daemon` (`zebra`, `staticd`, `bgpd`...) with the configuration file `conf`,
    /// its pid file and vty socket in `dir` (where `vtysh` finds them, see [`vtysh`]).
    pub fn frr(daemon: &str, conf: &Path, dir: &Path) -> Launch {
        Launch::new(daemon, Path::new(FRR_DIR).join(daemon))
            .arg("-f")
            .arg(conf)
            .arg("-i")
            .arg(dir.join(format!("{daemon}.pid")))
            .arg("--vty_socket")
            .arg(dir)
    }

    /// ExaBGP with the configuration file `conf`, as root, logging to `log` (its
    /// stdout and stderr go where [`Launch::start`] says); settings such as
    /// `exabgp.tcp.port` are more environment variables.
    pub fn exabgp(conf: &Path, log: &Path) -> Launch {
        Launch::new("exabgp", "exabgp")
            .arg(conf)
            .env("exabgp.daemon.user", "root")
            .env("exabgp.log.destination", log)
    }
}

/// gobgpd's TOML: AS 64501 (router id `router_id`) listening on `local:port`
/// (`port` -1: not at all), with one passive neighbor at `neighbor` in AS `peer_as`
/// for `families`; `neighbor_extra` are more lines for the neighbor's config block
/// (such as `auth-password = "..."`).
pub fn gobgpd_conf(
    router_id: &str,
    local: &str,
    port: i32,
    neighbor: &str,
    peer_as: u32,
    families: &[&str],
    neighbor_extra: &str,
) -> String {
    let mut c = format!(
        "[global.config]\n  as = 64501\n  router-id = \"{router_id}\"\n  port = {port}\n  \
         local-address-list = [\"{local}\"]\n\n[[neighbors]]\n  [neighbors.config]\n    \
         neighbor-address = \"{neighbor}\"\n    peer-as = {peer_as}\n{neighbor_extra}  \
         [neighbors.transport.config]\n    passive-mode = true\n  \
         [neighbors.timers.config]\n    idle-hold-time-after-reset = 1\n"
    );
    for f in families {
        c += &format!(
            "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{f}\"\n"
        );
    }
    c
}

/// `gobgp -u 127.0.0.1 -p API ARGS...`: gobgpd's CLI against the API on `api`.
pub fn gobgp(api: u16, args: &[&str]) -> String {
    let port = api.to_string();
    let mut a = vec!["-u", "127.0.0.1", "-p", &port];
    a.extend_from_slice(args);
    output("gobgp", &a)
}

/// `birdc -s SOCKET ARGS...`.
pub fn birdc(socket: &Path, args: &[&str]) -> String {
    let mut a = vec!["-s", socket.to_str().unwrap()];
    a.extend_from_slice(args);
    output("birdc", &a)
}

/// `vtysh --vty_socket DIR -c CMD...`: FRR's shell against the daemons of `dir`.
pub fn vtysh(dir: &Path, cmds: &[&str]) -> String {
    let mut a = vec!["--vty_socket", dir.to_str().unwrap()];
    for c in cmds {
        a.extend(["-c", c]);
    }
    output("vtysh", &a)
}
