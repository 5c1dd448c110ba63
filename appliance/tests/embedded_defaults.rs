//! `levee run` with no config at all: the embedded defaults serve the status page, the
//! API and /metrics on 127.0.0.1:9750, and the first log lines say where.
//!
//! The run happens in private mount and network namespaces (`unshare`), so the
//! defaults' own paths (/var/lib/levee, /run/levee, /etc/levee) are fresh tmpfs
//! mounts that vanish with it, and its ports (9750, 6343, 2055, 4739) are those of a
//! loopback nobody else uses. Needs root (CI runs as root); skipped otherwise, and
//! said so.

use levee_testkit::daemon::have;

fn root() -> bool {
    let uid = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let root = uid.is_ok_and(|u| u == "0");
    if !root {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: the namespaces need it"
        );
        println!("SKIPPED: not root, so no namespaces; this test did not run");
    }
    root
}

/// Fetches each path from 127.0.0.1:9750 inside the namespace and prints `=== path
/// status` and the body.
const FETCH: &str = r#"
import sys, time, urllib.request, urllib.error
deadline = time.time() + 30
for path in sys.argv[1:]:
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:9750" + path, timeout=5) as r:
                body, status = r.read().decode("utf-8", "replace"), r.status
            break
        except urllib.error.HTTPError as e:
            body, status = e.read().decode("utf-8", "replace"), e.code
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    print("=== %s %d" % (path, status))
    print(body)
"#;

#[test]
fn levee_run_with_no_config_serves_the_page_on_loopback_9750() {
    if !root() || !have("unshare") || !have("python3") {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_levee");
    let dir = levee_testkit::lab::scratch("embedded-defaults");
    let log = dir.join("levee.log");
    let fetch = dir.join("fetch.py");
    std::fs::write(&fetch, FETCH).unwrap();
    let script = format!(
        r#"set -e
mount --make-rprivate /
for d in /var/lib/levee /run/levee /etc/levee; do
  if [ -d "$d" ]; then mount -t tmpfs tmpfs "$d"; fi
done
mkdir -p /var/lib/levee /run/levee 2>/dev/null || {{ mount -t tmpfs tmpfs /var/lib; mount -t tmpfs tmpfs /run; mkdir -p /var/lib/levee /run/levee; }}
ip link set lo up
{bin} --log info run >{log} 2>&1 &
pid=$!
python3 {fetch} /api/v1/status /metrics /api/v1/mitigations || true
kill -TERM $pid
wait $pid || true
"#,
        log = log.display(),
        fetch = fetch.display(),
    );
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--net", "sh", "-c", &script])
        .output()
        .expect("unshare runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    let all = format!("stdout:\n{stdout}\nstderr:\n{stderr}\nlog:\n{log}");
    assert!(out.status.success(), "{all}");

    // The first log lines name the page's address.
    let first: Vec<&str> = log.lines().take(4).collect();
    assert!(
        first
            .iter()
            .any(|l| l.contains("status page at http://127.0.0.1:9750/")),
        "the page's address is not in the first lines: {first:#?}\n{all}"
    );
    assert!(
        log.contains("config <embedded defaults>") || log.contains("<embedded defaults>"),
        "{all}"
    );

    // Read-only for anyone on the host: status and lists answer, nothing needs a login.
    assert!(stdout.contains("=== /api/v1/status 200"), "{all}");
    let status = section(&stdout, "/api/v1/status");
    let v: serde_json::Value = serde_json::from_str(status.trim()).expect("status is JSON");
    assert_eq!(v["config"], "<embedded defaults>", "{status}");
    assert!(stdout.contains("=== /metrics 200"), "{all}");
    assert!(
        section(&stdout, "/metrics").contains("levee_flow_datagrams_total")
            || section(&stdout, "/metrics").contains("levee_"),
        "{all}"
    );
    assert!(stdout.contains("=== /api/v1/mitigations 200"), "{all}");
}

/// The body printed after `=== path`.
fn section<'a>(out: &'a str, path: &str) -> &'a str {
    let head = format!("=== {path} ");
    let start = out.find(&head).map(|i| i + head.len()).unwrap_or(out.len());
    let rest = &out[start..];
    let body = rest.find('\n').map_or("", |i| &rest[i + 1..]);
    body.find("\n=== ").map_or(body, |i| &body[..i])
}
