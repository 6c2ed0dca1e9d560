//! Interoperability with the OASIS TAXII client and STIX validator: the real
//! server with data in it, walked by `tests/interop/taxii_check.py` using the
//! Python in `TAMIS_PYTHON` (a venv with `taxii2-client` and
//! `stix2-validator`). Without `TAMIS_PYTHON` the test is skipped, unless
//! `TAMIS_REQUIRE_INTEROP=1` (CI), where a skip is a failure.

mod common;

use common::{TestServer, submit};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taxii2_client_and_stix2_validator_accept_the_server() {
    let Some(python) = std::env::var_os("TAMIS_PYTHON").filter(|p| !p.is_empty()) else {
        if std::env::var("TAMIS_REQUIRE_INTEROP").as_deref() == Ok("1") {
            panic!(
                "TAMIS_REQUIRE_INTEROP=1 but TAMIS_PYTHON is not set (a Python with taxii2-client and stix2-validator)"
            );
        }
        println!(
            "skipped: set TAMIS_PYTHON to a Python with taxii2-client and stix2-validator to run the TAXII interop test"
        );
        return;
    };
    let s = TestServer::start().await;
    let sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let body = json!({"indicators": [
        {"type":"url","value":"https://phish.example.com/login?next=a'b\\c","category":"phishing","tlp":"green","confidence":80,
         "tags":["smishing"]},
        {"type":"domain","value":"bad-domain.example.com","category":"malware","tlp":"clear"},
        {"type":"ipv4","value":"185.220.101.4","category":"c2","tlp":"amber","attributes":{"port":"4444"}},
        {"type":"ipv6","value":"2a00:1450:4001::1","category":"botnet"},
        {"type":"cidr","value":"185.220.101.0/24","category":"ddos","tlp":"amber+strict"},
        {"type":"cidr","value":"2a00:1450::/32","category":"ddos"},
        {"type":"sha256","value":sha256,"category":"malware"},
        {"type":"sha1","value":"da39a3ee5e6b4b0d3255bfef95601890afd80709","category":"malware"},
        {"type":"md5","value":"d41d8cd98f00b204e9800998ecf8427e","category":"malware"},
        {"type":"email","value":"phish@bad-domain.example.com","category":"spam"},
        {"type":"iban","value":"DE89370400440532013000","category":"fraud"},
        {"type":"phone","value":"+33612345678","category":"fraud"},
        {"type":"btc","value":"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa","category":"scam"},
        {"type":"domain","value":"raised.example.com","category":"fraud","tlp":"green"}
    ]});
    let (status, v) = submit(&s, "bank-a", &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 14, "{v}");
    // Its submitter raises one to TLP:RED: law enforcement gets a revoked version.
    let (status, _) = submit(
        &s,
        "bank-a",
        &json!({"indicators":[{"type":"domain","value":"raised.example.com","category":"fraud","tlp":"red"}]}),
    )
    .await;
    assert_eq!(status, 200);

    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/taxii_check.py");
    let certs = s.dir.join("certs");
    let url = format!("https://127.0.0.1:{}/taxii2/", s.addr.port());
    let mut cmd = std::process::Command::new(python);
    cmd.arg(script)
        .arg(url)
        .arg(certs.join("police-a.pem"))
        .arg(certs.join("police-a.key"))
        .arg(certs.join("ca.pem"))
        .args(["--page", "4", "--min-indicators", "14", "--expect-revoked"])
        .args(["--expect-extension", tamis::feeds::stix::EXTENSION_ID])
        // requests lets these override `verify=`; this machine sets them.
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE");
    let out = tokio::task::spawn_blocking(move || cmd.output()).await.unwrap().expect("run TAMIS_PYTHON");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(out.status.success(), "taxii_check.py failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("OK: every object passed"), "{stdout}");
    s.stop().await;
}
