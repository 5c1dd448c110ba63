//! The acting half of the daemon, assembled: the store, the BGP speaker, the
//! adapters, the RPKI gate, the mitigation service and the control socket; and their
//! orderly stop.

use crate::config::Config;
use crate::mitigation::service::{Service, Starter};
use crate::store::Store;
use levee_bgp::speaker::{ShutdownPolicy, Speaker};
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// The acting half of the daemon: the BGP speaker, the adapters, the mitigation task
/// with its store, and the control socket.
pub(super) struct Acting {
    pub(super) service: Service,
    control: crate::control::Server,
    pub(super) speaker: Option<(Arc<Speaker>, ShutdownPolicy)>,
}

impl Acting {
    /// Starts the acting stages; `levee reload` requests arriving on the control socket
    /// go to `reload`.
    pub(super) async fn start(
        cfg: &Config,
        reload: mpsc::Sender<crate::control::ReloadRequest>,
    ) -> anyhow::Result<Acting> {
        let m = &cfg.mitigation;
        let store = Store::open(&m.store)?;
        info!(path = %m.store.display(), "store opened");
        let mut speaker = None;
        if let Some(bgp) = &cfg.bgp {
            let s = Arc::new(Speaker::start(bgp.speaker.clone()).await?);
            if let Some(a) = s.listen_addr() {
                info!(%a, "BGP listening");
            }
            for p in &bgp.speaker.peers {
                info!(peer = %p.name, address = %p.address, remote_as = p.remote_as, "BGP peer configured");
            }
            speaker = Some((s, bgp.shutdown.clone()));
        }
        if m.settings.dry_run {
            warn!("dry run: mitigation decisions are logged and stored, nothing is announced");
        }
        let rpki = cfg.rpki.clone().map(|r| {
            info!(caches = ?r.caches, policy = ?r.policy, fail = ?r.fail, origins = ?r.origins, "RPKI gate on");
            crate::rpki::Rpki::start(r)
        });
        let starter = Starter::new(speaker.as_ref().map(|(s, _)| s.clone()));
        let service = Service::start(m.settings.clone(), store, &m.adapters, starter, rpki)?;
        let control =
            crate::control::Server::start(&m.control_socket, service.commands.clone(), reload)?;
        info!(socket = %m.control_socket.display(), "control socket ready");
        Ok(Acting {
            service,
            control,
            speaker,
        })
    }

    pub(super) async fn stop(self) {
        self.control.stop();
        self.service.stop().await;
        if let Some((s, policy)) = self.speaker {
            match Arc::try_unwrap(s) {
                Ok(s) => s.shutdown(policy, crate::speaker::SHUTDOWN_WAIT).await,
                Err(_) => {
                    warn!("BGP speaker still in use at shutdown; sessions end with the process")
                }
            }
        }
    }
}
