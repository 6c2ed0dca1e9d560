#!/usr/bin/env python3
"""Interop check of the tamis TAXII 2.1 server with the OASIS clients.

Walks discovery -> API root -> every collection -> all pages of objects and of
the manifest with `taxii2-client` over mutual TLS (`cert=`, `verify=ca.pem`),
then fetches one object and its versions, and validates every STIX object
returned with `stix2-validator` (strict, STIX 2.1). Exits non-zero on any
invalid object, any client error, or when the data is not what was expected.

Run it with REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE unset (or pointing at the
test CA): requests lets them override `verify=`.

usage: taxii_check.py URL CERT KEY CA [--page N] [--min-indicators N] [--expect-revoked]
"""
import argparse
import sys

from stix2validator import ValidationOptions, validate_parsed_json
from taxii2client.v21 import Server, as_pages


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("cert")
    ap.add_argument("key")
    ap.add_argument("ca")
    ap.add_argument("--page", type=int, default=7)
    ap.add_argument("--min-indicators", type=int, default=1)
    ap.add_argument("--expect-revoked", action="store_true")
    ap.add_argument("--expect-extension", help="an extension at least one indicator must carry")
    args = ap.parse_args()

    options = ValidationOptions(version="2.1", strict=True)
    failures = []

    def validate(obj):
        result = validate_parsed_json(obj, options)
        if not result.is_valid:
            msgs = [str(getattr(e, "message", e)) for e in (getattr(result, "errors", None) or [result])]
            failures.append("%s: %s" % (obj.get("id"), "; ".join(msgs)))

    server = Server(args.url, verify=args.ca, cert=(args.cert, args.key))
    print("discovery:", server.title, "api roots:", len(server.api_roots))
    root = server.default or server.api_roots[0]
    print("api root:", root.title, root.versions)
    if "application/taxii+json;version=2.1" not in root.versions:
        failures.append("API root does not list TAXII 2.1")
    if not root.collections:
        failures.append("no collection")
    for coll in root.collections:
        print("collection:", coll.id, coll.title, "can_read", coll.can_read, "can_write", coll.can_write)
        if any(c in coll.title for c in " :"):
            failures.append("collection title %r has a space or colon (OpenCTI names it ROOT.TITLE)" % coll.title)
        objects, pages = [], 0
        for envelope in as_pages(coll.get_objects, per_request=args.page):
            pages += 1
            batch = envelope.get("objects", [])
            if len(batch) > args.page:
                failures.append("page larger than limit")
            objects.extend(batch)
        manifest = []
        for envelope in as_pages(coll.get_manifest, per_request=args.page):
            manifest.extend(envelope.get("objects", []))
        print("  objects: %d in %d pages, manifest: %d records" % (len(objects), pages, len(manifest)))
        if [o["id"] for o in objects] != [m["id"] for m in manifest]:
            failures.append("manifest ids differ from object ids in %s" % coll.id)
        for m in manifest:
            if len(m["date_added"]) != len("2026-01-01T00:00:00.000000Z"):
                failures.append("date_added without microseconds: %s" % m["date_added"])
        for obj in objects:
            validate(obj)
        indicators = [o for o in objects if o["type"] == "indicator"]
        if len(indicators) < args.min_indicators:
            failures.append("only %d indicators in %s" % (len(indicators), coll.id))
        if args.expect_extension and not any(args.expect_extension in o.get("extensions", {}) for o in indicators):
            failures.append("no indicator with extension %s in %s" % (args.expect_extension, coll.id))
        if args.expect_revoked and not any(o.get("revoked") for o in indicators):
            failures.append("no revoked indicator in %s" % coll.id)
        # Every version of every indicator, one object at a time.
        for ind in indicators[:5]:
            versions = coll.object_versions(ind["id"]).get("versions", [])
            every = coll.get_object(ind["id"], version="all").get("objects", [])
            if [o["modified"] for o in every] != versions:
                failures.append("versions of %s disagree with its objects" % ind["id"])
            for obj in every:
                validate(obj)
        print("  indicators: %d (revoked: %d)" % (len(indicators), sum(1 for o in indicators if o.get("revoked"))))

    if failures:
        for f in failures:
            print("FAIL:", f)
        print("%d problems" % len(failures))
        return 1
    print("OK: every object passed stix2-validator --strict")
    return 0


if __name__ == "__main__":
    sys.exit(main())
