//! Listener tests: a consumer that lags loses records (counted), never the socket.

use super::*;
use crate::flows::settings::ListenerKind;
use levee_testkit::packet::{IPV4, ethernet, ipv4_udp};
use levee_testkit::sflow::{self, FlowSample};
use std::net::Ipv4Addr;

/// An sFlow datagram with one flow sample of a sampled IPv4/UDP header.
fn sflow_datagram(seq: u32) -> Vec<u8> {
    let udp = ipv4_udp(
        "192.0.2.1:53".parse().unwrap(),
        "198.51.100.1:12345".parse().unwrap(),
        &[],
        false,
    );
    let frame = ethernet([0x02, 0, 0, 0, 0, 1], [0x02, 0, 0, 0, 0, 2], IPV4, &udp);
    let sample = FlowSample {
        sequence: 1,
        source_id: 3,
        rate: 100,
        input: 1,
        output: 2,
        ..FlowSample::default()
    };
    let samples = [sample.ethernet(60, 0, &frame)];
    sflow::datagram(Ipv4Addr::new(192, 0, 2, 1), seq, 0, &samples)
}

#[test]
fn lagging_consumer_drops_and_counts_without_blocking_the_socket() {
    let cfg = Listener {
        kind: ListenerKind::Sflow,
        bind: "127.0.0.1:0".parse().unwrap(),
        receive_buffer: 4 << 20,
    };
    let sock = bind(&cfg).unwrap();
    let addr = sock.local_addr().unwrap();
    // Capacity 1 and nobody reading: every batch after the first is dropped.
    let (tx, rx) = mpsc::channel(1);
    let ctx = ListenerContext {
        name: "sflow",
        limits: Limits::default(),
        allowlist: Arc::new(crate::flows::exporters::LiveAllowlist::new(
            crate::flows::exporters::Allowlist::new(
                None,
                &crate::flows::settings::IngestBounds::default(),
            ),
        )),
        tx,
        counters: Arc::new(IngestCounters::default()),
        table: ExporterTable::default(),
        stop: Arc::new(AtomicBool::new(false)),
    };
    let thread = spawn(sock, ctx.clone()).unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let total = 20_000u64;
    for seq in 0..total {
        sender.send_to(&sflow_datagram(seq as u32), addr).unwrap();
        if seq % 500 == 499 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while ctx.counters.datagrams.load(Relaxed) < total {
        assert!(
            Instant::now() < deadline,
            "listener stopped reading: {}",
            ctx.counters.render()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    ctx.stop.store(true, Relaxed);
    thread.join().unwrap();
    // Every datagram was read and decoded; what the full channel could not take was
    // dropped and counted, and the books balance: queued + dropped = decoded.
    let records = ctx.counters.records.load(Relaxed);
    let dropped = ctx.counters.dropped_records.load(Relaxed);
    assert_eq!(records, total);
    assert!(dropped > 0 && dropped < total, "{}", ctx.counters.render());
    assert_eq!(rx.len(), 1);
    let mut rx = rx;
    let queued = rx.try_recv().unwrap().records.len() as u64;
    assert_eq!(queued + dropped, total);
    let t = ctx.table.lock().unwrap();
    let stats = t.exporters.values().next().unwrap();
    assert_eq!(
        (stats.datagrams, stats.records, stats.lost_datagrams),
        (total, total, 0)
    );
}

/// Log lines written while `f` runs.
fn logged(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let out = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_writer(move || out.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(sub, f);
    let text = buf.0.lock().unwrap().clone();
    String::from_utf8(text).unwrap()
}

#[test]
fn an_exhausted_budget_is_warned_about_rate_limited() {
    let mut log = LogLimiter::new(5, Duration::from_secs(60));
    let source: IpAddr = "192.0.2.1".parse().unwrap();
    let text = logged(|| {
        for _ in 0..20 {
            over_budget(&mut log, source, Some("edge1"), 7);
        }
    });
    let want = "exporter edge1 exceeded its max_rate: records discarded; a spoofed source \
                may be using its address";
    assert_eq!(text.matches(want).count(), 5, "{text}");
    assert!(text.contains("discarded=7"), "{text}");
    // An unconfigured source is named by its address.
    let mut log = LogLimiter::new(5, Duration::from_secs(60));
    let text = logged(|| over_budget(&mut log, source, None, 1));
    assert!(
        text.contains("exporter 192.0.2.1 exceeded its max_rate"),
        "{text}"
    );
}

#[test]
fn a_new_allowlist_reclassifies_what_the_decoder_holds() {
    let bounds = crate::flows::settings::IngestBounds::default();
    let edge = crate::flows::settings::Exporter {
        name: "edge1".into(),
        prefix: "192.0.2.0/24".parse().unwrap(),
        sampling: None,
        interfaces: None,
        max_bps: None,
    };
    let listed = Allowlist::new(Some(std::slice::from_ref(&edge)), &bounds);
    let source: IpAddr = "192.0.2.1".parse().unwrap();
    let mut rx = Receiver::new(Limits::default());
    let Admission::Accept(policy) = listed.admit(source) else {
        panic!("listed");
    };
    rx.decoder
        .decode_from(source, policy, 1, &sflow_datagram(1), &mut rx.batch);
    let name = |rx: &Receiver| rx.decoder.exporters().next().unwrap().1.name.clone();
    assert_eq!(name(&rx).as_deref(), Some("edge1"));
    // A reload removes the exporter (another one is listed): no longer configured.
    let other = crate::flows::settings::Exporter {
        name: "edge2".into(),
        prefix: "198.51.100.1/32".parse().unwrap(),
        ..edge
    };
    rx.reclassify(&Allowlist::new(Some(&[other]), &bounds));
    assert_eq!(name(&rx), None);
    // ...and a reload that lists it again protects it again.
    rx.reclassify(&listed);
    assert_eq!(name(&rx).as_deref(), Some("edge1"));
}
