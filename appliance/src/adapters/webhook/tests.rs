//! Webhook adapter tests against the test kit's HTTP(S) endpoint: signatures,
//! retries, redirects, a private CA.

use super::*;
use crate::human::hex;
use levee_mitigate::{Level, Levels};
use levee_testkit::webhook::{Receiver, SECRET, fixture};

fn change(text: &str, announce: bool, levels: Levels) -> Change {
    let r: RouteText = text.parse().unwrap();
    if announce {
        Change::announce(7, &r, levels)
    } else {
        Change::withdraw(7, &r, levels)
    }
}

fn webhook(url: &str) -> Webhook {
    let mut s = Settings::new(url.parse().unwrap(), Secret(SECRET.as_bytes().to_vec()));
    s.timeout = Duration::from_secs(2);
    Webhook::new(s)
}

#[test]
fn hmac_sha256_matches_rfc_4231() {
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
    mac.update(b"what do ya want for nothing?");
    assert_eq!(
        hex(&mac.finalize().into_bytes()),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // sign() is HMAC over "TIMESTAMP.BODY": the same key and message give the same MAC.
    let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
    mac.update(b"1.what do ya want for nothing?");
    let direct = format!("sha256={}", hex(&mac.finalize().into_bytes()));
    assert_eq!(
        sign(b"Jefe", 1, b"what do ya want for nothing?").unwrap(),
        direct
    );
}

#[test]
fn bodies_say_what_a_receiver_needs() {
    let l4 = change(
        "route 198.51.100.0/24 community 64500:999",
        true,
        Levels::of(Level::L4),
    );
    let b = body(&l4, 1_763_770_000);
    assert_eq!(b["version"], 1);
    assert_eq!(b["event"], "announce");
    assert_eq!(b["mitigation"], 7);
    assert_eq!(b["levels"], json!(["l4"]));
    assert_eq!(b["route"], "route 198.51.100.0/24 community 64500:999");
    assert_eq!(b["family"], "ipv4-unicast");
    assert_eq!(b["prefix"], "198.51.100.0/24");
    assert_eq!(b["blackhole"], false);
    assert_eq!(b["timestamp"], 1_763_770_000u64);

    let rtbh = change(
        "route 2001:db8::7/128 community 65535:666",
        true,
        Levels::of(Level::L3),
    );
    let b = body(&rtbh, 0);
    assert_eq!(
        (b["family"].as_str(), b["blackhole"].as_bool()),
        (Some("ipv6-unicast"), Some(true))
    );

    let flow = change(
        "flow destination 192.0.2.9/32 protocol udp then discard",
        false,
        Levels::of(Level::L1).with(Level::L2),
    );
    let b = body(&flow, 0);
    assert_eq!(b["event"], "withdraw");
    assert_eq!(b["levels"], json!(["l1", "l2"]));
    assert_eq!(b["family"], "ipv4-flowspec");
    assert_eq!(b["prefix"], "192.0.2.9/32");
    assert_eq!(
        b["route"], "flow destination 192.0.2.9/32 protocol ==udp",
        "a withdrawal names the route only"
    );
}

#[test]
fn the_secret_is_never_printed() {
    let s = Settings::new(
        "https://user:pw@scrub.example.net/x".parse().unwrap(),
        Secret(b"0123456789abcdef-very-secret".to_vec()),
    );
    let shown = format!("{s:?} {}", Webhook::new(s.clone()).describe());
    assert!(!shown.contains("very-secret"), "{shown}");
    assert!(!shown.contains("pw"), "{shown}");
}

#[tokio::test]
async fn delivered_signed_and_retried_on_5xx() {
    let r = Receiver::start(false);
    let mut w = webhook(&r.url(false));
    let c = change(
        "route 192.0.2.0/24 community 64500:999",
        true,
        Levels::of(Level::L4),
    );
    // Two 503s, then the default 204: one apply, three requests.
    r.script(vec![(503, vec![]), (503, vec![])]);
    w.apply(std::slice::from_ref(&c)).await.unwrap();
    let seen = r.requests();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|q| q.verified), "{seen:?}");
    let h = &seen[2].headers;
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["x-levee-event"], "announce");
    assert!(h["user-agent"].starts_with("levee/"));
    assert!(h["x-levee-signature"].starts_with("sha256="));
    assert_eq!(r.routes(), ["route 192.0.2.0/24 community 64500:999"]);
    assert!(
        w.describe().contains("1 delivered, 2 failed attempts"),
        "{}",
        w.describe()
    );

    // Already delivered: a retried batch does not send it again.
    w.apply(std::slice::from_ref(&c)).await.unwrap();
    assert_eq!(r.requests().len(), 3);
    // A reconciliation that no longer wants it withdraws it.
    w.reconcile(&[], &[]).await.unwrap();
    assert!(r.routes().is_empty());
    assert_eq!(r.requests().len(), 4);
}

#[tokio::test]
async fn refusals_fail_at_once_and_say_why() {
    let r = Receiver::start(false);
    let mut w = webhook(&r.url(false));
    let c = change("route 192.0.2.1/32 community 65535:666", true, Levels::ALL);

    r.script(vec![(400, vec![])]);
    let e = w.apply(std::slice::from_ref(&c)).await.unwrap_err();
    assert!(e.0.contains("400 Bad Request: scripted 400"), "{e}");
    assert!(e.0.starts_with(&format!("POST {}", r.url(false))), "{e}");
    assert_eq!(r.requests().len(), 1, "a 400 is not retried at once");

    r.script(vec![(429, vec![("retry-after", "60".into())])]);
    let e = w.apply(std::slice::from_ref(&c)).await.unwrap_err();
    assert!(
        e.0.contains("429 Too Many Requests") && e.0.contains("retry after 60 s"),
        "{e}"
    );
    assert_eq!(r.requests().len(), 2);

    r.script(vec![(
        302,
        vec![("location", "https://elsewhere.example/".into())],
    )]);
    let e = w.apply(std::slice::from_ref(&c)).await.unwrap_err();
    assert!(
        e.0.contains("redirected to https://elsewhere.example/"),
        "{e}"
    );

    // Every attempt fails: the error says how many were made.
    r.down(Some(502));
    let e = w.apply(std::slice::from_ref(&c)).await.unwrap_err();
    assert!(
        e.0.contains("502 Bad Gateway") && e.0.contains("(3 attempts)"),
        "{e}"
    );
    r.down(None);
    w.apply(std::slice::from_ref(&c)).await.unwrap();
    assert_eq!(r.routes().len(), 1);
}

#[tokio::test]
async fn unreachable_endpoint() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut w = webhook(&format!(
        "http://ops:pw-SECRET@127.0.0.1:{port}/levee?token=tok-SECRET"
    ));
    let e = w
        .apply(&[change("route 192.0.2.1/32", true, Levels::ALL)])
        .await
        .unwrap_err();
    assert!(e.0.to_lowercase().contains("connection refused"), "{e}");
    // The token and the userinfo print masked, in the error and the status.
    let shown = format!("{e} {} {:?}", w.describe(), w.settings);
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(shown.contains("/levee?token=***"), "{shown}");
}

#[tokio::test]
async fn https_with_a_private_ca() {
    let r = Receiver::start(true);
    let c = change("route 192.0.2.0/24", true, Levels::of(Level::L4));
    // Trusting the test CA: delivered.
    let mut s = Settings::new(
        r.url(true).parse().unwrap(),
        Secret(SECRET.as_bytes().to_vec()),
    );
    s.ca_pem = Some(fixture("ca.pem"));
    s.attempts = 1;
    Webhook::new(s.clone())
        .apply(std::slice::from_ref(&c))
        .await
        .unwrap();
    assert_eq!(r.routes(), ["route 192.0.2.0/24"]);
    assert!(r.requests()[0].verified);

    // Trusting another CA (the server's own certificate is no CA): refused by TLS.
    s.ca_pem = Some(fixture("server.pem"));
    let e = Webhook::new(s).apply(&[c]).await.unwrap_err();
    assert!(e.0.to_lowercase().contains("certificate"), "{e}");
    assert_eq!(r.requests().len(), 1, "no request got through");
}
