//! Escrow: hybrid public-key encryption of a personal value so that the
//! exchange can seal it but never open it (SPEC §6). HPKE-like base mode:
//! an ephemeral X25519 key agreement with the escrow public key, HKDF-SHA-256
//! to derive a one-time AES-256-GCM key and nonce, and the ephemeral public
//! key sent along. Only whoever holds the private key (the party answering
//! legal orders) can reopen a token.
//!
//! Token format: `esc:v1:<type>:<base64url(ephemeral_pk ‖ ciphertext ‖ tag)>`.
//! The data type is bound as associated data, so a token cannot be passed
//! off as another type.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

const PREFIX: &str = "esc:v1:";
const INFO: &[u8] = b"tamis escrow v1";

/// Why sealing or opening failed. Never carries the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscrowError {
    #[error("no randomness available")]
    Random,
    #[error("invalid escrow public key")]
    BadKey,
    #[error("not an escrow token")]
    Malformed,
    #[error("token does not open with this key (wrong key or tampered)")]
    Open,
}

/// A fresh key pair: `(private, public)`. The private half goes to the
/// escrow key holder, never to the server.
pub fn generate_keypair() -> Result<([u8; 32], [u8; 32]), EscrowError> {
    let mut sk = [0u8; 32];
    getrandom::fill(&mut sk).map_err(|_| EscrowError::Random)?;
    let secret = StaticSecret::from(sk);
    let public = PublicKey::from(&secret);
    Ok((secret.to_bytes(), public.to_bytes()))
}

/// The public half of a private key.
pub fn public_key(private: &[u8; 32]) -> [u8; 32] {
    PublicKey::from(&StaticSecret::from(*private)).to_bytes()
}

fn derive(shared: &[u8; 32], eph_pk: &[u8; 32], pk: &[u8; 32]) -> ([u8; 32], [u8; 12]) {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(eph_pk);
    salt[32..].copy_from_slice(pk);
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut okm = [0u8; 44];
    hk.expand(INFO, &mut okm).expect("44 bytes is a valid HKDF length");
    let mut key = [0u8; 32];
    let mut nonce = [0u8; 12];
    key.copy_from_slice(&okm[..32]);
    nonce.copy_from_slice(&okm[32..]);
    (key, nonce)
}

fn aead(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new_from_slice(key).expect("32-byte key")
}

/// Seals `plaintext` (of data type `kind`, e.g. `phone`) to `public`.
pub fn seal(public: &[u8; 32], kind: &str, plaintext: &[u8]) -> Result<String, EscrowError> {
    let mut esk = [0u8; 32];
    getrandom::fill(&mut esk).map_err(|_| EscrowError::Random)?;
    let eph = StaticSecret::from(esk);
    let eph_pk = PublicKey::from(&eph).to_bytes();
    let shared = eph.diffie_hellman(&PublicKey::from(*public));
    if !shared.was_contributory() {
        return Err(EscrowError::BadKey);
    }
    let (key, nonce) = derive(shared.as_bytes(), &eph_pk, public);
    let nonce = Nonce::try_from(&nonce[..]).expect("12 bytes");
    let ct = aead(&key)
        .encrypt(&nonce, Payload { msg: plaintext, aad: kind.as_bytes() })
        .map_err(|_| EscrowError::BadKey)?;
    let mut blob = Vec::with_capacity(32 + ct.len());
    blob.extend_from_slice(&eph_pk);
    blob.extend_from_slice(&ct);
    Ok(format!("{PREFIX}{kind}:{}", URL_SAFE_NO_PAD.encode(blob)))
}

/// Opens a token made by [`seal`] with the private key; returns the data
/// type and the value.
pub fn open(private: &[u8; 32], token: &str) -> Result<(String, Vec<u8>), EscrowError> {
    let rest = token.strip_prefix(PREFIX).ok_or(EscrowError::Malformed)?;
    let (kind, b64) = rest.split_once(':').ok_or(EscrowError::Malformed)?;
    let blob = URL_SAFE_NO_PAD.decode(b64).map_err(|_| EscrowError::Malformed)?;
    if blob.len() < 32 + 16 {
        return Err(EscrowError::Malformed);
    }
    let mut eph_pk = [0u8; 32];
    eph_pk.copy_from_slice(&blob[..32]);
    let secret = StaticSecret::from(*private);
    let pk = PublicKey::from(&secret).to_bytes();
    let shared = secret.diffie_hellman(&PublicKey::from(eph_pk));
    if !shared.was_contributory() {
        return Err(EscrowError::Open);
    }
    let (key, nonce) = derive(shared.as_bytes(), &eph_pk, &pk);
    let nonce = Nonce::try_from(&nonce[..]).expect("12 bytes");
    let pt = aead(&key)
        .decrypt(&nonce, Payload { msg: &blob[32..], aad: kind.as_bytes() })
        .map_err(|_| EscrowError::Open)?;
    Ok((kind.to_owned(), pt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_of_seal_is_identity_and_tokens_differ() {
        let (sk, pk) = generate_keypair().unwrap();
        assert_eq!(public_key(&sk), pk);
        let a = seal(&pk, "phone", b"+33612345678").unwrap();
        let b = seal(&pk, "phone", b"+33612345678").unwrap();
        assert_ne!(a, b, "ephemeral keys make every token unique");
        assert!(a.starts_with("esc:v1:phone:"));
        assert!(!a.contains("612345678"));
        assert_eq!(open(&sk, &a).unwrap(), ("phone".into(), b"+33612345678".to_vec()));
    }

    #[test]
    fn tampered_or_foreign_tokens_do_not_open() {
        let (sk, pk) = generate_keypair().unwrap();
        let t = seal(&pk, "iban", b"DE89370400440532013000").unwrap();
        // flip one character of the ciphertext
        let mut chars: Vec<char> = t.chars().collect();
        let i = chars.len() - 5;
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(open(&sk, &tampered), Err(EscrowError::Open));
        // relabelled type (associated data) fails
        let relabelled = t.replacen(":iban:", ":phone:", 1);
        assert_eq!(open(&sk, &relabelled), Err(EscrowError::Open));
        // another key fails
        let (sk2, _) = generate_keypair().unwrap();
        assert_eq!(open(&sk2, &t), Err(EscrowError::Open));
        assert_eq!(open(&sk, "tok:v1:x"), Err(EscrowError::Malformed));
    }

    #[test]
    fn low_order_public_key_is_refused() {
        assert_eq!(seal(&[0u8; 32], "email", b"x"), Err(EscrowError::BadKey));
    }
}
