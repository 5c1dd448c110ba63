//! The acting half of the daemon, assembled: the store, the BGP speaker, the
//! adapters, the RPKI gate, the mitigation service and the control socket; and their
//! orderly stop.

use crate::config::Config;
use crate::mitigation::service::{Service, Starter};
use crate::store::Note;
use crate::store::Store;
use crate::store::audit::{Action, Actor, Verdict};
use levee_bgp::speaker::{ShutdownPolicy, Speaker};
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

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
        accept_broken_audit: bool,
        reload: mpsc::Sender<crate::control::ReloadRequest>,
        feed: crate::live::Feed,
    ) -> anyhow::Result<Acting> {
        let m = &cfg.mitigation;
        let store = open_store(m, accept_broken_audit).await?;
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
        let service = Service::start(m.settings.clone(), store, &m.adapters, starter, rpki, feed)?;
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

/// Opens the store (off the runtime) and checks its audit chain and the mitigation
/// rows it anchors: a broken one stops levee, unless the operator said to go on
/// (`--accept-broken-audit`), which is logged and audited.
async fn open_store(
    m: &crate::config::mitigation::Mitigation,
    accept_broken: bool,
) -> anyhow::Result<Store> {
    let (path, key) = (m.store.clone(), m.audit_key.clone());
    let keyed = key.is_some();
    let (mut store, verdict) = tokio::task::spawn_blocking(move || {
        let store = Store::open_keyed(&path, key)?;
        let verdict = store.verify()?;
        Ok::<_, crate::store::StoreError>((store, verdict))
    })
    .await??;
    let shown = m.store.display();
    match &verdict {
        Verdict::Intact { entries, head } => {
            info!(path = %shown, entries, head = %head, keyed, "store opened; audit chain intact");
        }
        broken if accept_broken => {
            error!(path = %shown, "AUDIT LOG {}; starting anyway (--accept-broken-audit)", broken.describe());
            store.audit(
                crate::clock::now_us(),
                &[Note::new(
                    Actor::Operator,
                    Action::AcceptBroken,
                    "audit",
                    broken.describe(),
                )],
            )?;
        }
        broken => anyhow::bail!(
            "store {shown}: audit log {}; levee will not act on it. Inspect it (levee audit \
             verify, levee audit show), then start with --accept-broken-audit to go on \
             (the break stays on record), or move the store aside to start afresh",
            broken.describe()
        ),
    }
    Ok(store)
}
