//! `tamis reveal`: only the escrow private key opens a token, a reason is
//! required, and every reveal is in the audit trail (without the value).

mod common;

#[test]
fn reveal_needs_the_key_and_a_reason_and_is_audited() {
    let (_tmp, dir) = common::deployment();
    let public = tamis::config::read_key(&dir.join("keys/escrow.pub")).unwrap();
    let token = tamis::privacy::escrow::seal(&public, "iban", b"DE89370400440532013000").unwrap();
    assert!(!token.contains("DE89"));
    let bin = env!("CARGO_BIN_EXE_tamis");
    let cfg = dir.join("tamis.toml");
    let run = |args: &[&str]| std::process::Command::new(bin).args(args).arg("--config").arg(&cfg).output().unwrap();
    let key = dir.join("keys/escrow-private.key");
    let key = key.to_str().unwrap();

    let out = run(&["reveal", &token, "--reason", "x", "--escrow-key", key]);
    assert!(!out.status.success(), "a reason is required");

    // The storage key is not the escrow key.
    let wrong = dir.join("keys/storage.key");
    let out = run(&["reveal", &token, "--reason", "Court order 2026/1234", "--escrow-key", wrong.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("DE89"));

    let out =
        run(&["reveal", &token, "--reason", "Court order 2026/1234", "--escrow-key", key, "--operator", "officer-7"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "iban: DE89370400440532013000");

    let storage = tamis::config::read_key(&dir.join("keys/storage.key")).unwrap();
    let store = tamis::store::SledStore::open(&dir.join("data"), &storage).unwrap();
    let log = tamis::store::offline(tamis::store::Store::audit_log(&*store, 0, 100)).unwrap();
    let text = serde_json::to_string(&log).unwrap();
    assert!(
        text.contains("\"event\":\"reveal\"") && text.contains("Court order 2026/1234") && text.contains("officer-7")
    );
    assert!(!text.contains("DE89370400440532013000"), "the revealed value is never recorded");
    assert!(tamis::store::offline(tamis::store::Store::verify_audit(&*store)).unwrap().ok);
}

#[test]
fn a_key_pasted_instead_of_its_file_is_never_echoed() {
    let (_tmp, dir) = common::deployment();
    let bin = env!("CARGO_BIN_EXE_tamis");
    let cfg = dir.join("tamis.toml");
    let key_hex = std::fs::read_to_string(dir.join("keys/escrow-private.key")).unwrap().trim().to_owned();
    let public = tamis::config::read_key(&dir.join("keys/escrow.pub")).unwrap();
    let token = tamis::privacy::escrow::seal(&public, "iban", b"DE89370400440532013000").unwrap();
    let out = std::process::Command::new(bin)
        .args(["reveal", &token, "--reason", "Court order 2026/1234", "--escrow-key", &key_hex, "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!said.contains(&key_hex[..16]), "key material echoed: {said}");
    assert!(said.contains("path of the key FILE"), "{said}");
    assert!(!said.contains("DE89"), "{said}");

    // A missing file is named (a path is not a secret).
    let out = std::process::Command::new(bin)
        .args(["reveal", &token, "--reason", "Court order 2026/1234", "--escrow-key", "keys/nope.key", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("keys/nope.key: no such file"), "{said}");

    // --help says it is a file.
    let out = std::process::Command::new(bin).args(["reveal", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--escrow-key <FILE>") && help.contains("Path of the FILE"), "{help}");
    assert!(!help.contains("(hex)"), "{help}");
}
