//! The spoofing indicator: how the TTLs (IPv6 hop limits) of the traffic are spread.
//!
//! Real senders start from a handful of initial TTLs (64, 128, 255) and sit a stable
//! number of hops away, so traffic to a victim shows a few narrow peaks. Spoofing tools
//! that randomise the TTL, or very many sources at all distances, spread it wide and
//! even. The measure is the Shannon entropy of the TTL histogram in bits (0 to 8): real
//! traffic sits at 2 to 4 bits; a uniform random TTL is at 8. Traffic is judged spoofed
//! when its entropy is high in absolute terms and well above what the network usually
//! sees.

/// Entropy at or above which traffic looks spoofed.
pub const SPOOFED_BITS: f64 = 6.0;
/// How far above the usual entropy it must also be.
pub const ABOVE_USUAL_BITS: f64 = 1.5;
/// Packets (sampled records) needed before judging.
pub const MIN_SAMPLES: u64 = 64;

/// A TTL histogram, counting records (not scaled packets: each sample is one TTL seen).
#[derive(Debug, Clone)]
pub struct TtlHistogram {
    counts: Box<[u32; 256]>,
    samples: u64,
}

impl Default for TtlHistogram {
    fn default() -> Self {
        TtlHistogram {
            counts: Box::new([0; 256]),
            samples: 0,
        }
    }
}

impl TtlHistogram {
    /// Counts one observed TTL.
    pub fn add(&mut self, ttl: u8) {
        let c = &mut self.counts[usize::from(ttl)];
        *c = c.saturating_add(1);
        self.samples += 1;
    }

    /// Records counted.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Halves every count (to follow a network's usual TTLs as they drift).
    pub fn decay(&mut self) {
        self.counts.iter_mut().for_each(|c| *c /= 2);
        self.samples = self.counts.iter().map(|&c| u64::from(c)).sum();
    }

    /// Shannon entropy in bits, `None` with too few samples to judge.
    pub fn entropy(&self) -> Option<f64> {
        let n: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        if n < MIN_SAMPLES {
            return None;
        }
        let n = n as f64;
        Some(
            self.counts
                .iter()
                .filter(|&&c| c > 0)
                .map(|&c| {
                    let p = f64::from(c) / n;
                    -p * p.log2()
                })
                .sum(),
        )
    }

    /// Whether this (attack) traffic looks spoofed, given what is usual.
    pub fn spoofed(&self, usual: Option<&TtlHistogram>) -> bool {
        let Some(e) = self.entropy() else {
            return false;
        };
        e >= SPOOFED_BITS
            && usual
                .and_then(TtlHistogram::entropy)
                .is_none_or(|u| e - u >= ABOVE_USUAL_BITS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ttls_look_spoofed_and_real_ones_do_not() {
        let mut rnd = levee_testkit::Rng::new(3);
        let (mut real, mut spoofed) = (TtlHistogram::default(), TtlHistogram::default());
        for _ in 0..5_000 {
            // Real: three initial TTLs, 5 to 20 hops away.
            let init = [64u8, 128, 255][(rnd.next_u64() % 3) as usize];
            real.add(init - 5 - (rnd.next_u64() % 16) as u8);
            spoofed.add(rnd.next_u64() as u8);
        }
        assert!(real.entropy().unwrap() < 6.0, "{:?}", real.entropy());
        assert!(spoofed.entropy().unwrap() > 7.5, "{:?}", spoofed.entropy());
        assert!(spoofed.spoofed(Some(&real)));
        assert!(spoofed.spoofed(None));
        assert!(!real.spoofed(None));
        // A network that usually sees a wide spread raises the bar.
        assert!(!spoofed.spoofed(Some(&spoofed.clone())));
        assert!(!TtlHistogram::default().spoofed(None));
    }
}
