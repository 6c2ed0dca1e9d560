//! Feeds from elsewhere (docs/import.md): a Maltrail export, a MISP event and
//! a URLhaus-style CSV, submitted as they are over mutual TLS, arrive in the
//! police feed with their category, tags, ports and TLP, and the personal
//! data inside them is still removed.

mod common;

use common::{TestServer, json, submit};
use serde_json::{Value, json};

async fn feed(s: &TestServer) -> Vec<Value> {
    let (status, v) =
        json(s.client("police-a").get(s.url("/v1/indicators?since=0&limit=100")).send().await.unwrap()).await;
    assert_eq!(status, 200, "{v}");
    v["indicators"].as_array().unwrap().clone()
}

fn find<'a>(items: &'a [Value], value: &str) -> &'a Value {
    items.iter().find(|i| i["value"] == value).unwrap_or_else(|| panic!("{value} missing from {items:?}"))
}

#[tokio::test]
async fn maltrail_records_land_with_family_tags_and_ports() {
    let s = TestServer::start().await;
    let body = json!({"indicators":[
        {"category":"malware","family":"bazarloader","type":"domain","value":"omtewyre-bazar.top"},
        {"category":"malicious","family":"android_ermac","type":"ipv4","value":"185.220.101.4","port":8443},
        {"category":"suspicious","family":"clearfake","type":"url","value":"http://update-browser.example.top/x.js"},
        {"category":"harmful","type":"domain","value":"x.example.top"}
    ]});
    let (status, v) = submit(&s, "isp-a", &body).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 3, "{v}");
    let rej = &v["rejected"][0];
    assert_eq!((rej["index"].as_u64(), rej["field"].as_str()), (Some(3), Some("category")));
    assert!(rej["reason"].as_str().unwrap().contains("expected phishing, malware"), "{rej}");
    let items = feed(&s).await;
    let ip = find(&items, "185.220.101.4");
    assert_eq!(ip["category"], "other");
    assert_eq!(ip["attributes"]["port"], "8443");
    let tags = ip["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t == "malicious"), "{ip}");
    assert_eq!(find(&items, "omtewyre-bazar.top")["category"], "malware");
    assert_eq!(find(&items, "http://update-browser.example.top/x.js")["category"], "other");
    s.stop().await;
}

#[tokio::test]
async fn a_misp_event_is_accepted_as_it_is_exported() {
    let s = TestServer::start().await;
    let event = json!({"Event":{"info":"Parcel smishing wave","Tag":[{"name":"tlp:green"}],
        "Attribute":[
            {"type":"domain","category":"Network activity","value":"parcel-redelivery.example.top","to_ids":true,
             "uuid":"0b6a3e1c-3f4e-4b8f-9d7e-2a1c3e5f7a90","comment":"Reported by customer Jean Dupont, +33 6 12 34 56 78"},
            {"type":"ip-dst|port","category":"Network activity","value":"45.137.21.77|4444","Tag":[{"name":"tlp:amber"},{"name":"c2"}]},
            {"type":"regkey","value":"HKCU\\Software\\x"}
        ],
        "Object":[{"name":"file","Attribute":[{"type":"sha256","category":"Payload delivery","value":"a".repeat(64)}]}]}});
    let (status, v) = submit(&s, "bank-a", &event).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 3, "{v}");
    assert_eq!(v["rejected"][0]["index"], 2);
    assert_eq!(v["rejected"][0]["field"], "type");
    let items = feed(&s).await;
    let domain = find(&items, "parcel-redelivery.example.top");
    assert_eq!(domain["tlp"], "green");
    let text = serde_json::to_string(&items).unwrap();
    for secret in ["Dupont", "12 34 56 78", "0b6a3e1c"] {
        assert!(!text.contains(secret), "{secret} reached the feed: {text}");
    }
    let ip = find(&items, "45.137.21.77");
    assert_eq!((ip["type"].as_str(), ip["tlp"].as_str()), (Some("ipv4"), Some("amber")));
    assert_eq!(ip["attributes"]["port"], "4444");
    assert_eq!(find(&items, &"a".repeat(64))["category"], "malware");
    s.stop().await;
}

#[tokio::test]
async fn a_urlhaus_style_csv_is_accepted_with_its_own_column_names() {
    let s = TestServer::start().await;
    let csv = "id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n\
               3312345,2026-11-20 10:00:00,http://45.137.21.23:8080/bins/mozi.m,online,2026-11-21 08:00:00,malware_download,\"elf,mozi\",https://urlhaus.example/url/3312345/,someone\n\
               3312346,2026-11-20 11:00:00,not a url,offline,,malware_download,,https://urlhaus.example/url/3312346/,someone\n";
    let resp = s
        .client("isp-a")
        .post(s.url("/v1/submissions"))
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let (status, v) = json(resp).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["accepted"], 1, "{v}");
    assert_eq!((v["rejected"][0]["line"].as_u64(), v["rejected"][0]["field"].as_str()), (Some(3), Some("value")));
    let items = feed(&s).await;
    let url = find(&items, "http://45.137.21.23:8080/bins/mozi.m");
    assert_eq!(url["category"], "malware");
    assert_eq!(url["first_seen"], "2026-11-20T10:00:00Z");
    let tags: Vec<&str> = url["tags"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(tags.contains(&"elf") && tags.contains(&"mozi"), "{tags:?}");
    assert!(!serde_json::to_string(url).unwrap().contains("someone"), "unknown columns are dropped");

    // A header without a value column says which names it accepts.
    let resp = s
        .client("isp-a")
        .post(s.url("/v1/submissions"))
        .header("content-type", "text/csv")
        .body("id,threat\n1,malware_download\n")
        .send()
        .await
        .unwrap();
    let (status, v) = json(resp).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("indicator, ioc"), "{v}");
    s.stop().await;
}
