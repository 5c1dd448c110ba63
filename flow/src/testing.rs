//! Test-only: one exporter's datagrams through a [`Decoder`], as the NetFlow v9 and IPFIX
//! byte-vector tests feed them.

use crate::{Batch, DatagramResult, Decoder, Limits};
use std::net::IpAddr;

/// A decoder, the batch it fills, and the exporter every datagram comes from.
#[derive(Debug)]
pub(crate) struct Feed {
    pub(crate) dec: Decoder,
    pub(crate) batch: Batch,
    exporter: IpAddr,
}

impl Feed {
    /// Datagrams from `exporter`, decoded with default limits.
    pub(crate) fn new(exporter: &str) -> Self {
        Self::with_limits(exporter, Limits::default())
    }

    pub(crate) fn with_limits(exporter: &str, limits: Limits) -> Self {
        Feed {
            dec: Decoder::new(limits),
            batch: Batch::default(),
            exporter: exporter.parse().unwrap(),
        }
    }

    /// Decodes one datagram received at `time_us`, appending to the batch.
    pub(crate) fn decode(&mut self, time_us: u64, data: &[u8]) -> DatagramResult {
        self.dec
            .decode(self.exporter, time_us, data, &mut self.batch)
    }

    /// Record `i` of the batch: packets and bytes, as scaled, and the sampling rate.
    pub(crate) fn scaled(&self, i: usize) -> (u64, u64, u32) {
        let r = &self.batch.records[i];
        (r.packets, r.bytes, r.sampling_rate)
    }
}
