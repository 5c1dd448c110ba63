//! The service stores an incident with its evidence at its start, again when an
//! update changes its classification (not on every update), and at its end; notes go
//! through it to the store, audited by their author, and one on an unknown incident is
//! refused.

use super::*;
use crate::store::tests::TempDir;
use levee_detect::Victim;
use levee_detect::classify::Family;
use levee_detect::policy::{Current, Metric, Reason, Trigger};
use levee_mitigate::settings::{Ladder, Network};

fn event(kind: EventKind, family: Family, time_s: u64) -> Event {
    Event {
        kind,
        id: 7,
        time_us: time_s * 1_000_000,
        start_us: 1_000_000,
        victim: Victim::Host("192.0.2.9".parse().unwrap()),
        network: "web".into(),
        family,
        vector: "udp/53".into(),
        confidence: 70,
        trigger: Trigger {
            reason: Reason::Warmup,
            metric: Metric::Pps,
            value: 20_000,
            threshold: 1_000,
        },
        rate: Current::default(),
        peak: Current::default(),
        distinct_sources: time_s,
        botnet: false,
        spoofed: false,
        top_sources: Vec::new(),
        top_src_ports: Vec::new(),
        top_dst_ports: Vec::new(),
        top_packet_lengths: Vec::new(),
        threat_intel: Vec::new(),
        threat_intel_packets: 0,
    }
}

/// Waits until the service has taken every event sent (it handles one fully before
/// its next command, and a note's answer waits for the store's commit).
async fn taken(s: &Service) {
    while s.events.capacity() < EVENT_QUEUE {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn note(s: &Service, incident: u64, text: &str) -> Reply {
    let (reply, rx) = oneshot::channel();
    s.commands
        .send(Command {
            request: Request::Note {
                incident,
                text: text.into(),
            },
            reply,
            actor: Actor::Named("user:alice".into()),
        })
        .await
        .unwrap();
    rx.await.unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn evidence_follows_the_classification_and_notes_are_stored() {
    let dir = TempDir::new("service-evidence");
    let path = dir.0.join("levee.db");
    let settings = Settings {
        networks: vec![Network {
            name: "web".into(),
            prefixes: vec!["192.0.2.0/24".parse().unwrap()],
            ladder: Ladder::default(),
        }],
        dry_run: true,
        ..Settings::default()
    };
    let s = Service::start(
        settings,
        Store::open(&path).unwrap(),
        &[],
        Starter::new(None),
        None,
        crate::live::Feed::new(),
    )
    .unwrap();
    let evidence = || {
        Store::open_read(&path)
            .unwrap()
            .incident_evidence(7)
            .unwrap()
    };
    s.events
        .send(event(EventKind::Start, Family::UdpFlood, 1))
        .await
        .unwrap();
    // The same classification: not written again (the sources seen stay the start's).
    s.events
        .send(event(EventKind::Update, Family::UdpFlood, 2))
        .await
        .unwrap();
    taken(&s).await;
    assert!(note(&s, 7, "first look").await.is_ok());
    let ev = evidence().unwrap();
    assert_eq!(
        (ev["family"].as_str(), ev["distinct_sources"].as_u64()),
        (Some("udp_flood"), Some(1))
    );
    // A new family: written, the incident still open.
    s.events
        .send(event(EventKind::Update, Family::MultiVector, 3))
        .await
        .unwrap();
    taken(&s).await;
    assert!(note(&s, 99, "nowhere").await.is_err());
    let ev = evidence().unwrap();
    assert_eq!(
        (ev["family"].as_str(), ev["distinct_sources"].as_u64()),
        (Some("multi_vector"), Some(3))
    );
    let st = Store::open_read(&path).unwrap();
    let filter = crate::store::queries::IncidentFilter {
        limit: 10,
        ..Default::default()
    };
    let rows = st.incidents(&filter).unwrap();
    assert_eq!(
        (rows[0].family.as_str(), rows[0].end_us),
        ("multi_vector", None)
    );
    drop(st);
    s.events
        .send(event(EventKind::End, Family::MultiVector, 9))
        .await
        .unwrap();
    s.stop().await;
    let st = Store::open_read(&path).unwrap();
    let rows = st.incidents(&filter).unwrap();
    assert_eq!(rows[0].end_us, Some(9_000_000));
    assert_eq!(evidence().unwrap()["distinct_sources"], 9);
    let notes = st.incident_notes(7).unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (notes[0].author.as_str(), notes[0].text.as_str()),
        ("user:alice", "first look")
    );
    let audit = st.audit_after(0, 100).unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "note" && e.actor == "user:alice" && e.subject == "7")
    );
    assert!(
        audit
            .iter()
            .any(|e| e.action == "refused" && e.actor == "user:alice")
    );
}

#[test]
fn updates_are_stored_when_the_class_changes_or_the_peak_grows_a_tenth() {
    let s = super::Stored {
        class: ("udp_flood", "udp/53".into()),
        peak: (100_000, 800_000_000),
    };
    let same = ("udp_flood", "udp/53".to_string());
    assert!(!s.differs(&same, (100_000, 800_000_000)));
    assert!(!s.differs(&same, (110_000, 880_000_000)));
    assert!(s.differs(&same, (110_001, 800_000_000)));
    assert!(s.differs(&same, (100_000, 880_000_001)));
    assert!(s.differs(&("multi_vector", "udp/53".into()), (1, 1)));
}
