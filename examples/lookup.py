#!/usr/bin/env python3
"""Private lookup client for tamis (RFC 9497 OPRF, ristretto255-SHA512).

Asks a tamis exchange whether an IBAN, phone number or e-mail address is
known as a fraud identifier without revealing it:

  1. normalise the identifier as tamis does at ingest (IBAN: upper case, no
     spaces; phone: E.164, "+" and digits; e-mail: trimmed, lower case);
  2. blind it: P = HashToGroup(input), blinded = r * P for a random scalar r;
  3. POST /v1/lookup/evaluate {"blinded": [hex]} -> {"evaluated": [hex]};
  4. unblind: N = r^-1 * evaluated; output = SHA-512(len(input) || input ||
     len(N) || N || "Finalize") (RFC 9497 section 3.3.1, Finalize);
  5. GET /v1/lookup/{first 4 hex digits of output} -> {"outputs": [...]}
     (padded with random entries) and test membership locally.

The exchange sees a random group element and a 16-bit bucket name, never the
identifier. Prints "known" (exit 0) or "unknown" (exit 1); errors exit 2.

Needs libsodium's ristretto255 and requests: PyNaCl's bindings when they
expose ristretto255 (PyNaCl 1.6 does not yet), else the system libsodium
through ctypes (Debian: libsodium23; it is the library PyNaCl wraps):
    pip install pynacl requests
    python3 lookup.py --url https://localhost:8443 --cacert certs/ca.pem \
        --cert certs/bank-a.pem --key certs/bank-a.key --iban "DE89 3704 0044 0532 0130 00"
--selftest first checks the client half against the RFC 9497 test vectors;
--selftest-only does only that (exit 3 when libsodium or requests is missing).
"""

import argparse
import hashlib
import sys


class MissingDependency(Exception):
    pass


def sodium():
    """(from_hash, scalarmult, scalar_random, scalar_invert) of ristretto255."""
    try:
        from nacl import bindings as b

        if hasattr(b, "crypto_scalarmult_ristretto255"):
            return (b.crypto_core_ristretto255_from_hash, b.crypto_scalarmult_ristretto255,
                    b.crypto_core_ristretto255_scalar_random, b.crypto_core_ristretto255_scalar_invert)
    except ImportError:
        pass
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("sodium")
    if not name:
        raise MissingDependency("libsodium (with ristretto255) not found: install libsodium23 or a PyNaCl that has it")
    lib = ctypes.CDLL(name)
    if lib.sodium_init() < 0:
        raise MissingDependency("libsodium failed to initialise")

    def call(fn, *args):
        out = ctypes.create_string_buffer(32)
        if getattr(lib, fn)(out, *args) not in (0, None):
            raise ValueError(f"{fn}: invalid input")
        return out.raw

    return (lambda h: call("crypto_core_ristretto255_from_hash", h),
            lambda n, p: call("crypto_scalarmult_ristretto255", n, p),
            lambda: call("crypto_core_ristretto255_scalar_random"),
            lambda s: call("crypto_core_ristretto255_scalar_invert", s))

# RFC 9497 section 4.1: contextString = "OPRFV1-" || I2OSP(mode, 1) || "-" || identifier
CONTEXT = b"OPRFV1-" + bytes([0x00]) + b"-ristretto255-SHA512"
HASH_TO_GROUP_DST = b"HashToGroup-" + CONTEXT
PREFIX_HEX = 4
SODIUM = None  # set by main(): see sodium()


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 section 5.3.1 with SHA-512 (b_in_bytes 64, s_in_bytes 128)."""
    ell = -(-length // 64)
    if ell > 255 or len(dst) > 255:
        raise ValueError("expand_message_xmd: length or DST too long")
    dst_prime = dst + bytes([len(dst)])
    b0 = hashlib.sha512(bytes(128) + msg + length.to_bytes(2, "big") + b"\x00" + dst_prime).digest()
    b = [hashlib.sha512(b0 + b"\x01" + dst_prime).digest()]
    for i in range(2, ell + 1):
        prev = bytes(x ^ y for x, y in zip(b0, b[-1]))
        b.append(hashlib.sha512(prev + bytes([i]) + dst_prime).digest())
    return b"".join(b)[:length]


def hash_to_group(msg: bytes) -> bytes:
    """RFC 9497 section 4.1 (ristretto255): one-way map of 64 uniform bytes."""
    return SODIUM[0](expand_message_xmd(msg, HASH_TO_GROUP_DST, 64))


def blind(data: bytes, r: bytes) -> bytes:
    return SODIUM[1](r, hash_to_group(data))


def finalize(data: bytes, r: bytes, evaluated: bytes) -> bytes:
    unblinded = SODIUM[1](SODIUM[3](r), evaluated)
    h = hashlib.sha512()
    for part in (data, unblinded):
        h.update(len(part).to_bytes(2, "big"))
        h.update(part)
    h.update(b"Finalize")
    return h.digest()


def selftest() -> None:
    """RFC 9497 Appendix A.1.1 (ristretto255-SHA512, OPRF mode), client half."""
    r = bytes.fromhex("64d37aed22a27f5191de1c1d69fadb899d8862b58eb4220029e036ec4c1f6706")
    vectors = [
        ("00", "609a0ae68c15a3cf6903766461307e5c8bb2f95e7e6550e1ffa2dc99e412803c",
         "7ec6578ae5120958eb2db1745758ff379e77cb64fe77b0b2d8cc917ea0869c7e",
         "527759c3d9366f277d8c6020418d96bb393ba2afb20ff90df23fb7708264e2f3"
         "ab9135e3bd69955851de4b1f9fe8a0973396719b7912ba9ee8aa7d0b5e24bcf6"),
        ("5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", "da27ef466870f5f15296299850aa088629945a17d1f5b7f5ff043f76b3c06418",
         "b4cbf5a4f1eeda5a63ce7b77c7d23f461db3fcab0dd28e4e17cecb5c90d02c25",
         "f4a74c9c592497375e796aa837e907b1a045d34306a749db9f34221f7e750cb4"
         "f2a6413a6bf6fa5e19ba6348eb673934a722a7ede2e7621306d18951e7cf2c73"),
    ]
    for data, blinded, evaluated, output in vectors:
        data = bytes.fromhex(data)
        assert blind(data, r).hex() == blinded, "BlindedElement differs from RFC 9497"
        assert finalize(data, r, bytes.fromhex(evaluated)).hex() == output, "Output differs from RFC 9497"
    print("self-test: RFC 9497 ristretto255-SHA512 vectors OK", file=sys.stderr)


def normalise(kind: str, value: str) -> str:
    v = value.strip()
    if kind == "iban":
        return "".join(c for c in v if not c.isspace() and c != "-").upper()
    if kind == "phone":
        digits = "".join(c for c in v if c.isdigit())
        if v.startswith("+"):
            return "+" + digits
        if digits.startswith("00"):
            return "+" + digits[2:]
        raise ValueError("give the phone number in international format (+33..., 0033...)")
    return v.lower()


def lookup(args, kind: str, value: str) -> bool:
    import requests

    data = normalise(kind, value).encode()
    # verify= and cert= on each call: a Session's own would yield to REQUESTS_CA_BUNDLE
    tls = {"verify": args.cacert, "cert": (args.cert, args.key), "timeout": 30}
    session = requests.Session()
    base = args.url.rstrip("/")
    r = SODIUM[2]()
    resp = session.post(f"{base}/v1/lookup/evaluate", json={"blinded": [blind(data, r).hex()]}, **tls)
    if resp.status_code != 200:
        raise RuntimeError(f"evaluate: HTTP {resp.status_code}: {resp.json().get('error', {}).get('message')}")
    output = finalize(data, r, bytes.fromhex(resp.json()["evaluated"][0])).hex()
    resp = session.get(f"{base}/v1/lookup/{output[:PREFIX_HEX]}", **tls)
    if resp.status_code != 200:
        raise RuntimeError(f"bucket: HTTP {resp.status_code}: {resp.json().get('error', {}).get('message')}")
    return output in resp.json()["outputs"]


def main() -> int:
    global SODIUM
    if "--selftest-only" in sys.argv:
        try:
            import requests  # noqa: F401

            SODIUM = sodium()
        except (ImportError, MissingDependency) as e:
            print(f"missing: {e}", file=sys.stderr)
            return 3
        selftest()
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="https://HOST:PORT of the exchange")
    p.add_argument("--cacert", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--selftest", action="store_true", help="check the RFC 9497 test vectors first")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--iban")
    which.add_argument("--phone")
    which.add_argument("--email")
    args = p.parse_args()
    kind, value = next((k, getattr(args, k)) for k in ("iban", "phone", "email") if getattr(args, k))
    try:
        SODIUM = sodium()
        if args.selftest:
            selftest()
        known = lookup(args, kind, value)
    except Exception as e:  # the message never holds the identifier
        print(f"lookup failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    print("known" if known else "unknown")
    return 0 if known else 1


if __name__ == "__main__":
    sys.exit(main())
