//! Launching the real software the interop tests run against, and stopping it.
//!
//! A [`Launch`] is a command to be: a program, arguments, environment, and optionally a
//! wrapper it runs through (`ip netns exec NS`, a lab script, `env --default-signal=INT`).
//! [`Launch::start`] runs it in the background as a [`Daemon`], its output in a log file,
//! stopped (SIGTERM, then SIGKILL) when dropped; [`Launch::run`] runs it to completion.
//! The launchers of each program build on it: [`bgp`] (gobgpd, BIRD, FRR, ExaBGP),
//! [`rtr`] (StayRTR), [`exporter`] (softflowd, pmacct).
//!
//! [`have`] decides whether a test can run: outside CI a missing tool skips the test
//! and says so; in CI (`CI` set), where .ci/run installs every tool, it fails it.

pub mod bgp;
pub mod exporter;
pub mod rtr;

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Whether `tool` (a name on PATH, or a path) can be run. Outside CI a missing tool
/// skips the calling test (printed); in CI it is a failure, since .ci/run installs every
/// tool the tests use.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{tool} is required in CI");
        println!("SKIPPED: {tool} is not installed; this test did not run");
    }
    found
}

/// Whether all these tools are installed (see [`have`]).
pub fn have_all(tools: &[&str]) -> bool {
    tools.iter().all(|t| have(t))
}

/// Sends SIGTERM (unless it has exited already) and waits up to `within` for the exit
/// status; `None` (and a SIGKILL) if the process is still running then.
pub fn sigterm(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        return Some(status);
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A command to launch.
#[derive(Debug, Clone)]
pub struct Launch {
    name: String,
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    wrapper: Vec<OsString>,
}

impl Launch {
    /// `program`, known as `name` in messages, with no arguments yet.
    pub fn new(name: &str, program: impl AsRef<OsStr>) -> Launch {
        Launch {
            name: name.into(),
            program: program.as_ref().into(),
            args: Vec::new(),
            env: Vec::new(),
            wrapper: Vec::new(),
        }
    }

    /// One more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Launch {
        self.args.push(arg.as_ref().into());
        self
    }

    /// More arguments.
    pub fn args<I, S>(mut self, args: I) -> Launch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().into()));
        self
    }

    /// An environment variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Launch {
        self.env.push((key.as_ref().into(), value.as_ref().into()));
        self
    }

    /// Runs the program through `wrapper` (such as `ip netns exec NS`), which must exec
    /// it so that signals reach it. Wrappers given later wrap the earlier ones.
    pub fn via<I, S>(mut self, wrapper: I) -> Launch
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut w: Vec<OsString> = wrapper.into_iter().map(|a| a.as_ref().into()).collect();
        w.append(&mut self.wrapper);
        self.wrapper = w;
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn command(&self) -> Command {
        let mut words = self.wrapper.iter().chain([&self.program]);
        let mut c = Command::new(words.next().unwrap());
        c.args(words).args(&self.args);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c.stdin(Stdio::null());
        c
    }

    /// Starts it in the background, stdout and stderr to `log` (panics if it cannot
    /// start).
    pub fn start(self, log: &Path) -> Daemon {
        let f = std::fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let child = self
            .command()
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.program.display()));
        Daemon {
            name: self.name,
            child,
        }
    }

    /// Runs it to completion and returns its status and output (panics if it cannot
    /// start).
    pub fn run(self) -> Output {
        self.command()
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.program.display()))
    }
}

/// A background process, stopped when dropped.
#[derive(Debug)]
pub struct Daemon {
    /// What it was launched as.
    pub name: String,
    child: Child,
}

impl Daemon {
    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Stops it (SIGTERM; SIGKILL after 5 s) and waits for it to exit.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        sigterm(&mut self.child, Duration::from_secs(5));
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrappers_run_the_program() {
        let out = Launch::new("echo", "echo")
            .args(["a", "b"])
            .via(["env", "X=1"])
            .run();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a b\n");
        let out = Launch::new("sh", "sh")
            .args(["-c", "echo $LEVEE_TESTKIT"])
            .env("LEVEE_TESTKIT", "yes")
            .run();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "yes\n");
    }

    #[test]
    fn a_daemon_is_stopped_when_dropped() {
        let log = std::env::temp_dir().join(format!("testkit-daemon-{}", std::process::id()));
        let d = Launch::new("sleep", "sleep").args(["30"]).start(&log);
        let started = Instant::now();
        drop(d);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "SIGTERM ended it, no SIGKILL needed"
        );
        let _ = std::fs::remove_file(log);
        assert!(have("sh"));
    }
}
