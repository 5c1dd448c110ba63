//! Running a daemon's control tool (`gobgp`, `birdc`, `vtysh`) for an adapter: a
//! timeout, the output captured, and a failure that names the command and quotes
//! what the tool said.

use super::AdapterError;
use std::time::Duration;

/// How long a control tool may take.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Runs `program args`; its stdout on success, or an error naming the command with
/// the tool's own message (stderr, else stdout).
pub(super) async fn run(program: &str, args: &[String]) -> Result<String, AdapterError> {
    let shown = || {
        let mut s = program.to_string();
        for a in args {
            s.push(' ');
            s.push_str(a);
        }
        s
    };
    let out = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(TIMEOUT, out).await {
        Err(_) => {
            return Err(AdapterError(format!(
                "{}: no answer within {TIMEOUT:?}",
                shown()
            )));
        }
        Ok(Err(e)) => return Err(AdapterError(format!("cannot run {program}: {e}"))),
        Ok(Ok(o)) => o,
    };
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let said = if stderr.trim().is_empty() {
        stdout.trim()
    } else {
        stderr.trim()
    };
    let first = said.lines().next().unwrap_or("");
    Err(AdapterError(format!(
        "{} failed ({}): {first}",
        shown(),
        out.status
    )))
}
