//! The flow exporters levee's listeners are tested against: softflowd (NetFlow v5, v9,
//! IPFIX) and pmacct's pmacctd (sFlow through its sfprobe plugin), replaying a capture or
//! watching an interface.

use super::Launch;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Output;

/// softflowd replaying the capture `pcap` to `collector` as NetFlow `version` ("5",
/// "9", or "10" for IPFIX), with IPv6 flows, until the capture ends.
///
/// softflowd ends a replay by raising SIGINT, which must not be ignored (it may be in a
/// test harness's children: hence `env --default-signal=INT`). With a control socket,
/// softflowd 1.1.0 in -r mode can hang in accept(), so there is none. Its exit status
/// after a replay is not meaningful; the records are.
pub fn softflowd_replay(pcap: &Path, collector: SocketAddr, version: &str) -> Output {
    let pid = std::env::temp_dir().join(format!(
        "levee-softflowd-{}-{version}.pid",
        std::process::id()
    ));
    let out = Launch::new("softflowd", "softflowd")
        .args(["-d", "-6", "-c", "none"])
        .arg("-p")
        .arg(&pid)
        .arg("-r")
        .arg(pcap)
        .args(["-n", &collector.to_string(), "-v", version])
        .via(["env", "--default-signal=INT"])
        .run();
    let _ = std::fs::remove_file(&pid);
    out
}

/// What pmacctd samples.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A capture file, replayed once.
    Savefile(&'a Path),
    /// A live interface.
    Interface(&'a str),
}

/// pmacctd's configuration: in the foreground, `input` sampled 1:`sampling` (every
/// packet if `None`) and exported as sFlow by the sfprobe plugin to `receiver`, with
/// `agent` as the agent address.
pub fn pmacctd_sfprobe_conf(
    input: Input<'_>,
    receiver: SocketAddr,
    agent: IpAddr,
    sampling: Option<u32>,
) -> String {
    let input = match input {
        Input::Savefile(p) => format!("pcap_savefile: {}", p.display()),
        Input::Interface(i) => format!("pcap_interface: {i}"),
    };
    let mut c = format!(
        "daemonize: false\n{input}\nplugins: sfprobe[s]\nsfprobe_receiver[s]: {receiver}\n\
         sfprobe_agentip[s]: {agent}\n"
    );
    if let Some(n) = sampling {
        c += &format!("sampling_rate: {n}\n");
    }
    c
}

impl Launch {
    /// pmacctd with the configuration file `conf` (see [`pmacctd_sfprobe_conf`]). A
    /// replay ends by raising SIGINT: run it [`via`](Launch::via)
    /// `env --default-signal=INT` (see [`pmacctd_replay`]).
    pub fn pmacctd(conf: &Path) -> Launch {
        Launch::new("pmacctd", "pmacctd").arg("-f").arg(conf)
    }
}

/// pmacctd with the configuration file `conf` (a savefile input), to completion.
pub fn pmacctd_replay(conf: &Path) -> Output {
    Launch::pmacctd(conf)
        .via(["env", "--default-signal=INT"])
        .run()
}
