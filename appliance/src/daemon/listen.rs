//! `levee flows listen`: the flows stage alone, its records printed as JSON lines
//! (like sflowtool or nfdump) or only counted.

use crate::cli::ListenArgs;
use crate::config::{Config, Listener, ListenerKind, Mirror};
use crate::detection::live::{Options, Sink, consume};
use crate::flows::Ingest;
use std::num::NonZeroU32;
use std::time::Duration;

/// `levee flows listen`.
pub async fn listen(mut cfg: Config, args: &ListenArgs) -> anyhow::Result<()> {
    let explicit = [
        (ListenerKind::Sflow, args.sflow),
        (ListenerKind::Netflow, args.netflow),
        (ListenerKind::Ipfix, args.ipfix),
    ];
    // Any address or --mirror flag replaces the config's inputs with exactly those.
    if explicit.iter().any(|(_, a)| a.is_some()) || !args.mirror.is_empty() {
        let rcvbuf = cfg.listeners.first().map_or(32 << 20, |l| l.receive_buffer);
        cfg.listeners = explicit
            .iter()
            .filter_map(|(kind, a)| {
                a.map(|bind| Listener {
                    kind: *kind,
                    bind,
                    receive_buffer: rcvbuf,
                })
            })
            .collect();
        let sampling = NonZeroU32::new(args.mirror_sampling).unwrap_or(NonZeroU32::MIN);
        cfg.mirror = args
            .mirror
            .iter()
            .map(|interface| Mirror {
                interface: interface.clone(),
                bpf: args.bpf.clone(),
                sampling,
            })
            .collect();
    }
    let (ingest, rx) = Ingest::start(&cfg.flows())?;
    for (kind, addr) in &ingest.bound {
        eprintln!("levee: listening for {kind} on {addr}");
    }
    for m in &cfg.mirror {
        eprintln!(
            "levee: capturing on {} (sampling 1:{})",
            m.interface, m.sampling
        );
    }
    let opts = Options {
        sink: if args.quiet { Sink::Count } else { Sink::Json },
        stats_every: Duration::from_secs(args.stats_every),
        duration: args.duration.map(Duration::from_secs),
    };
    consume(ingest, rx, opts, None, None).await
}
