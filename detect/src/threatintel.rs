//! Threat-intelligence lists: known-bad IPs and prefixes, loaded into a [`PrefixSet`].
//!
//! Format: one IPv4/IPv6 address or prefix per line, or CSV whose first field is one
//! (`203.0.113.9,scanner,2026-11-01`). Blank lines and `#` comments are skipped. A line
//! that is neither is counted and reported with its number; it never stops the load.
//! Reading the file is the caller's job: this module only parses text.

use crate::prefixset::PrefixSet;
use ipnet::IpNet;
use std::net::IpAddr;

/// Lines reported by number; beyond that only counted.
const REPORTED: usize = 20;

/// What a load found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Entries added.
    pub entries: usize,
    /// Lines that were not an address or prefix.
    pub bad_lines: usize,
    /// The first [`REPORTED`] bad lines: (line number, text).
    pub examples: Vec<(usize, String)>,
}

/// Parses `text` and adds every entry to `set` with the value `list`.
pub fn load(text: &str, list: u16, set: &mut PrefixSet<u16>) -> LoadReport {
    let mut report = LoadReport::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let field = line
            .split([',', ';', '\t', ' '])
            .next()
            .unwrap_or("")
            .trim_matches('"');
        match parse(field) {
            Some(net) => {
                set.insert(net, list);
                report.entries += 1;
            }
            None => {
                report.bad_lines += 1;
                if report.examples.len() < REPORTED {
                    report
                        .examples
                        .push((i + 1, line.chars().take(80).collect()));
                }
            }
        }
    }
    report
}

fn parse(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_csv_comments_and_bad_lines() {
        let text = "# feed\n203.0.113.9\n198.51.100.0/24,botnet c2,2026-11-01\n\n\"2001:db8::/48\",x\nnot-an-ip\n192.0.2.1 # trailing\n10.0.0.0/33\n";
        let mut set = PrefixSet::default();
        let r = load(text, 7, &mut set);
        assert_eq!((r.entries, r.bad_lines), (4, 2));
        assert_eq!(
            r.examples,
            vec![(6, "not-an-ip".to_string()), (8, "10.0.0.0/33".to_string())]
        );
        assert_eq!(
            set.longest_match("198.51.100.77".parse().unwrap())
                .map(|(_, v)| *v),
            Some(7)
        );
        assert!(set.contains("2001:db8::5".parse().unwrap()));
        assert!(set.contains("192.0.2.1".parse().unwrap()));
        assert!(!set.contains("192.0.2.2".parse().unwrap()));
    }
}
