//! Listener tests: a consumer that lags loses records (counted), never the socket.

use super::*;
use crate::flows::settings::ListenerKind;

/// An sFlow datagram with one flow sample of a sampled IPv4/UDP header.
fn sflow_datagram(seq: u32) -> Vec<u8> {
    let mut hdr = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    hdr.extend_from_slice(&[
        0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1,
    ]);
    hdr.extend_from_slice(&[0, 53, 0x30, 0x39, 0, 8, 0, 0]);
    let words = |ws: &[u32]| ws.iter().flat_map(|w| w.to_be_bytes()).collect::<Vec<u8>>();
    let mut rec = words(&[1, 60, 0, hdr.len() as u32]);
    rec.extend_from_slice(&hdr);
    rec.resize(rec.len().next_multiple_of(4), 0);
    let mut sample = words(&[1, 3, 100, 0, 0, 1, 2, 1, 1, rec.len() as u32]);
    sample.extend_from_slice(&rec);
    let mut d = words(&[5, 1, 0xc000_0201, 0, seq, 0, 1, 1, sample.len() as u32]);
    d.extend_from_slice(&sample);
    d
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
    let stats = t.values().next().unwrap();
    assert_eq!(
        (stats.datagrams, stats.records, stats.lost_datagrams),
        (total, total, 0)
    );
}
