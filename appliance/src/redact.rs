//! Secrets out of everything levee prints: URLs lose their userinfo, the values of
//! their query string and fragment (`https://u:p@h/x?token=abc` prints as
//! `https://***:***@h/x?token=***`), and every path segment that could be a token
//! (Slack, Discord and many other webhooks carry theirs in the path:
//! `https://hooks.slack.com/services/T0/B0/XyZ` prints as
//! `https://hooks.slack.com/services/***/***/***`), whether printed as a URL ([`url`])
//! or inside a message, such as an HTTP client's error, that quotes one ([`text`]).
//! A leaf.

/// What stands in for a secret.
pub const MASK: &str = "***";

/// A URL as it may be printed.
pub fn url(u: &reqwest::Url) -> String {
    let mut m = u.clone();
    if !m.username().is_empty() {
        let _ = m.set_username(MASK);
    }
    if m.password().is_some() {
        let _ = m.set_password(Some(MASK));
    }
    if let Some(q) = u.query() {
        let masked: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) => format!("{k}={MASK}"),
                None if pair.is_empty() => String::new(),
                // A bare value (`?abc`) may be the token itself.
                None => MASK.to_string(),
            })
            .collect();
        m.set_query(Some(&masked.join("&")));
    }
    if u.fragment().is_some() {
        m.set_fragment(Some(MASK));
    }
    let path: Vec<&str> = u
        .path()
        .split('/')
        .map(|seg| if plain_word(seg) { seg } else { MASK })
        .collect();
    m.set_path(&path.join("/"));
    m.to_string()
}

/// A path segment that cannot be a token: empty, or a short word of lowercase letters,
/// `-` and `_` (`services`, `api`, `webhooks`, `levee-routes`). Anything with a digit,
/// a capital or more than 16 characters is masked.
fn plain_word(seg: &str) -> bool {
    seg.len() <= 16
        && seg
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_')
}

/// `s` with every http(s) URL in it masked as [`url`] does.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = find_scheme(rest) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | ','))
            .unwrap_or(tail.len());
        let candidate = &tail[..end];
        let used = match reqwest::Url::parse(candidate) {
            Ok(u) => {
                out.push_str(&url(&u));
                end
            }
            // Not a URL after all: keep its scheme and go on after it.
            Err(_) => {
                let scheme = tail.find("//").map_or(end, |i| i + 2);
                out.push_str(&tail[..scheme]);
                scheme
            }
        };
        rest = &tail[used..];
    }
    out.push_str(rest);
    out
}

/// Where the next `http://` or `https://` starts (ASCII case-insensitive).
fn find_scheme(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    [lower.find("http://"), lower.find("https://")]
        .into_iter()
        .flatten()
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(s: &str) -> String {
        url(&reqwest::Url::parse(s).unwrap())
    }

    #[test]
    fn query_values_userinfo_and_fragments_are_masked() {
        assert_eq!(masked("https://h/x?token=abc"), "https://h/x?token=***");
        assert_eq!(
            masked("https://user:pw@h:8443/x?a=1&token=abc&flag#frag"),
            "https://***:***@h:8443/x?a=***&token=***&***#***"
        );
        assert_eq!(masked("https://ops@h/x"), "https://***@h/x");
        assert_eq!(masked("http://h/levee"), "http://h/levee");
        // Percent-encoded secrets go too.
        let m = masked("https://h/?key=s%20cret&sig=a%2Bb");
        assert!(!m.contains("cret") && !m.contains("a%2Bb"), "{m}");
    }

    #[test]
    fn tokens_in_the_path_are_masked() {
        assert_eq!(
            masked("https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"),
            "https://hooks.slack.com/services/***/***/***"
        );
        assert_eq!(
            masked("https://discord.com/api/webhooks/123456789012345678/abcDEF-token_x"),
            "https://discord.com/api/webhooks/***/***"
        );
        assert_eq!(
            masked("https://scrub.example.net/levee-routes/"),
            "https://scrub.example.net/levee-routes/"
        );
        assert_eq!(masked("https://h/averyveryverylongtoken"), "https://h/***");
    }

    #[test]
    fn urls_inside_messages_are_masked() {
        let e = "error sending request for url (https://scrub.example.net/hook?token=abc123): \
                 connection refused";
        assert_eq!(
            text(e),
            "error sending request for url (https://scrub.example.net/hook?token=***): \
             connection refused"
        );
        let two = "POST http://u:pw@h/a?k=v failed; redirected to HTTPS://h/b?sig=xyz";
        let t = text(two);
        assert!(
            !t.contains("pw") && !t.contains("=v") && !t.contains("xyz"),
            "{t}"
        );
        assert_eq!(
            text("no url here, http:// alone"),
            "no url here, http:// alone"
        );
    }
}
