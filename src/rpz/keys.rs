//! TSIG keys of the zone transfers (RFC 8945, HMAC-SHA256): one per
//! participant with the blocklist role, named after the participant, in
//! BIND's `key` clause syntax so the same text goes into `named.conf`.
//!
//! The exchange reads `<keys_dir>/<participant>.key` (mode 0600); the
//! participant gets a copy with configuration snippets
//! (`certs/<participant>.tsig.conf`). The key decides who is asking, and so
//! which audience's zone is served. The secret is never logged or echoed in
//! an error.

use std::path::{Path, PathBuf};

use base64::Engine as _;

/// The one algorithm written by tamis (and the only one accepted).
pub const ALGORITHM: &str = "hmac-sha256";

/// A key read from a file.
pub struct KeyFile {
    pub name: String,
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyFile").field("name", &self.name).field("secret", &"<hidden>").finish()
    }
}

/// The server's key file of participant `id`.
pub fn key_path(keys_dir: &Path, id: &str) -> PathBuf {
    keys_dir.join(format!("{id}.key"))
}

/// A new random secret (32 bytes, the HMAC-SHA256 block-size guidance of
/// RFC 8945 §6 asks for at least the output size).
pub fn new_secret() -> Vec<u8> {
    let mut k = vec![0u8; 32];
    getrandom::fill(&mut k).expect("OS random source");
    k
}

/// The BIND `key` clause of a key.
pub fn key_clause(name: &str, secret: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    format!("key \"{name}\" {{\n    algorithm {ALGORITHM};\n    secret \"{b64}\";\n}};\n")
}

/// The participant's copy: the key clause and how a BIND or Unbound
/// secondary uses it.
pub fn participant_file(name: &str, secret: &[u8], zone: &str) -> String {
    format!(
        "# TSIG key of {name} for the tamis RPZ zone transfer (AXFR/IXFR). Keep it secret.\n\
         # BIND (named.conf): the key clause below, then\n\
         #   zone \"{zone}\" {{ type secondary; file \"{zone}.db\";\n\
         #       primaries {{ TAMIS_ADDRESS port 5353 key \"{name}\"; }}; }};\n\
         #   options {{ response-policy {{ zone \"{zone}\"; }}; }};\n\
         # Unbound cannot sign zone transfers yet: ask the exchange to allow its address unsigned\n\
         #   ([[rpz.allow_unsigned]]), then rpz: name: \"{zone}\" primary: TAMIS_ADDRESS@5353;\n\
         #   or let it transfer from a local BIND secondary: see the tamis README.\n\
         # dig: dig -y {ALGORITHM}:{name}:SECRET -p 5353 @TAMIS_ADDRESS {zone} AXFR\n\
         {}",
        key_clause(name, secret)
    )
}

/// Writes participant `id`'s key for the exchange (`keys_dir/ID.key`) and
/// its copy for the participant (`participant_copy`), both new files of
/// mode 0600. Returns the secret's files.
pub fn write_keys(keys_dir: &Path, id: &str, participant_copy: &Path, zone: &str) -> std::io::Result<PathBuf> {
    let secret = new_secret();
    std::fs::create_dir_all(keys_dir)?;
    let server = key_path(keys_dir, id);
    crate::config::write_new_file(&server, key_clause(id, &secret).as_bytes(), true)?;
    crate::config::write_new_file(participant_copy, participant_file(id, &secret, zone).as_bytes(), true)?;
    Ok(server)
}

/// Reads a key clause (`key "NAME" { algorithm hmac-sha256; secret "…"; };`).
/// Errors name the file and the fault, never the secret.
pub fn read_key(path: &Path) -> Result<KeyFile, String> {
    crate::config::check_secret_file(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_key(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `text` without its `#` and `//` comments; quoted strings are kept whole
/// (a base64 secret may contain `//`).
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut quoted = false;
        let mut prev = '\0';
        for c in line.chars() {
            if c == '"' {
                quoted = !quoted;
            } else if !quoted && (c == '#' || (c == '/' && prev == '/')) {
                if c == '/' {
                    out.pop();
                }
                break;
            }
            out.push(c);
            prev = c;
        }
        out.push('\n');
    }
    out
}

/// Parses the text of a key clause; comments (`#`, `//`) are ignored.
pub fn parse_key(text: &str) -> Result<KeyFile, String> {
    let code = without_comments(text);
    let quoted_after = |word: &str| -> Option<String> {
        let at = code.find(word)? + word.len();
        let rest = code[at..].trim_start().strip_prefix('"')?;
        Some(rest[..rest.find('"')?].to_owned())
    };
    let name = quoted_after("key").ok_or("no key \"NAME\" clause")?;
    let algorithm = code
        .find("algorithm")
        .map(|at| code[at + "algorithm".len()..].trim_start())
        .and_then(|rest| rest.split(|c: char| c == ';' || c.is_whitespace()).next())
        .ok_or("no algorithm")?;
    if !algorithm.eq_ignore_ascii_case(ALGORITHM) {
        return Err(format!("algorithm {algorithm:?} is not supported (use {ALGORITHM})"));
    }
    let secret = quoted_after("secret").ok_or("no secret \"…\"")?;
    let secret =
        base64::engine::general_purpose::STANDARD.decode(secret.trim()).map_err(|_| "the secret is not base64")?;
    if secret.len() < 16 {
        return Err("the secret is shorter than 16 bytes".to_owned());
    }
    Ok(KeyFile { name, secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_clause_round_trips_and_errors_hide_the_secret() {
        // Many secrets: any base64 (with `/` and `+`) round-trips.
        for _ in 0..500 {
            let secret = new_secret();
            let k = parse_key(&participant_file("isp-a", &secret, "rpz.tamis")).unwrap();
            assert_eq!((k.name.as_str(), k.secret.as_slice()), ("isp-a", secret.as_slice()));
        }
        let secret = new_secret();
        let k = parse_key(&participant_file("isp-a", &secret, "rpz.tamis")).unwrap();
        assert!(!format!("{k:?}").contains(&base64::engine::general_purpose::STANDARD.encode(&secret)));
        let md5 = "key \"x\" { algorithm hmac-md5; secret \"c2VjcmV0c2VjcmV0c2VjcmV0\"; };";
        assert!(parse_key(md5).unwrap_err().contains("hmac-md5"));
        // A secret with `//` in it is not a comment; a comment after it is.
        let slashes =
            "key \"x\" { // the key\n algorithm hmac-sha256; secret \"ab//cdefghijklmnopqrstuvwxyz\"; }; # end";
        assert_eq!(parse_key(slashes).unwrap().secret.len(), 21);
        let bad = "key \"x\" { algorithm hmac-sha256; secret \"not base64 !!\"; };";
        let err = parse_key(bad).unwrap_err();
        assert!(err.contains("base64") && !err.contains("not base64 !!"), "{err}");
    }
}
