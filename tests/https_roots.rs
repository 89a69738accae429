//! Real https sites work in the lab's browsers: they trust the platform's roots as well as the
//! lab's own authority. The "platform" here is a second authority made for the test and named
//! in `SSL_CERT_FILE`, which the platform verifier reads on Linux as the system's roots; it is a
//! test binary of its own because that variable is the whole process's.

mod common;

use std::sync::Arc;

use base64::Engine;
use common::canned::CannedServer;
use session_lab::{
    browser::{Browser, VisitOptions},
    clock::LabClock,
    server::LabTls,
};

fn pem(der: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// A site whose certificate chains to a platform root is visited over https by a lab browser,
/// and the lab's own https server too; a site no one vouches for is refused.
#[tokio::test]
async fn lab_browsers_trust_the_platform_roots_and_the_lab() {
    let platform = LabTls::generate(&["127.0.0.1"]).unwrap();
    let lab = LabTls::generate(&["127.0.0.1"]).unwrap();
    let stranger = LabTls::generate(&["127.0.0.1"]).unwrap();
    let roots = common::temp_dir("https-roots").join("roots.pem");
    std::fs::write(&roots, pem(platform.authority_der())).unwrap();
    // SAFETY: set before any thread of this test binary reads the environment (this is the
    // binary's only test, and the runtime's workers do not read it).
    unsafe { std::env::set_var("SSL_CERT_FILE", &roots) };

    let real_site = CannedServer::start(platform.acceptor()).await;
    let lab_site = CannedServer::start(lab.acceptor()).await;
    let unknown_site = CannedServer::start(stranger.acceptor()).await;
    let browser = Browser::in_lab(
        "roots",
        Arc::new(|| None),
        LabClock::default(),
        Some(lab.authority_der()),
    )
    .unwrap();
    let visit = |server: &CannedServer| format!("https://127.0.0.1:{}/", server.https.port());
    let hops = browser
        .visit(&visit(&real_site), VisitOptions::default())
        .await
        .expect("a site under a platform root");
    assert_eq!(hops[0].status, 200);
    let hops = browser
        .visit(&visit(&lab_site), VisitOptions::default())
        .await
        .expect("the lab's own server");
    assert_eq!(hops[0].status, 200);
    let refused = browser
        .visit(&visit(&unknown_site), VisitOptions::default())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("certificate"), "{refused}");
}
