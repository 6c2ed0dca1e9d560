//! The development PKI: a participant CA, the server certificate and one
//! client certificate per participant, generated with rcgen (ECDSA P-256).
//!
//! Client certificates carry the participant's name as a
//! `urn:tamis:participant:NAME` URI SAN and the `clientAuth` extended key
//! usage; the registry also pins their SHA-256 fingerprints.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, RevokedCertParams, SanType, SerialNumber,
};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::identity::SAN_PREFIX;

/// A PKI operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("certificate generation failed: {0}")]
pub struct PkiError(#[from] rcgen::Error);

/// A certificate with its private key, both PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    /// SHA-256 of the certificate's DER, lower-case hex.
    pub fingerprint: String,
    /// Serial number, for revocation.
    pub serial: Vec<u8>,
}

fn random_serial() -> SerialNumber {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("OS random source");
    b[0] &= 0x7f; // positive
    b[0] |= 0x01; // no leading zero byte
    SerialNumber::from_slice(&b)
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(days);
}

/// A new self-signed participant CA.
pub fn new_ca(name: &str) -> Result<Issued, PkiError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn.push(DnType::OrganizationName, "tamis exchange");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.serial_number = Some(random_serial());
    validity(&mut params, 3650);
    let serial = params.serial_number.as_ref().map(|s| s.to_bytes()).unwrap_or_default();
    let cert = params.self_signed(&key)?;
    Ok(Issued {
        fingerprint: hex::encode(Sha256::digest(cert.der())),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        serial,
    })
}

/// The URI SAN of the exchange's own client certificate.
pub const EXCHANGE_SAN: &str = "urn:tamis:exchange";

/// A CA loaded from its PEM files, able to issue certificates and CRLs.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Ca, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        Ok(Ca { issuer: Issuer::from_ca_cert_pem(cert_pem, key)? })
    }

    /// The server certificate for the given DNS names and IP addresses.
    pub fn issue_server(&self, names: &[&str]) -> Result<Issued, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name.push(DnType::CommonName, names.first().copied().unwrap_or("tamis"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.serial_number = Some(random_serial());
        validity(&mut params, 825);
        self.sign(params, key)
    }

    /// A client certificate for participant `id`.
    pub fn issue_client(&self, id: &str, organisation: &str) -> Result<Issued, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, id);
        params.distinguished_name.push(DnType::OrganizationName, organisation);
        params.subject_alt_names = vec![SanType::URI(format!("{SAN_PREFIX}{id}").try_into()?)];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.serial_number = Some(random_serial());
        validity(&mut params, 825);
        self.sign(params, key)
    }

    /// The exchange's own client certificate, presented to webhook
    /// receivers. Its SAN is `urn:tamis:exchange`, outside the participant
    /// namespace: it can never pass for a participant.
    pub fn issue_exchange_client(&self) -> Result<Issued, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, "tamis exchange");
        params.distinguished_name.push(DnType::OrganizationName, "tamis");
        params.subject_alt_names = vec![SanType::URI(EXCHANGE_SAN.try_into()?)];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.serial_number = Some(random_serial());
        validity(&mut params, 825);
        self.sign(params, key)
    }

    fn sign(&self, params: CertificateParams, key: KeyPair) -> Result<Issued, PkiError> {
        let serial = params.serial_number.as_ref().map(|s| s.to_bytes()).unwrap_or_default();
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            fingerprint: hex::encode(Sha256::digest(cert.der())),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            serial,
        })
    }

    /// A CRL revoking the given serial numbers; `number` must grow with each CRL.
    pub fn crl(&self, number: u64, revoked: &[Vec<u8>]) -> Result<String, PkiError> {
        let now = OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now - Duration::minutes(5),
            next_update: now + Duration::days(30),
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(s),
                    revocation_time: now - Duration::minutes(1),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }
}
