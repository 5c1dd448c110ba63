//! Hostile flow sources (issue 15): forged and foreign exporters, implausible counters,
//! and the state-exhaustion attacks, each against the running binary over loopback.
//! The whole of 127.0.0.0/8 is local, so senders bind 127.0.0.2 and up to be strangers;
//! no address is added anywhere.

mod common;

use common::{Running, Totals, http_get, levee_with, list, metric, totals};
use levee_testkit::daemon::sigterm;
use levee_testkit::hostile::{
    NETFLOW9_TEMPLATE_DATAGRAMS, SFLOW_SUB_AGENTS, netflow9_data, netflow9_template,
    netflow9_templates, sflow_sub_agent,
};
use levee_testkit::lab::{free_port, free_udp_port, poll, scratch};
use levee_testkit::packet::{IPV4, ethernet, ipv4_udp};
use levee_testkit::sflow::{self, FlowSample};
use levee_testkit::{netflow5, netflow5::Record};
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running `levee flows listen` whose records are read as they come, so a test waits
/// for what it expects instead of for a fixed time.
struct Listening {
    child: Child,
    out: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
    err: std::thread::JoinHandle<String>,
}

impl Listening {
    /// `levee --log warn --config CFG flows listen ARGS`, once stderr shows `ready`.
    fn start(cfg: &Path, args: &[&str], ready: &str) -> Listening {
        let mut child = Command::new(env!("CARGO_BIN_EXE_levee"))
            .args(["--log", "warn", "--config", cfg.to_str().unwrap()])
            .args(["flows", "listen"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while err.read_line(&mut line).unwrap() > 0 && !line.contains(ready) {
            line.clear();
        }
        assert!(line.contains(ready), "levee exited before {ready:?}");
        let err = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = err.read_to_string(&mut rest);
            rest
        });
        let out = Arc::new(Mutex::new(String::new()));
        let lines = BufReader::new(child.stdout.take().unwrap());
        let o = out.clone();
        let reader = std::thread::spawn(move || {
            for l in lines.lines().map_while(Result::ok) {
                let mut o = o.lock().unwrap();
                o.push_str(&l);
                o.push('\n');
            }
        });
        Listening {
            child,
            out,
            reader,
            err,
        }
    }

    /// Waits (generously) until the records so far satisfy `done`.
    fn wait_for(&self, what: &str, done: impl Fn(&Totals) -> bool) {
        poll(what, 120, |why| {
            let t = totals(&self.out.lock().unwrap());
            *why = format!("{t:?}");
            done(&t).then_some(())
        });
    }

    /// SIGTERM, a clean exit; the records and the summary.
    fn stop(mut self) -> (Totals, String) {
        let status = sigterm(&mut self.child, Duration::from_secs(10));
        assert!(
            status.is_some_and(|s| s.success()),
            "levee did not stop cleanly"
        );
        self.reader.join().unwrap();
        let t = totals(&self.out.lock().unwrap());
        (t, self.err.join().unwrap())
    }
}

/// An sFlow datagram from `agent` (as the payload claims) with one sample, at 1:`rate`,
/// of a 1,500-byte UDP packet to `dst`.
fn sflow_sample(agent: Ipv4Addr, seq: u32, rate: u32, dst: Ipv4Addr) -> Vec<u8> {
    let udp = ipv4_udp(
        "192.0.2.77:4444".parse().unwrap(),
        SocketAddr::from((dst, 53)).to_string().parse().unwrap(),
        &[0; 32],
        false,
    );
    let frame = ethernet([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], IPV4, &udp);
    let sample = FlowSample {
        sequence: seq,
        rate,
        pool: seq.wrapping_mul(rate),
        input: 3,
        output: 4,
        ..FlowSample::default()
    };
    sflow::datagram(agent, seq, 0, &[sample.ethernet(1500, 0, &frame)])
}

/// A UDP socket on `from` (a loopback address).
fn sender(from: &str) -> UdpSocket {
    UdpSocket::bind((from, 0)).unwrap()
}

/// Sends `datagrams` to `port`, pausing now and then so the loopback queue keeps up.
fn send_all(s: &UdpSocket, port: u16, datagrams: impl IntoIterator<Item = Vec<u8>>) {
    for (i, d) in datagrams.into_iter().enumerate() {
        s.send_to(&d, ("127.0.0.1", port)).unwrap();
        if i % 200 == 199 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

fn write(dir: &Path, yaml: &str) -> std::path::PathBuf {
    let cfg = dir.join("levee.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    cfg
}

/// The summary line of `flows listen` for exporter `addr`.
fn exporter_line<'a>(summary: &'a str, addr: &str) -> Option<&'a str> {
    summary
        .lines()
        .find(|l| l.starts_with(&format!("exporter {addr} ")))
}

#[test]
fn foreign_sources_are_dropped_undecoded_and_exporters_matched_by_source_address() {
    let dir = scratch("hostile-foreign");
    let port = free_udp_port();
    let cfg = write(
        &dir,
        "exporters:\n  - name: edge1\n    address: 127.0.0.1\n",
    );
    let bind = format!("127.0.0.1:{port}");
    let levee = Listening::start(&cfg, &["--sflow", &bind], "listening for");
    let (forged, real) = (
        Ipv4Addr::new(198, 51, 100, 9),
        Ipv4Addr::new(198, 51, 100, 10),
    );
    // A stranger forges the configured exporter's agent address in its payload...
    let stranger = sender("127.0.0.2");
    send_all(
        &stranger,
        port,
        (0..50).map(|i| sflow_sample(Ipv4Addr::LOCALHOST, i, 1000, forged)),
    );
    // ...while the configured exporter's payload names some other agent: it is the UDP
    // source that counts, both ways.
    let edge1 = sender("127.0.0.1");
    let made_up = Ipv4Addr::new(203, 0, 113, 50);
    send_all(
        &edge1,
        port,
        (0..5).map(|i| sflow_sample(made_up, i, 1000, real)),
    );
    // One socket, read in order: once edge1's records are out, the stranger's datagrams
    // before them were handled too.
    levee.wait_for("edge1's records", |t| {
        t.get(&real.into()).is_some_and(|v| v.0 == 5)
    });
    let (t, summary) = levee.stop();
    assert_eq!(t.get(&real.into()).map(|v| v.0), Some(5), "{summary}");
    assert!(!t.contains_key(&forged.into()), "{summary}");
    assert!(
        summary.contains("foreign datagrams 50 "),
        "counted in total: {summary}"
    );
    assert!(
        summary.contains("foreign 127.0.0.2 datagrams 50"),
        "and per source: {summary}"
    );
    // No decoder state was made for the stranger.
    assert_eq!(exporter_line(&summary, "127.0.0.2"), None, "{summary}");
    let line = exporter_line(&summary, "127.0.0.1").expect(&summary);
    assert!(
        line.contains("datagrams 5 ") && line.contains("name edge1"),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn implausible_counters_are_discarded_and_trigger_nothing() {
    let dir = scratch("hostile-counters");
    let (sflow_port, netflow_port, web) = (free_udp_port(), free_udp_port(), free_port());
    let cfg = write(
        &dir,
        &format!(
            "listeners:\n  sflow: {{bind: 127.0.0.1:{sflow_port}}}\n  netflow: {{bind: 127.0.0.1:{netflow_port}}}\n  \
             ipfix: {{enabled: false}}\n\
             exporters:\n  - name: edge1\n    address: 127.0.0.1\n    max_rate: 10Gbps\n\
             protected_networks:\n  - name: lab\n    prefixes: [198.51.100.0/24]\n\
             mitigation: {{dry_run: true}}\n\
             store: {{path: {d}/levee.db}}\ncontrol: {{socket: {d}/control.sock}}\n\
             web: {{listen: 127.0.0.1:{web}}}\n",
            d = dir.display()
        ),
    );
    let levee = Running::start(&cfg, dir.join("levee.log"));
    let addr = format!("127.0.0.1:{web}");
    poll("the web endpoint", 60, |why| {
        *why = levee.log();
        std::net::TcpStream::connect(&addr).ok()
    });
    let victim = Ipv4Addr::new(198, 51, 100, 7);
    let edge1 = sender("127.0.0.1");
    // A few plausible samples (1:1000), which must get through...
    send_all(
        &edge1,
        sflow_port,
        (0..10).map(|i| sflow_sample(Ipv4Addr::new(203, 0, 113, 1), i, 1000, victim)),
    );
    // ...then the attack of the issue: 1,600 datagrams claiming 1:1,000,000 from a
    // made-up agent (12 Gbit of "traffic" per sample, 192 Gbit/s reported once)...
    let made_up = Ipv4Addr::new(203, 0, 113, 99);
    send_all(
        &edge1,
        sflow_port,
        (0..1600).map(|i| sflow_sample(made_up, 100 + i, 1_000_000, victim)),
    );
    // ...and NetFlow v5 records of 4 GB each (32 Gbit, beyond edge1's 10 Gbit/s).
    let huge = Record {
        dst: victim,
        octets: 4_000_000_000,
        packets: 1000,
        ..Record::default()
    };
    send_all(
        &edge1,
        netflow_port,
        (0..20).map(|i| netflow5::datagram(i, 0, &[huge])),
    );
    let sflow_l = "listener=\"sflow\",exporter=\"127.0.0.1\",name=\"edge1\"";
    let netflow_l = "listener=\"netflow\",exporter=\"127.0.0.1\",name=\"edge1\"";
    let body = poll("the discards in /metrics", 60, |why| {
        let (_, body) = http_get(&addr, "/metrics");
        let sampling = metric(
            &body,
            &format!("levee_exporter_discarded_records_total{{{sflow_l},reason=\"sampling\"}}"),
        );
        let rate = metric(
            &body,
            &format!("levee_exporter_discarded_records_total{{{netflow_l},reason=\"rate\"}}"),
        );
        *why = body.clone();
        (sampling == Some(1600.0) && rate == Some(20.0)).then_some(body)
    });
    let records = metric(&body, &format!("levee_exporter_records_total{{{sflow_l}}}"));
    assert_eq!(records, Some(10.0), "the plausible samples were kept");
    assert_eq!(
        metric(&body, "levee_flow_discarded_records_total"),
        Some(1620.0)
    );
    // Give detection a few ticks of what got through: no incident, no mitigation.
    std::thread::sleep(Duration::from_secs(3));
    let (_, body) = http_get(&addr, "/metrics");
    assert_eq!(
        metric(&body, "levee_detection_records_total"),
        Some(10.0),
        "{body}"
    );
    assert_eq!(metric(&body, "levee_incidents_started_total"), Some(0.0));
    let l = list(&cfg);
    assert_eq!(l["mitigations"].as_array().map(Vec::len), Some(0), "{l}");
    let log = levee.stop();
    assert!(!log.contains("incident started"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_legit_netflow9_exporter_decodes_after_each_exhaustion_attack() {
    let dir = scratch("hostile-caches");
    let port = free_udp_port();
    let cfg = write(
        &dir,
        &format!(
            "listeners:\n  netflow: {{bind: 127.0.0.1:{port}}}\n  sflow: {{enabled: false}}\n  \
             ipfix: {{enabled: false}}\n"
        ),
    );
    // No exporters: section, so the attacker is decoded (the worst case); levee says so.
    let (ok, check) = levee_with(&cfg, &["check"]);
    assert!(
        ok && check.contains("anyone who can reach the flow ports"),
        "{check}"
    );
    let levee = Listening::start(&cfg, &[], "no exporters: section");
    let attacker = sender("127.0.0.2");
    // Attack 1: 20,000 28-byte sFlow headers with distinct sub-agent ids.
    let agent = Ipv4Addr::new(203, 0, 113, 66);
    send_all(
        &attacker,
        port,
        (0..SFLOW_SUB_AGENTS).map(|i| sflow_sub_agent(agent, i)),
    );
    std::thread::sleep(Duration::from_millis(500));
    let first = Ipv4Addr::new(198, 51, 100, 7);
    let legit = sender("127.0.0.3");
    legit
        .send_to(&netflow9_template(1), ("127.0.0.1", port))
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    legit
        .send_to(&netflow9_data(2, &[first; 3], 10), ("127.0.0.1", port))
        .unwrap();
    // Attack 2: 1,664 NetFlow v9 datagrams of templates.
    send_all(
        &attacker,
        port,
        (0..NETFLOW9_TEMPLATE_DATAGRAMS).map(netflow9_templates),
    );
    std::thread::sleep(Duration::from_millis(500));
    let second = Ipv4Addr::new(198, 51, 100, 8);
    let next = sender("127.0.0.4");
    next.send_to(&netflow9_template(1), ("127.0.0.1", port))
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    next.send_to(&netflow9_data(2, &[second; 3], 10), ("127.0.0.1", port))
        .unwrap();
    levee.wait_for("the second exporter's records", |t| {
        t.contains_key(&second.into())
    });
    let (t, summary) = levee.stop();
    assert_eq!(t.get(&first.into()), Some(&(3, 30, 3000)), "{summary}");
    assert_eq!(t.get(&second.into()), Some(&(3, 30, 3000)), "{summary}");
    // The attacks did reach the bounds: the attacker's extra streams and templates were
    // refused (its own quota), not the newcomers'.
    let a = exporter_line(&summary, "127.0.0.2").expect(&summary);
    assert!(a.contains(" limit="), "{a}");
    for legit in ["127.0.0.3", "127.0.0.4"] {
        let l = exporter_line(&summary, legit).expect(&summary);
        assert!(l.contains("records 3 ") && l.contains("errors 0 "), "{l}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A NetFlow v9 datagram with its source id (header bytes 16..20, RFC 3954 §5.1)
/// replaced by `id`: another stream of the same exporter.
fn with_source_id(mut d: Vec<u8>, id: u32) -> Vec<u8> {
    d[16..20].copy_from_slice(&id.to_be_bytes());
    d
}

#[test]
fn the_exhaustion_attacks_from_a_listed_exporters_address_churn_only_its_streams() {
    let dir = scratch("hostile-listed");
    let port = free_udp_port();
    let cfg = write(
        &dir,
        &format!(
            "listeners:\n  netflow: {{bind: 127.0.0.1:{port}}}\n  sflow: {{enabled: false}}\n  \
             ipfix: {{enabled: false}}\nexporters:\n  - name: edge1\n    address: 127.0.0.2\n  \
             - name: edge2\n    address: 127.0.0.3\n"
        ),
    );
    let levee = Listening::start(&cfg, &[], "listening for");
    // edge2 announces its template before the attacks and never again.
    let edge2 = sender("127.0.0.3");
    edge2
        .send_to(&netflow9_template(1), ("127.0.0.1", port))
        .unwrap();
    // Both attacks from edge1's address (a forger, or edge1 itself gone mad).
    let spoofed = sender("127.0.0.2");
    let agent = Ipv4Addr::new(203, 0, 113, 66);
    send_all(
        &spoofed,
        port,
        (0..SFLOW_SUB_AGENTS).map(|i| sflow_sub_agent(agent, i)),
    );
    send_all(
        &spoofed,
        port,
        (0..NETFLOW9_TEMPLATE_DATAGRAMS).map(netflow9_templates),
    );
    std::thread::sleep(Duration::from_millis(500));
    // edge2's stream still decodes, without its template re-sent...
    let first = Ipv4Addr::new(198, 51, 100, 7);
    edge2
        .send_to(&netflow9_data(2, &[first; 3], 10), ("127.0.0.1", port))
        .unwrap();
    // ...and edge1's real router opens a new stream (source id 4242).
    let second = Ipv4Addr::new(198, 51, 100, 8);
    spoofed
        .send_to(
            &with_source_id(netflow9_template(1), 4242),
            ("127.0.0.1", port),
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    spoofed
        .send_to(
            &with_source_id(netflow9_data(2, &[second; 3], 10), 4242),
            ("127.0.0.1", port),
        )
        .unwrap();
    levee.wait_for("both exporters' records", |t| {
        t.contains_key(&first.into()) && t.contains_key(&second.into())
    });
    let (t, summary) = levee.stop();
    assert_eq!(t.get(&first.into()), Some(&(3, 30, 3000)), "{summary}");
    assert_eq!(t.get(&second.into()), Some(&(3, 30, 3000)), "{summary}");
    let l = exporter_line(&summary, "127.0.0.3").expect(&summary);
    assert!(l.contains("errors 0 "), "{l}");
    let _ = std::fs::remove_dir_all(&dir);
}
