//! Private lookup of fraud identifiers (issue 13): an oblivious PRF, RFC 9497
//! mode OPRF (0x00) with the ciphersuite ristretto255-SHA512, by the `voprf`
//! crate.
//!
//! The exchange holds a secret OPRF key. At ingest, the value of every IBAN,
//! phone or e-mail indicator (the identifier a submitter reports as a mule,
//! fraudster or scam contact) is evaluated in full on the server side
//! ([`LookupKey::evaluate`]) and the 64-byte output is stored next to its
//! pseudonym. A client blinds its normalised identifier ([`blind`]), the
//! exchange evaluates the blinded element without learning it
//! ([`LookupKey::blind_evaluate`]), the client unblinds ([`finalize`]) and
//! asks for the bucket of outputs sharing the first [`PREFIX_HEX`] hex digits
//! of its output, then tests membership locally.
//!
//! The OPRF input is the value exactly as `model::normalise_value` leaves it
//! (IBAN compact upper case, phone `+` and digits, e-mail with a lower-case
//! local part and domain), with no type prefix: the three forms cannot
//! collide (an IBAN starts with two letters, an international phone with
//! `+`, an e-mail holds `@`).
//!
//! Nothing here does I/O; the key seed is read by `deploy`.

use voprf::{BlindedElement, EvaluationElement, OprfClient, OprfServer, Ristretto255};

use crate::model::{IndicatorType, normalise_value};

/// Hex digits of an output that name its bucket (16 bits: 65,536 buckets).
pub const PREFIX_HEX: usize = 4;
/// Bytes of an OPRF output (SHA-512).
pub const OUTPUT_LEN: usize = 64;
/// Bytes of a serialised ristretto255 element.
pub const ELEMENT_LEN: usize = 32;
/// Domain separation of the key derivation from its seed (RFC 9497
/// DeriveKeyPair's `info`).
const KEY_INFO: &[u8] = b"tamis/lookup/v1";

/// The exchange's OPRF key. Its `Debug` never shows it.
pub struct LookupKey {
    server: OprfServer<Ristretto255>,
}

impl std::fmt::Debug for LookupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LookupKey(..)")
    }
}

/// A blinded element that is not a valid, non-identity ristretto255 point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid ristretto255 element (32 bytes, canonical encoding, not the identity)")]
pub struct BadElement;

impl LookupKey {
    /// The key derived from a 32-byte seed (the `keys/lookup.key` file),
    /// RFC 9497 DeriveKeyPair with `info` = `tamis/lookup/v1`.
    pub fn from_seed(seed: &[u8; 32]) -> LookupKey {
        LookupKey { server: Self::derive(seed, KEY_INFO) }
    }

    fn derive(seed: &[u8], info: &[u8]) -> OprfServer<Ristretto255> {
        // DeriveKeyPair fails only for an info longer than 65,532 bytes, or
        // with probability 2^-2040 over 256 counter values.
        OprfServer::new_from_seed(seed, info).expect("OPRF key derivation")
    }

    /// The server-side full evaluation of `input` (hex of the 64-byte
    /// output); `None` for an empty input or one over 65,535 bytes.
    pub fn evaluate(&self, input: &str) -> Option<String> {
        self.server.evaluate(input.as_bytes()).ok().map(hex::encode)
    }

    /// Evaluates a client's blinded element.
    pub fn blind_evaluate(&self, blinded: &[u8]) -> Result<[u8; ELEMENT_LEN], BadElement> {
        let element = BlindedElement::<Ristretto255>::deserialize(blinded).map_err(|_| BadElement)?;
        let out = self.server.blind_evaluate(&element).serialize();
        out.as_slice().try_into().map_err(|_| BadElement)
    }
}

/// Whether indicators of this type feed the lookup set.
pub fn is_lookup_type(kind: IndicatorType) -> bool {
    matches!(kind, IndicatorType::Iban | IndicatorType::Phone | IndicatorType::Email)
}

/// A client's identifier, normalised as ingest normalises it. The error
/// names the type, never the value.
pub fn normalise(kind: IndicatorType, value: &str) -> Result<String, String> {
    if !is_lookup_type(kind) {
        return Err(format!("{} values are not in the lookup set (iban, phone or email)", kind.as_str()));
    }
    normalise_value(kind, value).map_err(|e| format!("not a valid {}: {e}", kind.as_str()))
}

/// The client's state between blinding and finalising.
pub struct Blinded {
    state: OprfClient<Ristretto255>,
    /// The blinded element to send (32 bytes).
    pub element: [u8; ELEMENT_LEN],
}

/// Blinds `input` with a fresh random scalar.
pub fn blind(input: &str) -> Result<Blinded, String> {
    let r = OprfClient::<Ristretto255>::blind(input.as_bytes(), &mut rand_core::OsRng)
        .map_err(|_| "the identifier cannot be blinded (empty or too long)".to_owned())?;
    let element = r.message.serialize().as_slice().try_into().map_err(|_| "unexpected element size".to_owned())?;
    Ok(Blinded { state: r.state, element })
}

/// Unblinds the exchange's evaluation: the OPRF output of `input`, in hex.
pub fn finalize(b: &Blinded, input: &str, evaluation: &[u8]) -> Result<String, String> {
    let e = EvaluationElement::<Ristretto255>::deserialize(evaluation)
        .map_err(|_| "the exchange answered an invalid evaluated element".to_owned())?;
    let out = b.state.finalize(input.as_bytes(), &e).map_err(|_| "the evaluation cannot be unblinded".to_owned())?;
    Ok(hex::encode(out))
}

/// The bucket of an output (its first [`PREFIX_HEX`] hex digits).
pub fn prefix_of(output_hex: &str) -> &str {
    &output_hex[..PREFIX_HEX.min(output_hex.len())]
}

/// Checks a bucket name from a request: exactly [`PREFIX_HEX`] hex digits
/// (either case); answers it in lower case.
pub fn check_prefix(p: &str) -> Result<String, String> {
    if p.len() != PREFIX_HEX || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("the prefix must be exactly {PREFIX_HEX} hexadecimal digits"));
    }
    Ok(p.to_ascii_lowercase())
}

/// Checks a stored or answered output: 128 lower-case hex digits.
pub fn is_output_hex(s: &str) -> bool {
    s.len() == 2 * OUTPUT_LEN && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    /// RFC 9497 Appendix A.1.1 (ristretto255-SHA512, OPRF mode): the key
    /// derived from the seed, the server's blind evaluation and full
    /// evaluation, and the client's unblinding with the vector's blind.
    #[test]
    fn rfc9497_ristretto255_sha512_oprf_vectors() {
        let server = LookupKey::derive(&[0xa3; 32], &h("74657374206b6579"));
        assert_eq!(hex::encode(server.serialize()), "5ebcea5ee37023ccb9fc2d2019f9d7737be85591ae8652ffa9ef0f4d37063b0e");
        let key = LookupKey { server };
        let blind = h("64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706");
        let vectors = [
            (
                "00",
                "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
                "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
                "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3\
                 ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6",
            ),
            (
                "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a",
                "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
                "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
                "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4\
                 f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73",
            ),
        ];
        for (input, blinded, evaluated, output) in vectors {
            let input = h(input);
            assert_eq!(hex::encode(key.blind_evaluate(&h(blinded)).unwrap()), evaluated);
            assert_eq!(hex::encode(key.server.evaluate(&input).unwrap()), output);
            // the client's half: unblinding with the vector's blind
            let client = OprfClient::<Ristretto255>::deserialize(&blind).unwrap();
            let e = EvaluationElement::<Ristretto255>::deserialize(&h(evaluated)).unwrap();
            assert_eq!(hex::encode(client.finalize(&input, &e).unwrap()), output);
        }
    }

    #[test]
    fn a_blinded_lookup_finds_the_servers_evaluation_and_only_that() {
        let key = LookupKey::from_seed(&[7; 32]);
        let iban = normalise(IndicatorType::Iban, "de89 3704 0044 0532 0130 00").unwrap();
        let stored = key.evaluate(&iban).unwrap();
        assert!(is_output_hex(&stored));
        let b = blind(&iban).unwrap();
        let out = finalize(&b, &iban, &key.blind_evaluate(&b.element).unwrap()).unwrap();
        assert_eq!(out, stored);
        // another key, or another value, gives another output
        assert_ne!(LookupKey::from_seed(&[8; 32]).evaluate(&iban).unwrap(), stored);
        assert_ne!(key.evaluate("+33612345678").unwrap(), stored);
        // two blindings of one value look unrelated
        assert_ne!(blind(&iban).unwrap().element, b.element);
    }

    #[test]
    fn bad_elements_prefixes_and_types_are_refused_without_the_value() {
        let key = LookupKey::from_seed(&[7; 32]);
        assert_eq!(key.blind_evaluate(&[0u8; 32]), Err(BadElement)); // identity
        assert_eq!(key.blind_evaluate(&[0xff; 32]), Err(BadElement)); // not canonical
        assert_eq!(key.blind_evaluate(&[1u8; 31]), Err(BadElement));
        assert_eq!(check_prefix("A0f9").unwrap(), "a0f9");
        for bad in ["", "a0f", "a0f9a", "g0f9", "a0 9"] {
            assert!(check_prefix(bad).unwrap_err().contains("exactly 4 hexadecimal"), "{bad}");
        }
        let e = normalise(IndicatorType::Iban, "DE00SECRET").unwrap_err();
        assert!(e.contains("iban") && !e.contains("SECRET"), "{e}");
        assert!(normalise(IndicatorType::Domain, "evil.top").is_err());
        assert_eq!(normalise(IndicatorType::Email, " Mule@Example.COM ").unwrap(), "mule@example.com");
        assert_eq!(normalise(IndicatorType::Phone, "0033 6 12 34 56 78").unwrap(), "+33612345678");
        assert_eq!(format!("{key:?}"), "LookupKey(..)");
    }
}
