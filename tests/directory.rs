//! The 24/7 contact-point directory (issue 13, item 4) over mutual TLS:
//! each participant publishes its own contact points, every registered
//! participant reads them all; bad entries are refused with the contact's
//! index and the field, never the value; the change is audited without
//! the contents.

mod common;

use common::{TestServer, issue_client, json};
use serde_json::{Value, json};

fn contact(role: &str, phone: &str, email: &str) -> Value {
    json!({"role": role, "hours": "24/7", "phone": phone, "email": email, "languages": ["fr", "EN"],
           "pgp": "0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567"})
}

async fn put(s: &TestServer, who: &str, body: &Value) -> (u16, Value) {
    json(s.client(who).put(s.url("/v1/directory/self")).json(body).send().await.unwrap()).await
}

#[tokio::test]
async fn each_participant_publishes_its_own_contacts_and_everyone_registered_reads_them() {
    let s = TestServer::start().await;
    let bank = json!({"contacts": [
        contact("fraud", "+33 1 23 45 67 89", "fraud-desk@Bank-A.example"),
        {"role": "incident-response", "hours": "Mo-Fr 08:00-18:00 CET", "phone": "+33198765432",
         "email": "csirt@bank-a.example", "languages": ["fr"]},
    ]});
    let (status, v) = put(&s, "bank-a", &bank).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["participant"], "bank-a");
    assert_eq!(v["contacts"][0]["phone"], "+33123456789");
    assert_eq!(v["contacts"][0]["email"], "fraud-desk@bank-a.example");
    assert_eq!(v["contacts"][0]["languages"], json!(["fr", "en"]));
    assert_eq!(v["contacts"][0]["pgp"], "0123456789ABCDEF0123456789ABCDEF01234567");
    assert!(v["contacts"][1].get("pgp").is_none());
    let (status, _) = put(
        &s,
        "police-a",
        &json!({"contacts": [contact("law-enforcement-liaison", "+33140000000", "cyber@police.example")]}),
    )
    .await;
    assert_eq!(status, 200);

    // Every registered participant reads the whole directory, whatever its roles.
    for who in ["bank-a", "isp-a", "police-a", "dpo-a"] {
        let (status, v) = json(s.client(who).get(s.url("/v1/directory")).send().await.unwrap()).await;
        assert_eq!(status, 200, "{who}: {v}");
        let list = v["participants"].as_array().unwrap();
        let names: Vec<&str> = list.iter().map(|e| e["participant"].as_str().unwrap()).collect();
        assert_eq!(names, ["bank-a", "dpo-a", "isp-a", "police-a"], "{who}");
        let entry = |n: &str| list.iter().find(|e| e["participant"] == n).unwrap().clone();
        assert_eq!(entry("bank-a")["kind"], "bank");
        assert_eq!(entry("bank-a")["contacts"].as_array().unwrap().len(), 2);
        assert_eq!(entry("bank-a")["contacts"][1]["role"], "incident-response");
        assert_eq!(entry("police-a")["kind"], "law-enforcement");
        assert_eq!(entry("police-a")["contacts"][0]["role"], "law-enforcement-liaison");
        assert_eq!(entry("isp-a")["contacts"], json!([]));
        assert!(entry("isp-a")["updated"].is_null());
        assert!(entry("bank-a")["updated"].is_string());
        assert!(v["roles"].as_array().unwrap().iter().any(|r| r == "incident-response"));
    }
    // A PUT replaces the caller's own entry, and only its own.
    let (status, _) =
        put(&s, "bank-a", &json!({"contacts": [contact("abuse", "+33111111111", "abuse@bank-a.example")]})).await;
    assert_eq!(status, 200);
    let (_, v) = json(s.client("isp-a").get(s.url("/v1/directory")).send().await.unwrap()).await;
    let bank = v["participants"].as_array().unwrap().iter().find(|e| e["participant"] == "bank-a").unwrap().clone();
    assert_eq!(bank["contacts"].as_array().unwrap().len(), 1);
    assert_eq!(bank["contacts"][0]["role"], "abuse");
    let police = v["participants"].as_array().unwrap().iter().find(|e| e["participant"] == "police-a").unwrap().clone();
    assert_eq!(police["contacts"].as_array().unwrap().len(), 1);

    // An unregistered certificate gets neither.
    issue_client(&s.dir, "stranger", false);
    let c = s.client("stranger");
    let (status, v) = json(c.get(s.url("/v1/directory")).send().await.unwrap()).await;
    assert_eq!((status, v["error"]["code"].as_str()), (403, Some("unregistered_certificate")));
    let (status, _) =
        json(c.put(s.url("/v1/directory/self")).json(&json!({"contacts": []})).send().await.unwrap()).await;
    assert_eq!(status, 403);

    // The change is audited (who, how many), never the contents.
    let (_, audit) = json(s.client("dpo-a").get(s.url("/v1/audit?limit=1000")).send().await.unwrap()).await;
    let updates: Vec<&Value> =
        audit["records"].as_array().unwrap().iter().filter(|r| r["event"] == "directory-update").collect();
    assert_eq!(updates.len(), 3, "{audit}");
    assert_eq!((updates[0]["participant"].as_str(), updates[0]["contacts"].as_u64()), (Some("bank-a"), Some(2)));
    let text = audit.to_string();
    assert!(!text.contains("+33123456789") && !text.contains("fraud-desk@"), "the audit trail holds contacts");
    s.stop().await;
}

#[tokio::test]
async fn bad_entries_are_refused_with_index_and_field_and_change_nothing() {
    let s = TestServer::start().await;
    let good = contact("fraud", "+33123456789", "fraud@bank-a.example");
    for (bad, expected) in [
        (json!({"role": "ceo"}), "contacts[1].role: must be one of"),
        (json!({"phone": "06 12 34 56 78"}), "contacts[1].phone: must be an E.164 number"),
        (json!({"email": "jean.dupont"}), "contacts[1].email: must be a mailbox address"),
        (json!({"languages": []}), "contacts[1].languages: 1 to 12"),
        (json!({"pgp": "not a key"}), "contacts[1].pgp: must be an OpenPGP fingerprint"),
        (json!({"fax": "+33123456789"}), "contacts[1]: unknown field `fax`"),
    ] {
        let mut second = good.clone();
        for (k, v) in bad.as_object().unwrap() {
            second[k] = v.clone();
        }
        let (status, v) = put(&s, "bank-a", &json!({"contacts": [good.clone(), second]})).await;
        assert_eq!(status, 400, "{v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(expected), "{message}");
        assert!(!message.contains("06 12") && !message.contains("jean.dupont"), "echoes the value: {message}");
    }
    let r = s.client("bank-a").put(s.url("/v1/directory/self")).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 415);
    let big = json!({"contacts": [{"role": "fraud", "hours": "x".repeat(70_000)}]});
    let (status, _) = put(&s, "bank-a", &big).await;
    assert_eq!(status, 413);
    let r = s.client("bank-a").post(s.url("/v1/directory/self")).json(&json!({"contacts": []})).send().await.unwrap();
    assert_eq!(r.status(), 405);
    // Nothing was stored.
    let (_, v) = json(s.client("bank-a").get(s.url("/v1/directory")).send().await.unwrap()).await;
    assert!(v["participants"].as_array().unwrap().iter().all(|e| e["contacts"] == json!([])), "{v}");
    s.stop().await;
}
