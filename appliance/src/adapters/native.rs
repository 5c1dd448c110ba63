//! The native adapter: routes go to levee's own BGP speaker, which sends them to every
//! configured peer that negotiated the route's family and takes the route's level
//! (`bgp.peers[].levels`), and re-sends them after a flap.
//! Applying never fails here: the speaker holds the routes until each peer is up.

use super::{AdapterError, Backend, Change, Handle, Report};
use levee_bgp::speaker::{Groups, Speaker};
use levee_mitigate::Levels;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;

/// The speaker as an adapter.
#[derive(Debug)]
pub struct Native {
    speaker: Arc<Speaker>,
}

impl Native {
    /// An adapter over a started speaker (the daemon keeps another handle for status
    /// and shuts the speaker down after the adapter stopped).
    pub fn new(speaker: Arc<Speaker>) -> Native {
        Native { speaker }
    }
}

/// Starts the adapter's task over a started `speaker` for the routes of `levels`,
/// reporting to `reports`. The native adapter has no section of its own: its settings
/// are the `bgp` section's, and its levels its peers'.
pub fn start(speaker: Arc<Speaker>, levels: Levels, reports: UnboundedSender<Report>) -> Handle {
    Handle::spawn(Native::new(speaker), levels, reports)
}

impl Backend for Native {
    fn name(&self) -> String {
        "native".into()
    }

    async fn apply(&mut self, changes: &[Change]) -> Result<(), AdapterError> {
        // Each level is an export group: a peer is sent the levels it takes.
        let changes = changes
            .iter()
            .map(|c| {
                let groups = Groups(u32::from(c.levels.bits()));
                ((c.nlri.clone(), c.attrs.clone().map(Arc::new)), groups)
            })
            .collect();
        self.speaker.apply_grouped(changes).await;
        Ok(())
    }

    fn describe(&self) -> String {
        let peers = self.speaker.status();
        let up = peers
            .iter()
            .filter(|p| p.state == levee_bgp::session::State::Established)
            .count();
        format!("{up} of {} BGP peers established", peers.len())
    }

    async fn stop(self) {}
}
