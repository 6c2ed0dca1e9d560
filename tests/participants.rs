//! Participant lifecycle with the CLI: `participant add` issues and
//! registers a certificate, `participant revoke` puts it on the CRL; a reload
//! (SIGHUP) applies both without a restart. Also: a bad policy never replaces
//! a good one.

mod common;

use common::{TestServer, json};

fn tamis(args: &[&str], cfg: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tamis")).args(args).arg("--config").arg(cfg).output().unwrap()
}

#[tokio::test]
async fn add_then_revoke_a_participant_while_the_exchange_runs() {
    let s = TestServer::start().await;
    let cfg = s.dir.join("tamis.toml");
    let out = tamis(&["participant", "add", "bank-b", "--kind", "bank", "--roles", "submit,feed"], &cfg);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(s.dir.join("certs/bank-b.pem").exists());

    // Not yet reloaded: the certificate chains but is not registered.
    let (_, v) = json(s.client("bank-b").get(s.url("/v1/whoami")).send().await.unwrap()).await;
    assert_eq!(v["registered"], false);
    s.reload().await.unwrap();
    let (_, v) = json(s.client("bank-b").get(s.url("/v1/whoami")).send().await.unwrap()).await;
    assert_eq!(v["id"], "bank-b");
    assert_eq!(v["roles"], serde_json::json!(["submit", "feed"]));

    let out = tamis(&["participant", "add", "bank-b", "--kind", "bank", "--roles", "submit"], &cfg);
    assert!(!out.status.success(), "adding twice must fail");

    let out = tamis(&["participant", "revoke", "bank-b"], &cfg);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(s.dir.join("certs/crl.pem").exists());
    s.reload().await.unwrap();
    let r = s.client("bank-b").get(s.url("/v1/whoami")).send().await;
    assert!(r.is_err(), "a revoked certificate is refused at the handshake");
    let (status, _) = json(s.client("bank-a").get(s.url("/v1/whoami")).send().await.unwrap()).await;
    assert_eq!(status, 200, "others are unaffected");
    s.stop().await;
}

#[tokio::test]
async fn a_bad_policy_never_replaces_a_good_one() {
    let s = TestServer::start().await;
    let before = s.state.policies.load().by_id["default"].policy().version();
    let path = s.dir.join("policies/default.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{good}\n[egress.broken\n")).unwrap();
    let err = s.reload().await.unwrap_err();
    assert!(err.contains("default.toml:"), "the error names the file and line: {err}");
    assert_eq!(s.state.policies.load().by_id["default"].policy().version(), before);
    let (status, _) =
        common::submit(&s, "bank-a", &serde_json::json!({"indicators":[{"type":"domain","value":"still-works.top"}]}))
            .await;
    assert_eq!(status, 200);

    // A good edit is a new version, recorded in the registry.
    std::fs::write(&path, format!("{good}\n# edited by the DPO\n")).unwrap();
    let versions = s.reload().await.unwrap();
    assert!(!versions.contains(&before));
    let (_, v) = json(s.client("dpo-a").get(s.url("/v1/policies/default/versions")).send().await.unwrap()).await;
    assert_eq!(v["versions"].as_array().unwrap().len(), 2);
    s.stop().await;
}
