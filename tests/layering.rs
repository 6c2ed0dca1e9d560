//! Keeps the module layering of `docs/design.md` ("Layering") true: a
//! module of `src/` may use only modules listed before it in [`ORDER`].
//!
//! A plain text scan: every `crate::name` in a file's code (comments and the
//! `#[cfg(test)]` module at the end of a file are left out, as tests may
//! reach upward for fixtures) names the module it depends on. A new module
//! must be added to [`ORDER`] and to the list in `docs/design.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The module order, lowest first; keep it in step with `docs/design.md`.
const ORDER: &[&str] = &[
    // Foundations: types, configuration, who is who.
    "model",
    "config",
    "identity",
    "pki",
    "directory",
    "lookup",
    // Policies and the pure sanitiser.
    "policy",
    "privacy",
    "policy_set",
    // The audit chain and storage.
    "audit",
    "store",
    "tls",
    // Distribution, and the DPO report.
    "feeds",
    "report",
    // A submission's path without HTTP: parse, sanitise, commit.
    "pipeline",
    // The counters and their exposition, then the state shared by every connection.
    "metrics",
    "app",
    // The RPZ zone by zone transfer (DNS, its own listener).
    "rpz",
    // HTTP.
    "api",
    // The feed pushed to participants' endpoints (reads it through the API's feed page).
    "webhooks",
    // Loading a deployment, then serving it.
    "deploy",
    "server",
    // The command line.
    "cli",
];

/// The top-level module a file of `src/` belongs to (`None`: the crate root).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    let name = if rel.components().count() == 1 { first.strip_suffix(".rs")?.to_owned() } else { first };
    (name != "lib" && name != "main").then_some(name)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("readable src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its test module and its comments.
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names right after `crate::` (each name of a `crate::{a, b}` group too).
fn crate_paths(code: &str) -> Vec<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        if code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `other_crate::`
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if c.is_whitespace() => {}
                    _ if start => {
                        out.push(ident(&group[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out
}

fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut by_module: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for f in files {
        if let Some(m) = module_of(src, &f) {
            by_module.entry(m).or_default().push(f);
        }
    }
    by_module
}

#[test]
fn every_module_has_a_place_in_the_order() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found: Vec<String> = modules(&src).into_keys().collect();
    let mut listed: Vec<String> = ORDER.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(found, listed, "src/ modules vs ORDER in tests/layering.rs (and the list in docs/design.md)");
}

#[test]
fn no_module_uses_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rank = |m: &str| ORDER.iter().position(|x| *x == m);
    let mut wrong = Vec::new();
    for (module, files) in modules(&src) {
        let Some(own) = rank(&module) else { continue };
        for f in files {
            let text = std::fs::read_to_string(&f).expect("readable source");
            for target in crate_paths(&code(&text)) {
                if let Some(r) = rank(&target)
                    && r > own
                {
                    wrong.push(format!("{} ({module}) uses crate::{target}", f.strip_prefix(&src).unwrap().display()));
                }
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "imports against the layering of docs/design.md:\n{}", wrong.join("\n"));
}

#[test]
fn the_scan_sees_paths_and_groups() {
    let c = code("use crate::{api::X, store};\n// crate::cli\nfn f() { crate::feeds::y(); other_crate::z(); }");
    assert_eq!(crate_paths(&c), ["api", "store", "feeds"]);
    assert!(code("use crate::a;\n#[cfg(test)]\nmod tests { use crate::b; }").contains("crate::a"));
    assert!(!code("use crate::a;\n#[cfg(test)]\nmod tests { use crate::b; }").contains("crate::b"));
}
