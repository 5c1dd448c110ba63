//! A BGP lab on loopback: `levee bgp` driven through its stdin, against real daemons
//! (gobgpd, BIRD, FRR's bgpd, ExaBGP; launched with the test kit) in a scratch
//! directory, killed when the test ends. Ports are picked free per test so the interop
//! tests run in parallel.

use levee_testkit::Daemon;
use levee_testkit::lab::{free_port, poll, scratch};
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The rules every interop test announces, as `levee bgp` reads them.
pub(crate) mod rules {
    /// Every IPv4 component, and four actions.
    pub(crate) const ALL_V4: &str = "flow destination 192.0.2.1/32 source 198.51.100.0/24 \
        protocol udp port ==53 destination-port >=8000&<=8080 ==443 source-port >1023 \
        icmp-type ==3 icmp-code ==1 tcp-flags =SA&!R packet-length >=1400&<=1500 dscp ==46 \
        fragment is-fragment then rate-limit 125000 action sample-terminal redirect 65000:100 \
        mark 10";
    /// Discard and the four-octet-AS redirect.
    pub(crate) const DISCARD_AS4: &str = "flow destination 192.0.2.3/32 protocol tcp \
        destination-port ==80 then discard redirect-as4 4200000000:9";
    /// Discard alone.
    pub(crate) const DISCARD: &str =
        "flow destination 192.0.2.5/32 protocol tcp destination-port ==80 then discard";
    /// Packet-rate limit and the IPv4-address redirect.
    pub(crate) const PPS_REDIRECT_IP: &str = "flow destination 192.0.2.4/32 protocol udp \
        then rate-limit-packets 1000 redirect 192.0.2.1:7";
    /// IPv6 with next header, ports and flow label (RFC 8956).
    pub(crate) const V6_LABEL: &str = "flow destination 2001:db8::1/128 \
        source 2001:db8:1::/48 protocol ==tcp label ==5 then discard";
    /// IPv6 without the flow label (for peers that do not take it).
    pub(crate) const V6_PORTS: &str = "flow destination 2001:db8::1/128 \
        source 2001:db8:1::/48 protocol ==tcp destination-port ==80 then discard";
    /// IPv6 prefix offset (RFC 8956 §3.1).
    pub(crate) const V6_OFFSET: &str = "flow destination 2001:db8::/64/8 then discard";
    /// RTBH of an IPv4 /32.
    pub(crate) const RTBH_V4: &str =
        "route 192.0.2.7/32 next-hop 192.0.2.66 blackhole large-community 64500:666:1";
    /// RTBH of an IPv6 /128.
    pub(crate) const RTBH_V6: &str = "route 2001:db8::7/128 next-hop 2001:db8::66 blackhole";
}

/// A running `levee bgp`.
pub(crate) struct LeveeBgp {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    /// Everything printed so far.
    pub(crate) seen: Vec<Value>,
}

impl LeveeBgp {
    /// Writes `config` to `dir/levee.yaml` and starts `levee bgp` on it.
    pub(crate) fn start(dir: &Path, config: &str, args: &[&str]) -> LeveeBgp {
        let cfg = dir.join("levee.yaml");
        std::fs::write(&cfg, config).unwrap();
        let log = std::fs::File::create(dir.join("levee.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_levee"))
            .args(["bgp", "--log", "info,levee_bgp=debug", "-c"])
            .arg(&cfg)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start levee bgp");
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in out.lines() {
                let Ok(l) = l else { break };
                let v: Value = serde_json::from_str(&l)
                    .unwrap_or_else(|e| panic!("levee bgp printed a non-JSON line {l:?}: {e}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        LeveeBgp {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Sends one command line.
    pub(crate) fn cmd(&mut self, line: &str) {
        let s = self.stdin.as_mut().unwrap();
        writeln!(s, "{line}").unwrap();
        s.flush().unwrap();
    }

    /// Waits up to `secs` for a printed line (from now on) that satisfies `f`.
    pub(crate) fn wait(&mut self, what: &str, secs: u64, f: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if f(&v) {
                        return v;
                    }
                }
                Err(_) => panic!(
                    "timed out after {secs} s waiting for {what}; levee printed:\n{}",
                    self.seen
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }

    /// Sends a command and returns its `result` (panics on an error answer).
    pub(crate) fn ok(&mut self, line: &str) -> Value {
        self.cmd(line);
        let v = self.wait(line, 10, |v| {
            v["command"] == line && (v["event"] == "ok" || v["event"] == "error")
        });
        assert_eq!(v["event"], "ok", "{line}: {v}");
        v["result"].clone()
    }

    /// The first peer's status.
    pub(crate) fn status(&mut self) -> Value {
        self.ok("status")[0].clone()
    }

    /// Waits for the first peer to be Established `count` times in all.
    pub(crate) fn established(&mut self, count: u64, secs: u64) -> Value {
        poll(&format!("session established ({count})"), secs, |last| {
            let s = self.status();
            *last = s.to_string();
            (s["state"] == "Established"
                && s["established_count"].as_u64() >= Some(count)
                && s["routes_pending"] == 0)
                .then_some(s)
        })
    }

    /// Waits for the first peer's last NOTIFICATION `which` ("sent" or "received") to
    /// be set, and returns the status.
    pub(crate) fn notification(&mut self, which: &str, secs: u64) -> Value {
        let key = format!("last_notification_{which}");
        poll(&format!("a NOTIFICATION {which}"), secs, |last| {
            let s = self.status();
            *last = s.to_string();
            s[&key]["code"].is_u64().then_some(s)
        })
    }

    /// Stops it with SIGTERM and returns the final `stopped` line.
    pub(crate) fn stop(mut self) -> Value {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let v = self.wait("stopped", 15, |v| v["event"] == "stopped");
        let st = self.child.wait().unwrap();
        assert!(st.success(), "levee bgp exited with {st}");
        v
    }
}

impl Drop for LeveeBgp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `bgp` config section for one peer on loopback.
pub(crate) fn levee_config(name: &str, port: u16, remote_as: u32, extra: &str) -> String {
    format!(
        "bgp:\n  local_as: 64500\n  router_id: 192.0.2.1\n  connect_retry: 500ms\n  \
         hold_time: 30s\n  peers:\n    - name: {name}\n      address: 127.0.0.1\n      \
         port: {port}\n      remote_as: {remote_as}\n{extra}"
    )
}

/// What a daemon under test is, as [`interop`] needs to know it.
pub(crate) struct Site {
    /// The peer's name in levee's config.
    pub(crate) name: &'static str,
    /// The scratch directory (levee's config and log go there too).
    pub(crate) dir: PathBuf,
    /// The daemon's BGP port.
    pub(crate) port: u16,
    /// The daemon's AS.
    pub(crate) asn: u32,
    /// The routes levee announces to this daemon.
    pub(crate) routes: &'static [&'static str],
}

impl Site {
    /// A site in a fresh scratch directory on a free port.
    pub(crate) fn new(name: &'static str, asn: u32, routes: &'static [&'static str]) -> Site {
        Site {
            name,
            dir: scratch(name),
            port: free_port(),
            asn,
            routes,
        }
    }
}

/// A BGP daemon under test, as [`interop`] drives it.
pub(crate) trait Lab {
    /// Name, directory, port, AS and routes.
    fn site(&self) -> &Site;
    /// Starts the daemon expecting levee in `peer_as`; `n` numbers its files.
    fn start(&self, peer_as: u32, n: u32) -> Daemon;
    /// Whether the daemon shows `route` (one of [`Site::routes`]) as levee meant it;
    /// `last` gets what it showed, for the failure message.
    fn shows(&self, route: &str, last: &mut String) -> bool;
    /// Waits until the daemon shows every route of [`Site::routes`] as levee meant it.
    fn all_present(&self) {
        let site = self.site();
        for r in site.routes {
            poll(&format!("{r:?} at {}", site.name), 20, |last| {
                self.shows(r, last).then_some(())
            });
        }
    }
    /// Waits until the daemon holds nothing from levee.
    fn all_gone(&self);
    /// Drops the session from the daemon's side (or as near as the daemon allows).
    fn flap(&self, levee: &mut LeveeBgp);
    /// Checks to run once the routes are first in place.
    fn with_routes(&self, _levee: &mut LeveeBgp) {}
}

/// What [`interop`] leaves for checks of one daemon.
pub(crate) struct Ran {
    /// levee's last line after its graceful shutdown.
    pub(crate) stopped: Value,
    /// The daemon that levee refused (expecting another AS), still running.
    pub(crate) daemon: Daemon,
}

/// The scenario every interop test runs: establish; announce every route and compare
/// the daemon's rendering; withdraw; flap; restart the daemon; shut levee down with
/// withdrawals; then a wrong AS on the daemon's side and on levee's, each ending in a
/// NOTIFICATION 2/2 (Bad Peer AS) and a clear error.
pub(crate) fn interop(lab: &impl Lab) -> Ran {
    let site = lab.site();
    let dir = &site.dir;
    let cfg = levee_config(site.name, site.port, site.asn, "");
    let announce = |levee: &mut LeveeBgp, verb: &str| {
        for r in site.routes {
            levee.ok(&format!("{verb} {r}"));
        }
    };
    let daemon = lab.start(64500, 1);
    let mut levee = LeveeBgp::start(dir, &cfg, &[]);
    let st = levee.established(1, 30);
    assert_eq!(st["families"].as_array().unwrap().len(), 4, "{st}");

    // Every component and action arrives as meant; withdrawals remove them.
    announce(&mut levee, "announce");
    lab.all_present();
    lab.with_routes(&mut levee);
    announce(&mut levee, "withdraw");
    lab.all_gone();

    // A flap re-advertises them.
    announce(&mut levee, "announce");
    lab.all_present();
    lab.flap(&mut levee);
    levee.established(2, 30);
    lab.all_present();

    // The daemon restarts: levee reconnects and sends the table again.
    daemon.stop();
    let daemon = lab.start(64500, 2);
    levee.established(3, 30);
    lab.all_present();

    // Shutdown withdraws everything before the Cease.
    let stopped = levee.stop();
    lab.all_gone();
    daemon.stop();

    // The daemon expects another AS: it refuses our OPEN.
    let daemon = lab.start(65999, 3);
    let mut levee = LeveeBgp::start(dir, &cfg, &[]);
    let st = levee.notification("received", 30);
    let n = &st["last_notification_received"];
    assert_eq!((&n["code"], &n["subcode"]), (&2.into(), &2.into()), "{st}");
    assert!(
        st["last_error"].as_str().unwrap().contains("bad peer AS"),
        "{st}"
    );
    drop(levee);
    daemon.stop();

    // levee expects another AS: it answers the daemon's OPEN with Bad Peer AS.
    let daemon = lab.start(64500, 4);
    let wrong = levee_config(site.name, site.port, 65998, "");
    let mut levee = LeveeBgp::start(dir, &wrong, &[]);
    let st = levee.notification("sent", 30);
    let n = &st["last_notification_sent"];
    assert_eq!((&n["code"], &n["subcode"]), (&2.into(), &2.into()), "{st}");
    assert!(
        st["last_error"]
            .as_str()
            .unwrap()
            .contains("peer AS is not the configured one"),
        "{st}"
    );
    Ran { stopped, daemon }
}
