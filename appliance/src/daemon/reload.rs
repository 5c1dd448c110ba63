//! SIGHUP: the config read again and its mitigation settings handed to the running
//! mitigation service; sections read at start only are named as needing a restart.

use crate::config::Config;
use crate::mitigation::service::{Command, Request};
use tokio::sync::mpsc;
use tracing::{info, warn};

/// SIGHUP: reads the config again. A config that does not validate is logged and the
/// running one kept; a valid one gives the mitigation engine its new settings (ladders,
/// TTL, caps, safelist, dry run). Listeners, peers and detection settings are read at
/// start only: a change to them is logged as needing a restart.
pub(super) async fn reload_on_sighup(mut running: Config, commands: mpsc::Sender<Command>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        warn!("cannot listen for SIGHUP: config reload is off");
        return;
    };
    while hup.recv().await.is_some() {
        let fresh = if running.origin == "<embedded defaults>" {
            Config::parse(crate::config::EMBEDDED_DEFAULTS, &running.origin)
        } else {
            Config::load(std::path::Path::new(&running.origin))
        };
        let new = match fresh {
            Ok(c) => c,
            Err(errors) => {
                warn!(origin = %running.origin, %errors, "config reload failed; keeping the running config");
                continue;
            }
        };
        let mut restart = Vec::new();
        if new.listeners != running.listeners || new.mirror != running.mirror {
            restart.push("listeners");
        }
        if new.bgp != running.bgp {
            restart.push("bgp");
        }
        if new.detection != running.detection
            || new
                .protected_networks
                .iter()
                .map(|n| (&n.name, &n.prefixes, &n.policy))
                .ne(running
                    .protected_networks
                    .iter()
                    .map(|n| (&n.name, &n.prefixes, &n.policy)))
        {
            restart.push("detection");
        }
        if new.rpki != running.rpki {
            restart.push("rpki");
        }
        if new.mitigation.adapters != running.mitigation.adapters
            || new.mitigation.store != running.mitigation.store
            || new.mitigation.control_socket != running.mitigation.control_socket
        {
            restart.push("adapters, store and control socket");
        }
        if !restart.is_empty() {
            warn!(sections = %restart.join(", "), "changed in the config; they take effect at the next restart");
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        let request = Request::Reconfigure(Box::new(new.mitigation.settings.clone()));
        if commands.send(Command { request, reply }).await.is_err() {
            return;
        }
        let _ = rx.await;
        info!(origin = %new.origin, "config reloaded");
        running = new;
    }
}
