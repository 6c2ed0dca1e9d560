//! Encryption of values at rest: AES-256-GCM with random 96-bit nonces and
//! the record's key as associated data, so a value copied under another key
//! fails to open. Format: `[version 1][key id u32 BE][nonce 12][ciphertext+tag]`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

const VERSION: u8 = 1;
const HEADER: usize = 1 + 4 + 12;

/// Seals and opens stored values.
pub struct Sealer {
    cipher: Aes256Gcm,
    /// Identifies the key, so that a rotated key can coexist with the old one.
    key_id: u32,
    /// Earlier keys, by id: values they sealed still open (during a rotation).
    previous: Vec<(u32, Aes256Gcm)>,
}

/// A stored value that does not open: corrupted, tampered with, or moved.
#[derive(Clone, Debug, thiserror::Error)]
#[error("stored value under {0} does not authenticate (corrupted or tampered with)")]
pub struct OpenError(pub String);

impl Sealer {
    pub fn new(key: &[u8; 32], key_id: u32) -> Sealer {
        Sealer { cipher: Aes256Gcm::new_from_slice(key).expect("32-byte key"), key_id, previous: Vec::new() }
    }

    /// A sealer that also opens values sealed under `previous` keys.
    pub fn with_previous(key: &[u8; 32], key_id: u32, previous: &[(u32, [u8; 32])]) -> Sealer {
        let mut s = Sealer::new(key, key_id);
        s.previous = previous.iter().map(|(id, k)| (*id, Aes256Gcm::new_from_slice(k).expect("32-byte key"))).collect();
        s
    }

    /// The id of the key new values are sealed with.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    pub fn seal(&self, record_key: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let nonce = random_nonce();
        let aad = aad(self.key_id, record_key);
        let ct = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plaintext, aad: &aad })
            .expect("AES-GCM encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(HEADER + ct.len());
        out.push(VERSION);
        out.extend_from_slice(&self.key_id.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(&self, record_key: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let err = || OpenError(String::from_utf8_lossy(&record_key[..record_key.len().min(2)]).into_owned());
        if sealed.len() < HEADER + 16 || sealed[0] != VERSION {
            return Err(err());
        }
        let key_id = u32::from_be_bytes(sealed[1..5].try_into().expect("4 bytes"));
        let cipher = if key_id == self.key_id {
            &self.cipher
        } else {
            match self.previous.iter().find(|(id, _)| *id == key_id) {
                Some((_, c)) => c,
                None => return Err(err()),
            }
        };
        let nonce: [u8; 12] = sealed[5..17].try_into().expect("12 bytes");
        let aad = aad(key_id, record_key);
        cipher.decrypt(&Nonce::from(nonce), Payload { msg: &sealed[HEADER..], aad: &aad }).map_err(|_| err())
    }
}

/// A random 96-bit nonce from the OS generator, drawn in bulk: one system
/// call per 341 nonces instead of one per record.
fn random_nonce() -> [u8; 12] {
    use std::cell::RefCell;
    thread_local! {
        static POOL: RefCell<(Vec<u8>, usize)> = const { RefCell::new((Vec::new(), 0)) };
    }
    POOL.with(|p| {
        let (buf, pos) = &mut *p.borrow_mut();
        if *pos + 12 > buf.len() {
            buf.resize(4092, 0);
            getrandom::fill(buf).expect("OS random source");
            *pos = 0;
        }
        let n: [u8; 12] = buf[*pos..*pos + 12].try_into().expect("12 bytes");
        // Never reuse pool bytes: zero them once taken.
        buf[*pos..*pos + 12].fill(0);
        *pos += 12;
        n
    })
}

fn aad(key_id: u32, record_key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + record_key.len());
    aad.extend_from_slice(b"tamis/record/v1\0");
    aad.extend_from_slice(&key_id.to_be_bytes());
    aad.extend_from_slice(record_key);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding_to_the_record_key() {
        let s = Sealer::new(&[7; 32], 1);
        let sealed = s.seal(b"i/abc", b"hello");
        assert_eq!(s.open(b"i/abc", &sealed).unwrap(), b"hello");
        assert!(s.open(b"i/abd", &sealed).is_err(), "moved record must not open");
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(s.open(b"i/abc", &tampered).is_err());
        assert!(!sealed.windows(5).any(|w| w == b"hello"), "plaintext visible");
        assert!(Sealer::new(&[8; 32], 1).open(b"i/abc", &sealed).is_err());
        // A rotated sealer opens the old key's values and seals under the new id.
        let rotated = Sealer::with_previous(&[8; 32], 2, &[(1, [7; 32])]);
        assert_eq!(rotated.open(b"i/abc", &sealed).unwrap(), b"hello");
        let resealed = rotated.seal(b"i/abc", b"hello");
        assert_eq!(resealed[1..5], 2u32.to_be_bytes());
        assert!(s.open(b"i/abc", &resealed).is_err(), "the old key does not open the new values");
    }
}
