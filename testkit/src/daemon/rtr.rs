//! StayRTR, the RTR cache (RFC 6810, RFC 8210) the RPKI tests run levee's client
//! against.

use super::Launch;
use std::path::Path;

impl Launch {
    /// StayRTR serving the VRPs of the JSON file `cache` (re-read every second, its
    /// timestamps not checked) over RTR on 127.0.0.1:`rtr`, its metrics on
    /// 127.0.0.1:`metrics`.
    pub fn stayrtr(cache: &Path, rtr: u16, metrics: u16) -> Launch {
        Launch::new("stayrtr", "stayrtr")
            .args(["-bind", &format!("127.0.0.1:{rtr}")])
            .args(["-metrics.addr", &format!("127.0.0.1:{metrics}")])
            .arg("-cache")
            .arg(cache)
            .args(["-checktime=false", "-refresh", "1"])
    }
}
