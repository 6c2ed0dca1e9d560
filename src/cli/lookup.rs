//! `tamis lookup`: the participant's client of the private lookup. It
//! normalises the identifier as ingest does, blinds it, has the exchange
//! evaluate the blinded element over mutual TLS, unblinds, fetches the
//! bucket of its output's prefix and tests membership locally. Prints
//! `known` (exit 0) or `unknown` (exit 1); any error exits 2. The
//! identifier is never sent, printed or put in an error.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{CliError, unusable};
use crate::lookup::{Blinded, blind, finalize, normalise, prefix_of};
use crate::model::IndicatorType;

/// What to look up, and where.
pub(super) struct LookupArgs {
    /// `https://HOST:PORT` of the exchange.
    pub url: String,
    pub cacert: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub kind: IndicatorType,
    pub value: String,
}

/// Runs the lookup; `Ok(true)` when the identifier is in the set.
pub(super) fn lookup(args: &LookupArgs) -> Result<bool, CliError> {
    let input = normalise(args.kind, &args.value).map_err(unusable)?;
    let client = client(&args.cacert, &args.cert, &args.key)?;
    let base = args.url.trim_end_matches('/').to_owned();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(unusable)?;
    rt.block_on(async {
        let b = blind(&input).map_err(unusable)?;
        let output = evaluate(&client, &base, &b, &input).await?;
        let bucket: serde_json::Value =
            get_json(client.get(format!("{base}/v1/lookup/{}", prefix_of(&output)))).await?;
        let outputs = bucket["outputs"].as_array().ok_or_else(|| unusable("the bucket has no `outputs` list"))?;
        Ok(outputs.iter().any(|o| o.as_str() == Some(output.as_str())))
    })
}

/// The OPRF output of `input`, through the exchange's blind evaluation.
async fn evaluate(client: &reqwest::Client, base: &str, b: &Blinded, input: &str) -> Result<String, CliError> {
    let body = serde_json::json!({ "blinded": [hex::encode(b.element)] });
    let answer = get_json(client.post(format!("{base}/v1/lookup/evaluate")).json(&body)).await?;
    let evaluated = answer["evaluated"][0]
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| unusable("the exchange answered no evaluated element"))?;
    finalize(b, input, &evaluated).map_err(unusable)
}

/// Sends a request and reads its JSON answer; a non-2xx answer is an error
/// with the exchange's message (which never quotes personal data).
async fn get_json(req: reqwest::RequestBuilder) -> Result<serde_json::Value, CliError> {
    let resp = req.send().await.map_err(|e| unusable(format!("cannot reach the exchange: {e}")))?;
    let status = resp.status();
    let v: serde_json::Value = resp.json().await.unwrap_or_default();
    if !status.is_success() {
        let msg = v["error"]["message"].as_str().unwrap_or("no message");
        return Err(unusable(format!("the exchange answered {status}: {msg}")));
    }
    Ok(v)
}

/// A client presenting `cert`/`key`, trusting only `cacert` (rustls, ring).
fn client(cacert: &Path, cert: &Path, key: &Path) -> Result<reqwest::Client, CliError> {
    let read_certs = |p: &Path| -> Result<Vec<CertificateDer<'static>>, CliError> {
        let certs: Vec<_> = CertificateDer::pem_file_iter(p)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| unusable(format!("{}: {e}", p.display())))?;
        if certs.is_empty() {
            return Err(unusable(format!("{}: no certificate", p.display())));
        }
        Ok(certs)
    };
    let mut roots = rustls::RootCertStore::empty();
    for c in read_certs(cacert)? {
        roots.add(c).map_err(|e| unusable(format!("{}: {e}", cacert.display())))?;
    }
    let chain = read_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| unusable(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(unusable)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| unusable(format!("client certificate and key: {e}")))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(cfg)
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(unusable)
}
