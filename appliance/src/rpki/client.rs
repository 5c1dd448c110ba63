//! RTR sessions through the `rpki` crate's client (RFC 8210; it proposes the newest
//! version and steps down to what the cache speaks, down to RFC 6810's version 0).
//! Caches are tried in the configured order; when a session ends or cannot start the
//! next one is tried, and after a full round the task waits (1 s doubling to 30 s).
//! Data received stays in use until the cache's expire interval runs out.

use super::vrps::{Vrp, Vrps};
use super::{RtrState, Settings, Shared};
use rpki::rtr::client::{Client, PayloadError, PayloadTarget};
use rpki::rtr::payload::{Action, Payload, Timing};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// Collects one update (a reset or a serial delta) from the client.
#[derive(Debug)]
pub(crate) struct Update {
    reset: bool,
    items: Vec<(Action, Payload)>,
}

impl rpki::rtr::client::PayloadUpdate for Update {
    fn push_update(&mut self, action: Action, payload: Payload) -> Result<(), PayloadError> {
        self.items.push((action, payload));
        Ok(())
    }
}

/// Where updates land: the shared VRP set and status.
#[derive(Debug)]
struct Target {
    shared: Arc<Shared>,
    cache: String,
}

fn vrp(p: &Payload) -> Option<Vrp> {
    match p {
        Payload::Origin(o) => Some(Vrp {
            addr: o.prefix.addr(),
            len: o.prefix.prefix_len(),
            max_len: o.prefix.resolved_max_len(),
            asn: o.asn.into_u32(),
        }),
        // Router keys and ASPA are not used by the gate.
        _ => None,
    }
}

impl PayloadTarget for Target {
    type Update = Update;

    fn start(&mut self, reset: bool) -> Update {
        Update {
            reset,
            items: Vec::new(),
        }
    }

    fn apply(&mut self, u: Update, timing: Timing) -> Result<(), PayloadError> {
        let mut vrps = self
            .shared
            .vrps
            .write()
            .map_err(|_| PayloadError::Internal)?;
        if u.reset {
            let mut fresh = Vrps::new();
            for (a, p) in &u.items {
                if let (Action::Announce, Some(v)) = (a, vrp(p)) {
                    fresh.insert(v);
                }
            }
            *vrps = fresh;
        } else {
            for (a, p) in &u.items {
                let Some(v) = vrp(p) else { continue };
                match a {
                    Action::Announce => vrps.insert(v),
                    Action::Withdraw => {
                        if !vrps.remove(&v) {
                            return Err(PayloadError::UnknownWithdraw);
                        }
                    }
                }
            }
        }
        let n = vrps.len();
        drop(vrps);
        if let Ok(mut s) = self.shared.status.lock() {
            if s.state != RtrState::Synced || s.cache.as_deref() != Some(&self.cache) {
                info!(cache = %self.cache, vrps = n, "RTR session synced");
            }
            s.state = RtrState::Synced;
            s.cache = Some(self.cache.clone());
            s.vrps = n;
            s.updates += 1;
            s.last_update_us = Some(crate::clock::now_us());
            s.expire_s = u64::from(timing.expire);
            s.last_error = None;
        }
        Ok(())
    }
}

fn set(shared: &Shared, f: impl FnOnce(&mut super::Status)) {
    if let Ok(mut s) = shared.status.lock() {
        f(&mut s);
    }
}

/// The session loop; runs until aborted.
pub(crate) async fn run(settings: Settings, shared: Arc<Shared>) {
    let mut round_failures = 0u32;
    loop {
        for cache in &settings.caches {
            set(&shared, |s| {
                s.state = RtrState::Connecting;
                s.cache = Some(cache.clone());
            });
            let why = match tokio::time::timeout(
                settings.connect_timeout,
                tokio::net::TcpStream::connect(cache.as_str()),
            )
            .await
            {
                Err(_) => format!("no connection within {:?}", settings.connect_timeout),
                Ok(Err(e)) => format!("connect: {e}"),
                Ok(Ok(sock)) => {
                    info!(%cache, "RTR connected");
                    let target = Target {
                        shared: shared.clone(),
                        cache: cache.clone(),
                    };
                    let mut client = Client::new(sock, target, None);
                    match client.run().await {
                        Ok(()) => "the cache closed the session".to_string(),
                        Err(e) => format!("session: {e}"),
                    }
                }
            };
            let synced = shared
                .status
                .lock()
                .is_ok_and(|s| s.state == RtrState::Synced);
            if synced {
                round_failures = 0;
            }
            warn!(%cache, error = %why, "RTR cache unavailable; trying the next");
            set(&shared, |s| {
                s.state = RtrState::Down;
                s.failures += 1;
                s.last_error = Some(format!("{cache}: {why}"));
            });
        }
        round_failures += 1;
        let wait = Duration::from_secs(1u64 << round_failures.min(5).saturating_sub(1))
            .min(Duration::from_secs(30));
        tokio::time::sleep(wait).await;
    }
}
