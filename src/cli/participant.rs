//! `tamis participant add | revoke | rotate`: the registry file, client
//! certificates issued by the deployment's CA, and the CRL; a running
//! exchange of the deployment is then asked to reload.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;

use super::remote::apply_to_running;
use super::{CliError, failed};
use crate::config::Config;
use crate::identity::{Participant, RegistryFile};

/// The directory of the CA certificate, where participant certificates go.
fn cert_dir(cfg: &Config) -> PathBuf {
    cfg.tls.ca.parent().unwrap_or(Path::new(".")).to_path_buf()
}

/// A participant to register.
pub(super) struct NewParticipant<'a> {
    pub name: &'a str,
    /// `bank`, `isp`, `law-enforcement` or `auditor`.
    pub kind: &'a str,
    pub roles: &'a [String],
    pub sector: Option<String>,
    pub audiences: Vec<String>,
}

/// The registry entry of `new`, once its name, kind and roles are valid.
fn registry_entry(new: NewParticipant<'_>) -> Result<Participant, CliError> {
    let name = new.name;
    if !crate::identity::valid_name(name) {
        return Err(failed(format!("invalid name {name:?} (use a-z, 0-9 and '-')")));
    }
    let kind: crate::identity::Kind = new.kind.parse().map_err(failed)?;
    let mut roles: Vec<crate::identity::Role> =
        new.roles.iter().map(|r| r.parse()).collect::<Result<_, _>>().map_err(failed)?;
    if roles.is_empty() {
        // without --roles, the kind's roles (SPEC §1): a bank submits and looks up
        roles = kind.default_roles().to_vec();
    }
    Ok(Participant {
        id: name.to_owned(),
        kind,
        roles,
        sector: new.sector,
        audiences: new.audiences,
        policy: None,
        fingerprints: None,
        disclose_name: false,
        revoked: false,
    })
}

/// The registry entry of `name`.
fn entry<'a>(file: &'a mut RegistryFile, name: &str) -> Result<&'a mut Participant, CliError> {
    file.participants.iter_mut().find(|p| p.id == name).ok_or_else(|| failed(format!("no participant {name:?}")))
}

/// `tamis participant add`: issues certs/NAME.pem and .key and appends the
/// participant to the registry.
pub(super) fn add(
    config_path: &Path,
    new: NewParticipant<'_>,
    admin_listen: Option<SocketAddr>,
) -> Result<(), CliError> {
    let cfg = Config::load(config_path).map_err(failed)?;
    let mut entry = registry_entry(new)?;
    let name = entry.id.clone();
    let registry = crate::identity::Registry::load(&cfg.participants).map_err(failed)?;
    if registry.get(&name).is_some() {
        return Err(failed(format!("participant {name:?} already exists")));
    }
    let issued = load_ca(&cfg).map_err(failed)?.issue_client(&name, &name).map_err(failed)?;
    let dir = cert_dir(&cfg);
    let (pem, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    if pem.exists() || key.exists() {
        return Err(failed(format!("{} or its key already exists", pem.display())));
    }
    entry.fingerprints = Some(vec![issued.fingerprint.clone()]);
    let tsig = entry.has(crate::identity::Role::Blocklist).then(|| dir.join(format!("{name}.tsig.conf")));
    if let Some(copy) = &tsig
        && (copy.exists() || crate::rpz::keys::key_path(&cfg.rpz.keys_dir, &name).exists())
    {
        return Err(failed(format!("{} or its server copy already exists", copy.display())));
    }
    let block = toml::to_string(&RegistryFile { participants: vec![entry] }).map_err(failed)?;
    let write = || -> std::io::Result<()> {
        std::fs::write(&pem, &issued.cert_pem)?;
        crate::config::write_new_file(&key, issued.key_pem.as_bytes(), true)?;
        let mut reg = std::fs::OpenOptions::new().append(true).open(&cfg.participants)?;
        std::io::Write::write_all(&mut reg, format!("\n{block}").as_bytes())?;
        if let Some(copy) = &tsig {
            crate::rpz::keys::write_keys(&cfg.rpz.keys_dir, &name, copy, &cfg.rpz.zone)?;
        }
        Ok(())
    };
    write().map_err(failed)?;
    println!("registered {name}: certificate {} (SHA-256 {})", pem.display(), issued.fingerprint);
    if let Some(copy) = &tsig {
        println!(
            "TSIG key for the RPZ zone transfer (zone {}): {} (give it to {name} with its certificate)",
            cfg.rpz.zone,
            copy.display()
        );
    }
    apply_to_running(&cfg, admin_listen).map_err(failed)
}

/// `tamis participant tsig`: a new TSIG key for the RPZ zone transfer,
/// replacing any previous one (the exchange reads the key at each request).
pub(super) fn tsig(config_path: &Path, name: &str) -> Result<(), CliError> {
    let cfg = Config::load(config_path).map_err(failed)?;
    let registry = crate::identity::Registry::load(&cfg.participants).map_err(failed)?;
    let p = registry.get(name).ok_or_else(|| failed(format!("no participant {name:?}")))?;
    if p.revoked || !p.has(crate::identity::Role::Blocklist) {
        return Err(failed(format!("{name} is revoked or lacks the blocklist role: zone transfers are not for it")));
    }
    let copy = cert_dir(&cfg).join(format!("{name}.tsig.conf"));
    let server = crate::rpz::keys::key_path(&cfg.rpz.keys_dir, name);
    let replaced = server.exists() || copy.exists();
    for f in [&server, &copy] {
        if f.exists() {
            std::fs::remove_file(f).map_err(|e| failed(format!("{}: {e}", f.display())))?;
        }
    }
    crate::rpz::keys::write_keys(&cfg.rpz.keys_dir, name, &copy, &cfg.rpz.zone)
        .map_err(|e| failed(format!("cannot write the TSIG key of {name}: {e}")))?;
    let what = if replaced { "replaced; the previous key no longer works" } else { "written" };
    println!(
        "TSIG key of {name} {what}: {} (give it to {name}); the exchange's copy: {}",
        copy.display(),
        server.display()
    );
    Ok(())
}

/// `tamis participant revoke`: the participant (marked revoked, its
/// certificates put on the CRL), or with `cert` only that certificate.
pub(super) fn revoke(
    config_path: &Path,
    name: &str,
    cert: Option<&Path>,
    admin_listen: Option<SocketAddr>,
) -> Result<(), CliError> {
    let cfg = Config::load(config_path).map_err(failed)?;
    let mut file = read_registry(&cfg).map_err(failed)?;
    let p = entry(&mut file, name)?;
    let mut extra = Vec::new();
    let what = match cert {
        None => {
            p.revoked = true;
            format!("revoked {name}")
        }
        Some(path) => {
            let c = unlist_cert(&cfg, p, path)?;
            extra.push(c.serial);
            format!("revoked certificate {} of {name} (SHA-256 {})", path.display(), c.fingerprint)
        }
    };
    let text = registry_text(&file).map_err(failed)?;
    std::fs::write(&cfg.participants, text).map_err(|e| failed(format!("{}: {e}", cfg.participants.display())))?;
    let (crl_path, number, n) = write_crl(&cfg, &file, &extra).map_err(failed)?;
    println!("{what}; CRL {} (number {number}) lists {n} certificate(s)", crl_path.display());
    if cfg.tls.crl.is_none() {
        println!(
            "note: tamis.toml has no [tls] crl entry; add crl = \"{}\" so the server checks it",
            crl_path.display()
        );
    }
    apply_to_running(&cfg, admin_listen).map_err(failed)
}

/// Takes the certificate at `path` out of `p`'s accepted certificates (not
/// its current one): returns it, for the CRL.
fn unlist_cert(cfg: &Config, p: &mut Participant, path: &Path) -> Result<CertFile, CliError> {
    let name = p.id.clone();
    let c = read_cert(path).map_err(failed)?;
    if c.san.as_deref() != Some(name.as_str()) && !p.fingerprints.iter().flatten().any(|f| f == &c.fingerprint) {
        return Err(failed(format!("{} is not a certificate of {name}", path.display())));
    }
    let current = read_cert(&cert_dir(cfg).join(format!("{name}.pem"))).ok();
    if current.as_ref().is_some_and(|cur| cur.fingerprint == c.fingerprint) {
        return Err(failed(format!(
            "{} is {name}'s current certificate (certs/{name}.pem); issue a new one first with \
             tamis participant rotate {name}, or revoke the participant without --cert",
            path.display()
        )));
    }
    if p.fingerprints.is_none() {
        // Recognised by its SAN so far: pin the current certificate, so
        // that no other certificate with the SAN is accepted.
        let Some(cur) = current else {
            return Err(failed(format!(
                "{name} lists no fingerprints and certs/{name}.pem is missing: add the fingerprint of \
                 its current certificate to {} first",
                cfg.participants.display()
            )));
        };
        p.fingerprints = Some(vec![cur.fingerprint]);
    }
    let listed = p.fingerprints.get_or_insert_with(Vec::new);
    listed.retain(|f| f != &c.fingerprint);
    if listed.is_empty() {
        println!("note: {name} now has no accepted certificate; issue one with tamis participant rotate {name}");
    }
    Ok(c)
}

/// `tamis participant rotate`: a new certificate, the old one archived as
/// certs/NAME.SERIAL.pem and still accepted until revoked.
pub(super) fn rotate(config_path: &Path, name: &str, admin_listen: Option<SocketAddr>) -> Result<(), CliError> {
    let cfg = Config::load(config_path).map_err(failed)?;
    let mut file = read_registry(&cfg).map_err(failed)?;
    let p = entry(&mut file, name)?;
    if p.revoked {
        return Err(failed(format!("{name} is revoked; register a new participant instead")));
    }
    let ca = load_ca(&cfg).map_err(failed)?;
    let dir = cert_dir(&cfg);
    let (pem, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    let old = match read_cert(&pem) {
        Ok(c) => Some(c),
        Err(_) if !pem.exists() => None,
        Err(e) => return Err(failed(e)),
    };
    let issued = ca.issue_client(name, name).map_err(failed)?;
    let listed = p.fingerprints.get_or_insert_with(|| {
        // It was recognised by its SAN: keep the old certificate working
        // until it is revoked, now as a listed fingerprint.
        old.iter().map(|o| o.fingerprint.clone()).collect()
    });
    listed.push(issued.fingerprint.clone());
    let text = registry_text(&file).map_err(failed)?;
    let archived = old.as_ref().map(|o| {
        let serial = hex::encode(&o.serial);
        (dir.join(format!("{name}.{serial}.pem")), dir.join(format!("{name}.{serial}.key")))
    });
    let write = || -> std::io::Result<()> {
        if let Some((apem, akey)) = &archived {
            std::fs::rename(&pem, apem)?;
            if key.exists() {
                std::fs::rename(&key, akey)?;
            }
        }
        std::fs::write(&pem, &issued.cert_pem)?;
        crate::config::write_new_file(&key, issued.key_pem.as_bytes(), true)?;
        std::fs::write(&cfg.participants, text)
    };
    write().map_err(failed)?;
    println!("rotated {name}: new certificate {} (SHA-256 {})", pem.display(), issued.fingerprint);
    if let Some((apem, _)) = &archived {
        println!(
            "the old certificate, now {}, keeps working until: tamis participant revoke {name} --cert {}",
            apem.display(),
            apem.display()
        );
    }
    apply_to_running(&cfg, admin_listen).map_err(failed)
}

/// The participant CA with its private key (only these commands read it).
fn load_ca(cfg: &Config) -> Result<crate::pki::Ca, String> {
    let key_path = cfg.tls.ca_key.clone().unwrap_or_else(|| cfg.tls.ca.with_extension("key"));
    crate::config::check_secret_file(&key_path)?;
    match (std::fs::read_to_string(&cfg.tls.ca), std::fs::read_to_string(key_path)) {
        (Ok(c), Ok(k)) => crate::pki::Ca::from_pem(&c, &k).map_err(|e| e.to_string()),
        _ => Err(format!("cannot read the CA certificate and key next to {}", cfg.tls.ca.display())),
    }
}

/// What the CLI reads from a certificate file.
struct CertFile {
    fingerprint: String,
    /// The `urn:tamis:participant:` SAN, if any.
    san: Option<String>,
    /// Serial number (DER content bytes), for the CRL.
    serial: Vec<u8>,
}

fn read_cert(path: &Path) -> Result<CertFile, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let der = rustls_pki_types::CertificateDer::from_pem_slice(&pem)
        .map_err(|_| format!("{}: not a PEM certificate", path.display()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|_| format!("{}: not an X.509 certificate", path.display()))?;
    let info = crate::identity::CertInfo::from_der(der.as_ref());
    Ok(CertFile { fingerprint: info.fingerprint, san: info.san_participant, serial: cert.raw_serial().to_vec() })
}

/// The registry file as data (rewritten by revoke and rotate; comments are lost).
fn read_registry(cfg: &Config) -> Result<RegistryFile, String> {
    let text =
        std::fs::read_to_string(&cfg.participants).map_err(|e| format!("{}: {e}", cfg.participants.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", cfg.participants.display()))
}

fn registry_text(file: &RegistryFile) -> Result<String, String> {
    let t = toml::to_string_pretty(file).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Participant registry: who may connect and with which roles.\n\
         # A fingerprints list is an allow-list: only those certificates are accepted;\n\
         # an entry without one is recognised by its urn:tamis:participant:<id> SAN.\n\n{t}"
    ))
}

/// Writes a new CRL: every serial of the current CRL, the certificates of
/// revoked participants (`NAME.pem` and the `NAME.SERIAL.pem` kept by
/// rotations), and `extra`. Returns the CRL path, its number and its size.
fn write_crl(cfg: &Config, file: &RegistryFile, extra: &[Vec<u8>]) -> Result<(PathBuf, u64, usize), String> {
    let dir = cert_dir(cfg);
    let crl_path = cfg.tls.crl.clone().unwrap_or_else(|| dir.join("crl.pem"));
    let mut serials: Vec<Vec<u8>> = extra.to_vec();
    if let Ok(pem) = std::fs::read(&crl_path) {
        let der = rustls_pki_types::CertificateRevocationListDer::from_pem_slice(&pem)
            .map_err(|_| format!("{}: not a PEM CRL", crl_path.display()))?;
        let (_, crl) = x509_parser::parse_x509_crl(der.as_ref())
            .map_err(|_| format!("{}: not a valid CRL", crl_path.display()))?;
        serials.extend(crl.iter_revoked_certificates().map(|r| r.raw_serial().to_vec()));
    }
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    for p in file.participants.iter().filter(|p| p.revoked) {
        let (exact, rotated) = (format!("{}.pem", p.id), format!("{}.", p.id));
        for f in &files {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if (name == exact || (name.starts_with(&rotated) && name.ends_with(".pem")))
                && let Ok(c) = read_cert(f)
                && c.san.as_deref() == Some(p.id.as_str())
            {
                serials.push(c.serial);
            }
        }
    }
    serials.sort();
    serials.dedup();
    let ca = load_ca(cfg)?;
    let number_file = dir.join("crl.number");
    let number = std::fs::read_to_string(&number_file).ok().and_then(|s| s.trim().parse::<u64>().ok()).unwrap_or(0) + 1;
    let crl = ca.crl(number, &serials).map_err(|e| e.to_string())?;
    std::fs::write(&crl_path, crl)
        .and_then(|()| std::fs::write(&number_file, number.to_string()))
        .map_err(|e| format!("{}: {e}", crl_path.display()))?;
    Ok((crl_path, number, serials.len()))
}
