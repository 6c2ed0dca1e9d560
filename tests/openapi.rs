//! The OpenAPI 3.1 document (`docs/openapi.json`, served at
//! `/v1/openapi.json`) against the real server: it parses, every `$ref`
//! resolves, every route of the router is documented and every documented
//! operation is answered; and, when `TAMIS_SCHEMATHESIS` names a
//! `schemathesis` (`st`) executable, schemathesis fuzzes the running server
//! over mutual TLS as each kind of participant and finds no 5xx and no answer
//! outside the document. Without the variable that test prints `skipped`,
//! unless `TAMIS_REQUIRE_SCHEMATHESIS=1` (CI), where a skip is a failure.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{TestServer, json, submit};
use serde_json::{Value, json};

fn document() -> Value {
    serde_json::from_str(tamis::api::OPENAPI_JSON).expect("docs/openapi.json is JSON")
}

/// Resolves a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, r: &str) -> Option<&'a Value> {
    let pointer = r.strip_prefix('#')?;
    doc.pointer(pointer)
}

/// Every `$ref` anywhere under `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(s)) => out.push(s.clone()),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Documented operations: (path template with `{}` for every parameter, method).
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(*m).is_some() {
                out.insert((template(path), m.to_string()));
            }
        }
    }
    out
}

/// `/v1/policies/{id}/versions` -> `/v1/policies/{}/versions`.
fn template(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') && s.ends_with('}') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

/// The routes the server's router answers, read from its source: every
/// `warp::path!(…)` of `src/api/mod.rs` with the method filter that follows,
/// and every arm of the TAXII router in `src/api/taxii.rs` (GET only).
fn routed() -> BTreeSet<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let api = ["src/api/mod.rs", "src/api/misp.rs"].map(|f| std::fs::read_to_string(root.join(f)).unwrap()).join("\n");
    let path_re = regex::Regex::new(r#"warp::path!\(([^)]*)\)((?s).{0,80})"#).unwrap();
    let mut out = BTreeSet::new();
    for c in path_re.captures_iter(&api) {
        let segs: Vec<String> = c[1]
            .split('/')
            .map(|s| s.trim())
            .map(|s| if s.starts_with('"') { s.trim_matches('"').to_owned() } else { "{}".to_owned() })
            .collect();
        let path = format!("/{}", segs.join("/"));
        let after = &c[2];
        let mut methods = Vec::new();
        for m in ["get", "post", "delete", "put", "patch", "head"] {
            if after.contains(&format!("warp::{m}()")) {
                methods.push(m);
            }
        }
        assert!(!methods.is_empty(), "no method filter found after warp::path!({})", &c[1]);
        for m in methods {
            out.insert((path.clone(), m.to_owned()));
        }
    }
    let taxii = std::fs::read_to_string(root.join("src/api/taxii.rs")).unwrap();
    let arm_re = regex::Regex::new(r#"(?m)^\s*\[([^\]]*)\] => Route::"#).unwrap();
    for c in arm_re.captures_iter(&taxii) {
        let segs: Vec<String> = c[1]
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| if s.starts_with('"') { s.trim_matches('"').to_owned() } else { "{}".to_owned() })
            .collect();
        let path = if segs.is_empty() { "/taxii2/".to_owned() } else { format!("/taxii2/{}/", segs.join("/")) };
        out.insert((path, "get".to_owned()));
    }
    assert!(out.len() >= 20, "the route scan found too little: {out:?}");
    out
}

#[test]
fn document_is_openapi_3_1_with_mutual_tls_and_resolvable_refs() {
    let doc = document();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")), "openapi: {}", doc["openapi"]);
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert_eq!(doc["components"]["securitySchemes"]["mutualTLS"]["type"], "mutualTLS");
    assert_eq!(doc["security"], json!([{"mutualTLS": []}]));
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50);
    for r in &all {
        assert!(resolve(&doc, r).is_some(), "unresolved $ref {r}");
    }
    // Every operation: an id, responses, every error answer of /v1/ is the
    // SPEC §4 error object, every path parameter is declared.
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(METHODS.contains(&method.as_str()), "{path}: {method}");
            assert!(ids.insert(op["operationId"].as_str().expect("operationId").to_owned()), "{path} {method}");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path} has no 2xx");
            for (status, r) in responses {
                let r = r.get("$ref").and_then(|x| resolve(&doc, x.as_str().unwrap())).unwrap_or(r);
                if status.starts_with('4') || status.starts_with('5') {
                    if method == "head" {
                        assert!(r.get("content").is_none(), "HEAD {path} {status} has a body");
                        continue;
                    }
                    let content = r["content"].as_object().expect("error content");
                    let (media, schema) = content.iter().next().unwrap();
                    if path.starts_with("/taxii2/") {
                        assert_eq!(media, tamis::feeds::taxii::TAXII_MEDIA_TYPE, "{path} {status}");
                    } else {
                        assert_eq!(media, "application/json", "{path} {status}");
                        let s = serde_json::to_string(schema).unwrap();
                        assert!(s.contains("#/components/schemas/Error"), "{method} {path} {status}: {s}");
                    }
                }
            }
            let declared: BTreeSet<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p.get("$ref").and_then(|x| resolve(&doc, x.as_str().unwrap())).unwrap_or(p))
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect();
            let in_path: BTreeSet<String> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(str::to_owned)
                .collect();
            assert_eq!(declared, in_path, "{method} {path}: path parameters");
        }
    }
    let e = &doc["components"]["schemas"]["Error"];
    assert_eq!(e["required"], json!(["error"]));
    assert_eq!(e["properties"]["error"]["required"], json!(["code", "message"]));
}

#[test]
fn every_route_of_the_router_is_documented_and_nothing_else() {
    let doc = documented(&document());
    let routed = routed();
    let missing: Vec<_> = routed.difference(&doc).collect();
    let extra: Vec<_> = doc.difference(&routed).collect();
    assert!(missing.is_empty(), "routes the server answers but the document lacks: {missing:?}");
    assert!(extra.is_empty(), "documented operations the router does not have: {extra:?}");
}

/// Who may call an operation, from its tag.
fn caller_for(path: &str, method: &str) -> &'static str {
    match path {
        p if p.starts_with("/taxii2/") || p == "/v1/stats" => "police-a",
        "/v1/indicators" if method == "get" => "police-a",
        "/v1/submissions" | "/v1/indicators/{}" => "bank-a",
        p if p.starts_with("/v1/blocklists/") => "isp-a",
        p if p.starts_with("/v1/audit") || p.starts_with("/v1/policies") => "dpo-a",
        _ => "bank-a",
    }
}

/// True when the answer is the router's own "no such endpoint" (as opposed
/// to a handler's 404 for an unknown resource).
fn router_not_found(status: u16, body: &Value) -> bool {
    status == 404 && (body["error"]["message"] == "no such endpoint" || body["description"] == "no such TAXII endpoint")
}

#[tokio::test]
async fn documented_operations_are_answered_and_others_refused_with_405() {
    let s = TestServer::start().await;
    let (status, v) = submit(
        &s,
        "bank-a",
        &json!({"indicators": [{"type": "domain", "value": "openapi-probe.example.com", "category": "phishing", "tlp": "green"}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let indicator = v["indicators"][0]["id"].as_str().unwrap().to_owned();
    let (_, cols) = json(s.client("police-a").get(s.url("/taxii2/api/collections/")).send().await.unwrap()).await;
    let collection = cols["collections"][0]["id"].as_str().unwrap().to_owned();

    // The document itself, served to any registered participant only.
    for who in ["bank-a", "isp-a", "police-a", "dpo-a"] {
        let r = s.client(who).get(s.url("/v1/openapi.json")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{who}");
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        assert_eq!(r.json::<Value>().await.unwrap(), document());
    }
    common::issue_client(&s.dir, "stranger", false);
    let stranger = common::client_with(
        &s.dir,
        Some((&s.dir.join("certs/stranger.pem"), &s.dir.join("certs/stranger.key"))),
        s.addr,
        false,
    );
    let (status, v) = json(stranger.get(s.url("/v1/openapi.json")).send().await.unwrap()).await;
    assert_eq!((status, v["error"]["code"].as_str()), (403, Some("unregistered_certificate")));

    let params: BTreeMap<&str, &str> = [
        ("id", indicator.as_str()),
        ("name", "domains.txt"),
        ("file", "manifest.json"),
        ("collection_id", collection.as_str()),
        ("object_id", "indicator--00000000-0000-4000-8000-000000000000"),
        ("prefix", "abcd"),
    ]
    .into();
    let doc = document();
    let body = json!({"indicators": [{"type": "domain", "value": "openapi-probe-2.example.com"}]});
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete: String = path
            .split('/')
            .map(|seg| match seg.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                Some("id") if path.starts_with("/v1/policies/") => "default",
                Some(p) => params[p],
                None => seg,
            })
            .collect::<Vec<_>>()
            .join("/");
        for m in ["get", "post", "put", "delete", "patch", "head", "options"] {
            let who = caller_for(&template(path), m);
            let c = s.client_http1(who);
            let method = reqwest::Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap();
            let mut req = c.request(method, s.url(&concrete));
            if m == "post" {
                req = req.json(&body);
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if item.get(m).is_some() {
                assert!(!router_not_found(status, &v), "{m} {concrete}: {status} {text}");
                assert!(status != 405 && status < 500, "{m} {concrete} as {who}: {status} {text}");
                let documented = item[m]["responses"].get(status.to_string()).is_some();
                assert!(documented, "{m} {concrete} as {who}: undocumented status {status} {text}");
            } else if m == "head" && item.get("get").is_some() && status != 405 {
                // A server may answer HEAD as it answers GET, without the body
                // (RFC 9110 §9.3.2); then the GET answers must cover it.
                assert!(text.is_empty(), "HEAD {concrete} sent a body");
                let documented = item["get"]["responses"].get(status.to_string()).is_some();
                assert!(documented, "HEAD {concrete}: status {status} is not documented for GET");
            } else {
                // TAXII collections are read-only: a POST of objects is a 403.
                let read_only = m == "post" && path.ends_with("/objects/");
                let expected = if read_only { 403 } else { 405 };
                assert_eq!(status, expected, "{m} {concrete} is not documented: {text}");
            }
        }
    }
    s.stop().await;
}

/// The schemathesis executable, or `None` (and a `skipped` line) when the
/// test cannot run here.
fn schemathesis() -> Option<std::ffi::OsString> {
    match std::env::var_os("TAMIS_SCHEMATHESIS").filter(|p| !p.is_empty()) {
        Some(p) => Some(p),
        None if std::env::var("TAMIS_REQUIRE_SCHEMATHESIS").as_deref() == Ok("1") => {
            panic!(
                "TAMIS_REQUIRE_SCHEMATHESIS=1 but TAMIS_SCHEMATHESIS is not set (the `st` of a venv with schemathesis)"
            )
        }
        None => {
            println!(
                "skipped: set TAMIS_SCHEMATHESIS to a schemathesis `st` executable to fuzz the API against docs/openapi.json"
            );
            None
        }
    }
}

/// Every documented operation: its path, a regex of its concrete paths, its method.
fn documented_ops(doc: &Value) -> Vec<(String, regex::Regex, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let re = path
            .split('/')
            .map(|s| if s.starts_with('{') { "[^/]*".to_owned() } else { regex::escape(s) })
            .collect::<Vec<_>>()
            .join("/");
        let re = regex::Regex::new(&format!("^{re}$")).unwrap();
        for m in item.as_object().unwrap().keys() {
            out.push((path.clone(), re.clone(), m.clone()));
        }
    }
    // Literal paths before templates (`/v1/policies/{id}` would match `/v1/policies/x`).
    out.sort_by_key(|(p, _, _)| p.matches('{').count());
    out
}

/// Longest a schemathesis run may take (it usually needs 10 to 40 s).
const RUN_LIMIT: std::time::Duration = std::time::Duration::from_secs(240);

/// Runs `cmd` to completion or kills it after `limit`: its exit code (`None`
/// when killed) and its output.
fn run_bounded(mut cmd: std::process::Command, limit: std::time::Duration) -> (Option<i32>, String) {
    use std::io::Read;
    let out = tempfile::tempfile().unwrap();
    cmd.stdout(out.try_clone().unwrap()).stderr(out.try_clone().unwrap());
    let mut child = cmd.spawn().expect("run TAMIS_SCHEMATHESIS");
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let mut text = String::new();
    let mut out = out;
    std::io::Seek::rewind(&mut out).unwrap();
    let _ = out.read_to_string(&mut text);
    if status.is_none() {
        text.push_str(&format!("\n(killed after {} s)\n", limit.as_secs()));
    }
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_outside_the_document() {
    let Some(st) = schemathesis() else { return };
    let s = TestServer::start().await;
    // Something in every list, feed and collection.
    let (status, v) = submit(
        &s,
        "isp-a",
        &json!({"indicators": [
            {"type": "domain", "value": "st-probe.example.com", "category": "malware", "tlp": "green", "confidence": 90},
            {"type": "url", "value": "https://st-probe.example.com/login", "category": "phishing", "tlp": "green", "confidence": 90},
            {"type": "ipv4", "value": "203.0.114.7", "category": "c2", "tlp": "green", "confidence": 90}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (_, cols) = json(s.client("police-a").get(s.url("/taxii2/api/collections/")).send().await.unwrap()).await;
    let collection = cols["collections"][0]["id"].as_str().unwrap().to_owned();
    let (_, objs) = json(
        s.client("police-a")
            .get(s.url(&format!("/taxii2/api/collections/{collection}/objects/?match[type]=indicator")))
            .header("accept", common::TAXII)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let object = objs["objects"][0]["id"].as_str().unwrap().to_owned();

    let work = tempfile::tempdir().unwrap();
    let schema = work.path().join("openapi.json");
    std::fs::write(&schema, tamis::api::OPENAPI_JSON).unwrap();
    let certs = s.dir.join("certs");
    let base = format!("https://127.0.0.1:{}", s.addr.port());
    // One run per kind of participant, each on the operations its roles open,
    // with the path parameters that reach real resources fixed where random
    // ones would only ever meet a 404.
    let runs: [(&str, &str, &str); 4] = [
        ("bank-a", "submissions|identity|directory|lookup", ""),
        (
            "police-a",
            "feed|taxii",
            &format!("\"path.collection_id\" = \"{collection}\"\n\"path.object_id\" = \"{object}\"\n"),
        ),
        ("dpo-a", "policies|audit", "\"path.id\" = \"default\"\n"),
        ("isp-a", "blocklists|sightings", ""),
    ];
    let mut failures = Vec::new();
    for (who, tags, parameters) in runs {
        let config = work.path().join(format!("{who}.toml"));
        let text = if parameters.is_empty() { String::new() } else { format!("[parameters]\n{parameters}") };
        std::fs::write(&config, text).unwrap();
        let mut cmd = std::process::Command::new(&st);
        cmd.arg("--config-file")
            .arg(&config)
            .arg("--no-color")
            .arg("run")
            .arg(&schema)
            .args(["--url", &base])
            .arg("--request-cert")
            .arg(certs.join(format!("{who}.pem")))
            .arg("--request-cert-key")
            .arg(certs.join(format!("{who}.key")))
            .arg("--tls-verify")
            .arg(certs.join("ca.pem"))
            .args(["--include-tag-regex", &format!("^({tags})$")])
            .args([
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            .args(["--max-examples", "20", "--workers", "1", "--seed", "8"])
            .args(["--request-timeout", "10", "--generation-database", "none", "--suppress-health-check", "all"])
            .args(["--report", "har", "--report-har-path"])
            .arg(work.path().join(format!("{who}.har")))
            .current_dir(work.path())
            .env("NO_COLOR", "1");
        let (status, output) = tokio::task::spawn_blocking(move || run_bounded(cmd, RUN_LIMIT)).await.unwrap();
        println!("== schemathesis as {who}\n{output}");
        if status != Some(0) {
            failures.push(who);
        }
    }
    // The runs reached the handlers: answers of every documented operation,
    // and successes for each one that a generated request can satisfy (a
    // run with the wrong certificate would see only 403s and still "pass").
    let doc = document();
    let ops: Vec<(String, regex::Regex, String)> = documented_ops(&doc);
    let mut seen: BTreeMap<(String, String), BTreeSet<u16>> = BTreeMap::new();
    for (who, _, _) in runs {
        let har: Value = match std::fs::read(work.path().join(format!("{who}.har"))) {
            Ok(b) => serde_json::from_slice(&b).unwrap(),
            Err(_) => continue,
        };
        for e in har["log"]["entries"].as_array().into_iter().flatten() {
            let url = e["request"]["url"].as_str().unwrap_or("");
            let method = e["request"]["method"].as_str().unwrap_or("").to_ascii_lowercase();
            let path = url.find("://").and_then(|i| url[i + 3..].find('/').map(|j| &url[i + 3 + j..])).unwrap_or("");
            let path = path.split('?').next().unwrap_or("");
            let status = e["response"]["status"].as_u64().unwrap_or(0) as u16;
            if let Some((p, _, m)) = ops.iter().find(|(_, re, m)| *m == method && re.is_match(path)) {
                seen.entry((p.clone(), m.clone())).or_default().insert(status);
            }
        }
    }
    for ((p, m), statuses) in &seen {
        println!("{m:>6} {p}: {statuses:?}");
    }
    for (p, _, m) in &ops {
        // A live stream never ends, so schemathesis is not pointed at it
        // (tag `stream`); tests/stream.rs drives it.
        if p == "/v1/indicators/stream" {
            continue;
        }
        let statuses = seen.get(&(p.clone(), m.clone()));
        assert!(statuses.is_some(), "schemathesis never called {m} {p}");
        // Random indicator ids are unknown: a retraction or a confirmation
        // may only ever see 404s.
        let needs_success = !((m == "delete" && p == "/v1/indicators/{id}") || p == "/v1/indicators/{id}/confirm");
        assert!(
            !needs_success || statuses.unwrap().iter().any(|s| (200..300).contains(s)),
            "{m} {p} never succeeded under schemathesis: {statuses:?}"
        );
    }
    // The server is still up and sound after the fuzzing.
    let (status, v) = json(s.client("dpo-a").get(s.url("/v1/audit/verify")).send().await.unwrap()).await;
    assert_eq!((status, &v["ok"]), (200, &json!(true)), "{v}");
    s.stop().await;
    assert!(failures.is_empty(), "schemathesis found failures as {failures:?} (see the output above)");
}
