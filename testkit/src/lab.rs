//! What every test with a process or a socket of its own needs: free loopback ports,
//! a scratch directory, polling with a deadline, a command's output, and a network
//! namespace of its own.

use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A free TCP port on loopback (free when asked; tests that race for ports pick anew).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free UDP port on loopback.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh, empty scratch directory for one test: `levee-NAME-PID` in the temporary
/// directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("levee-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `secs` seconds with
/// `what` and the last value `f` reported through `last`.
pub fn poll<T>(what: &str, secs: u64, mut f: impl FnMut(&mut String) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    loop {
        if let Some(v) = f(&mut last) {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {secs} s waiting for {what}; last seen:\n{last}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A network namespace of the test's own (`levee-TAG-PID`), loopback up, deleted when
/// dropped. Needs root and iproute2.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates it afresh (removing a leftover of the same name); panics if it cannot.
    pub fn new(tag: &str) -> Netns {
        let name = format!("levee-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(ok.success(), "ip netns add {name}");
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip netns exec NAME`: the wrapper that runs a program inside (see
    /// [`Launch::via`](crate::Launch::via)).
    pub fn exec(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.name]
    }

    /// `ip -n NAME ARGS...`: its output (stderr appended), whatever the exit status.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", self.name.as_str()];
        a.extend_from_slice(args);
        output("ip", &a)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Runs a command and returns its stdout (stderr appended), whatever its exit status.
pub fn output(cmd: &str, args: &[&str]) -> String {
    match Command::new(cmd).args(args).output() {
        Ok(o) => {
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
        }
        Err(e) => format!("cannot run {cmd}: {e}"),
    }
}
