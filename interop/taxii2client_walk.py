#!/usr/bin/env python3
"""Walk Cairn's TAXII 2.1 API with the OASIS taxii2client and assert every result.

taxii2client (https://github.com/oasis-open/cti-taxii-client, BSD-3-Clause) is an
independent TAXII 2.1 client. It is not vendored here and is used unchanged. Tested with
commit 54dabadf1a67517e99e6a8f2961614a2a4f5ad2c (version 2.3.0).

Set-up, outside the repository:

    git clone https://github.com/oasis-open/cti-taxii-client /tmp/taxii2client
    # taxii2client needs requests, six and pytz. It only uses pytz.utc, which a plain
    # source checkout of pytz provides when pytz cannot be installed from PyPI:
    git clone https://github.com/stub42/pytz /tmp/pytz-src

Run from the repository root (Node 20 and `npm ci` done):

    PYTHONPATH=/tmp/taxii2client:/tmp/pytz-src/src python3 interop/taxii2client_walk.py

The script starts its own Cairn on 127.0.0.1 with a fresh SQLite store in a temporary
directory. It creates users, tokens, grants and collections with the `cairn` CLI, then walks
every TAXII 2.1 endpoint through the client. It prints one PASS, FAIL or KNOWN line per check
and a summary per feature, stops the server, and exits with status 1 if any check failed.
KNOWN marks a check that fails because of a reported Cairn bug. Real STIX data comes from
../shared/data (or $CAIRN_SHARED_DATA): the stalkerware indicators bundle and the MITRE
ATT&CK for ICS bundles 18.0 and 18.1.
"""

import argparse
import collections
import contextlib
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from taxii2client.common import TokenAuth
from taxii2client.exceptions import AccessError
from taxii2client.v21 import Collection, Server, Status, as_pages

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
# TAXII 2.1 section 2: a TAXII timestamp has exactly microsecond precision, in UTC with "Z".
TAXII_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
# STIX 2.1 section 2.10: SCO ids are UUIDv5 in this namespace.
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
REPO_ROOT = Path(__file__).resolve().parent.parent
PAGE = 7
STALKERWARE_SAMPLE = 400


# ---------------------------------------------------------------------------------------
# Checks and their tally


class Walk:
    """Checks grouped by feature, with a tally of passes, failures and known bugs."""

    def __init__(self):
        self.results = []
        self.current = "setup"

    @contextlib.contextmanager
    def feature(self, name):
        """Group the checks that follow. An unexpected exception fails the feature."""
        self.current = name
        print(f"\n== {name}")
        try:
            yield
        except Exception as error:  # noqa: BLE001 - any escape is a failure of this feature
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            self.check("no unexpected exception", False, detail)
            traceback.print_exc()

    def check(self, name, condition, detail=""):
        ok = bool(condition)
        self._record(name, "pass" if ok else "fail", "" if ok else detail)
        return ok

    def known_bug(self, name, condition, bug, detail=""):
        """Check a condition that a reported Cairn bug breaks today.

        A failure is counted apart and does not fail the run. A pass is counted as a pass
        and printed with a note, so the mark can be removed once the bug is fixed.
        """
        if condition:
            self._record(name, "pass", f"the known bug seems fixed, remove the mark: {bug}")
        else:
            self._record(name, "known", f"known bug: {bug}; {detail}")

    def _record(self, name, outcome, detail):
        self.results.append((self.current, name, outcome))
        line = f"  {outcome.upper():5} {name}"
        if detail:
            line += f"  ({detail})"
        print(line)

    def equal(self, name, actual, expected):
        return self.check(name, actual == expected, f"got {actual!r}, expected {expected!r}")

    def http_error(self, name, status, call):
        """Check that `call` raises an HTTP error with `status` and a TAXII error body."""
        try:
            call()
        except requests.HTTPError as error:
            response = error.response
            self.equal(f"{name}: HTTP {status}", response.status_code, status)
            self.equal(
                f"{name}: error Content-Type",
                response.headers.get("Content-Type"),
                TAXII_MEDIA_TYPE,
            )
            body = response.json()
            self.check(f"{name}: error has a title", isinstance(body.get("title"), str))
            self.equal(f"{name}: error http_status", body.get("http_status"), str(status))
            return response
        except Exception as error:  # noqa: BLE001 - reported as a failed check
            self.check(f"{name}: HTTP {status}", False, f"raised {error!r}")
            return None
        self.check(f"{name}: HTTP {status}", False, "the request succeeded")
        return None

    def client_rejects(self, name, call):
        """Check that taxii2client rejects the call itself, from the collection's rights."""
        try:
            call()
        except AccessError:
            self.check(f"{name}: client raises AccessError", True)
            return
        except Exception as error:  # noqa: BLE001 - reported as a failed check
            self.check(f"{name}: client raises AccessError", False, f"raised {error!r}")
            return
        self.check(f"{name}: client raises AccessError", False, "the call went through")

    def summary(self):
        """Print the tally per feature and in total, and return the number of failures."""
        per_feature = collections.OrderedDict()
        for feature, _, outcome in self.results:
            per_feature.setdefault(feature, collections.Counter())[outcome] += 1
        print("\n== Summary")
        for feature, counts in per_feature.items():
            verdict = "FAIL" if counts["fail"] else "PASS"
            known = f", {counts['known']} known bug" if counts["known"] else ""
            tally = f"{counts['pass']} passed, {counts['fail']} failed{known}"
            print(f"  {verdict}  {feature}: {tally}")
        total = collections.Counter(outcome for _, _, outcome in self.results)
        print(f"\n{total['pass']} checks passed, {total['fail']} failed, "
              f"{total['known']} failed on known bugs")
        return total["fail"]


class Credentials(AuthBase):
    """A requests auth object that also records each response's status and Content-Type."""

    def __init__(self, inner, log):
        self.inner = inner
        self.log = log

    def __call__(self, request):
        if self.inner is not None:
            request = self.inner(request)
        request.register_hook("response", self._record)
        return request

    def _record(self, response, **_kwargs):
        self.log.append(
            (
                response.request.method,
                response.url,
                response.status_code,
                response.headers.get("Content-Type"),
            )
        )


class BearerAuth(AuthBase):
    """An auth object for `Authorization: Bearer <token>` (RFC 6750), accepted by Cairn."""

    def __init__(self, token):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


# ---------------------------------------------------------------------------------------
# The server under test and its administration through the CLI


class Cairn:
    """A Cairn server on 127.0.0.1 over a fresh SQLite file, started and stopped here."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.store = f"sqlite:{workdir / 'cairn.db'}"
        self.process = None
        self.url = None
        self.admin_token = None

    def start(self):
        stderr_path = self.workdir / "server.stderr"
        stdout_path = self.workdir / "server.log"
        env = dict(os.environ, CAIRN_LOG_LEVEL="warn")
        with open(stderr_path, "wb") as stderr, open(stdout_path, "wb") as stdout:
            self.process = subprocess.Popen(
                ["node", "--import", "tsx", "src/cli/main.ts", "--store", self.store,
                 "serve", "--host", "127.0.0.1", "--port", "0"],
                cwd=REPO_ROOT, stdout=stdout, stderr=stderr, env=env,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            banner = stderr_path.read_text(errors="replace")
            url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", banner)
            token = re.search(r"\b(cairn_[0-9a-f]{32}_[A-Za-z0-9_-]{43})\b", banner)
            if url and token:
                self.url, self.admin_token = url.group(1), token.group(1)
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"Cairn did not start; its stderr:\n{stderr_path.read_text()}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def cli(self, *args):
        """Run `npm run cairn -- --store <store> ARGS` and return its stdout."""
        result = subprocess.run(
            ["npm", "run", "--silent", "cairn", "--", "--store", self.store, *args],
            cwd=REPO_ROOT, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"cairn {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def new_token(self, user, *options):
        return self.cli("token", "create", user, *options).splitlines()[-1]


# ---------------------------------------------------------------------------------------
# STIX content written for the walk


def stix_time(day_offset, base=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)):
    moment = base + datetime.timedelta(days=day_offset)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def indicator(object_id, modified, created=None, name="walk indicator"):
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": object_id,
        "created": created or modified,
        "modified": modified,
        "name": name,
        "indicator_types": ["malicious-activity"],
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z",
    }


def stix_version(stix_object):
    return stix_object.get("modified", stix_object.get("created"))


def sco_id(object_type, value):
    return f"{object_type}--{uuid.uuid5(SCO_NAMESPACE, json.dumps({'value': value}))}"


class Fixture:
    """Objects with known versions for the filter, get, versions and delete checks."""

    def __init__(self):
        self.indicator_id = f"indicator--{uuid.uuid4()}"
        self.indicator_versions = [stix_time(0), stix_time(31), stix_time(60)]
        self.malware_id = f"malware--{uuid.uuid4()}"
        self.relationship_id = f"relationship--{uuid.uuid4()}"
        self.sco_id = sco_id("ipv4-addr", "198.51.100.7")
        self.many_id = f"indicator--{uuid.uuid4()}"
        self.many_versions = [stix_time(day) for day in range(10)]

    def first_batch(self):
        created = self.indicator_versions[0]
        return [
            indicator(self.indicator_id, created),
            {
                "type": "malware", "spec_version": "2.1", "id": self.malware_id,
                "created": created, "modified": created, "name": "Walk malware",
                "is_family": False,
            },
            {
                "type": "relationship", "spec_version": "2.1", "id": self.relationship_id,
                "created": created, "modified": created, "relationship_type": "indicates",
                "source_ref": self.indicator_id, "target_ref": self.malware_id,
            },
            {"type": "ipv4-addr", "spec_version": "2.1", "id": self.sco_id,
             "value": "198.51.100.7"},
        ]

    def later_versions(self):
        created = self.indicator_versions[0]
        return [indicator(self.indicator_id, v, created) for v in self.indicator_versions[1:]]

    def many_version_batch(self):
        created = self.many_versions[0]
        return [indicator(self.many_id, v, created, "many versions") for v in self.many_versions]

    @property
    def all_ids(self):
        return {self.indicator_id, self.malware_id, self.relationship_id, self.sco_id,
                self.many_id}


def mixed_bundle():
    """Build a STIX bundle with two valid objects and five that each break one rule."""
    good = [indicator(f"indicator--{uuid.uuid4()}", stix_time(5), name="good in bundle"),
            {"type": "domain-name", "spec_version": "2.1",
             "id": sco_id("domain-name", "walk.example"), "value": "walk.example"}]
    bad_pattern = indicator(f"indicator--{uuid.uuid4()}", stix_time(5))
    bad_pattern["pattern"] = "[ipv4-addr:value = "
    no_id = {"type": "malware", "spec_version": "2.1", "created": stix_time(5),
             "modified": stix_time(5), "name": "no id", "is_family": False}
    stix20 = {"type": "malware", "id": f"malware--{uuid.uuid4()}", "created": stix_time(5),
              "modified": stix_time(5), "name": "STIX 2.0", "labels": ["trojan"]}
    modified_before_created = indicator(f"indicator--{uuid.uuid4()}", stix_time(1),
                                        created=stix_time(2))
    bad = [bad_pattern, no_id, 42, stix20, modified_before_created]
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": good + bad}
    return bundle, good, bad


# ---------------------------------------------------------------------------------------
# Helpers over client responses


def objects_of(envelope):
    return envelope.get("objects", [])


def versions_by_id(envelope):
    found = collections.defaultdict(list)
    for item in objects_of(envelope):
        found[item["id"]].append(item.get("modified"))
    return dict(found)


def added_headers(response):
    return (response.headers.get("X-TAXII-Date-Added-First"),
            response.headers.get("X-TAXII-Date-Added-Last"))


def check_added_headers(walk, name, response):
    first, last = added_headers(response)
    walk.check(f"{name}: X-TAXII-Date-Added-First is a TAXII timestamp",
               first and TAXII_TIMESTAMP.match(first), f"got {first!r}")
    walk.check(f"{name}: X-TAXII-Date-Added-Last is a TAXII timestamp",
               last and TAXII_TIMESTAMP.match(last), f"got {last!r}")
    walk.check(f"{name}: first <= last", first and last and first <= last)
    return first, last


def check_empty_envelope(walk, name, envelope):
    walk.check(f"{name}: no objects key", "objects" not in envelope, f"got {dict(envelope)!r}")
    walk.check(f"{name}: more is false or absent", not envelope.get("more", False))


def open_root(base_url, auth):
    server = Server(f"{base_url}/taxii2/", auth=auth)
    return server, server.api_roots[0]


def collection_by_alias(api_root, alias):
    api_root.refresh_collections()
    for item in api_root.collections:
        if item.alias == alias:
            return item
    raise LookupError(f"collection {alias!r} is not listed for this user")


def forced_collection(url, auth, can_read, can_write, collection_id, title="forced"):
    """A Collection whose local can_read/can_write skip the client's own rights check.

    taxii2client rejects a read or write that the collection resource marks as not
    allowed. To see the server's own response, the walk builds a Collection from supplied
    metadata instead, which is a public constructor argument of the client.
    """
    info = {"id": collection_id, "title": title, "can_read": can_read,
            "can_write": can_write}
    return Collection(url, auth=auth, collection_info=info)


def read_bundle(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def shared_data():
    configured = os.environ.get("CAIRN_SHARED_DATA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


# ---------------------------------------------------------------------------------------
# The walk, one function per feature


class Context:
    """Everything the features share: the server, users, tokens and collection ids."""

    def __init__(self, cairn, walk):
        self.cairn = cairn
        self.walk = walk
        self.responses = []
        self.tokens = {}
        self.collection_ids = {}
        self.fixture = Fixture()
        self.expired_at = 0.0

    def basic(self, user, token_name=None):
        return Credentials(HTTPBasicAuth(user, self.tokens[token_name or user]), self.responses)

    def bearer(self, token_name):
        return Credentials(BearerAuth(self.tokens[token_name]), self.responses)

    def url(self, alias):
        return f"{self.cairn.url}/default/collections/{self.collection_ids[alias]}/"


def set_up(context):
    cairn = context.cairn
    for alias, title in [("interop", "Interop walk"), ("stalker", "Stalkerware sample"),
                         ("ics", "ATT&CK for ICS"), ("restricted", "Restricted")]:
        context.collection_ids[alias] = cairn.cli("collection", "create", title,
                                                  "--alias", alias)
    for user in ["alice", "bob", "carol", "dave"]:
        cairn.cli("user", "add", user)
    grants = [("interop", "alice", "--read", "--write"), ("stalker", "alice", "--read", "--write"),
              ("ics", "alice", "--read", "--write"), ("interop", "bob", "--read"),
              ("stalker", "bob", "--read"), ("interop", "dave", "--write")]
    for alias, user, *rights in grants:
        cairn.cli("collection", "grant", alias, user, *rights)
    context.tokens["admin"] = cairn.admin_token
    for user in ["alice", "bob", "carol", "dave"]:
        context.tokens[user] = cairn.new_token(user, "--label", "interop basic")
    context.tokens["alice-bearer"] = cairn.new_token("alice", "--label", "interop bearer")
    context.tokens["alice-read"] = cairn.new_token("alice", "--scopes", "read")
    context.tokens["alice-revoked"] = cairn.new_token("alice", "--label", "revoked")
    revoked_id = context.tokens["alice-revoked"].split("_")[1]
    cairn.cli("token", "revoke", revoked_id)
    # 0.00002 days is 1.728 seconds; the failure checks wait until it has passed.
    context.tokens["alice-expired"] = cairn.new_token("alice", "--expires-in", "0.00002")
    context.expired_at = time.monotonic() + 1.728


def walk_discovery(context):
    walk = context.walk
    for label, auth in [("Basic", context.basic("alice")),
                        ("Bearer", context.bearer("alice-bearer"))]:
        server = Server(f"{context.cairn.url}/taxii2/", auth=auth)
        walk.equal(f"{label}: title", server.title, "Cairn")
        walk.equal(f"{label}: one API root", len(server.api_roots), 1)
        walk.equal(f"{label}: API root URL resolved against /taxii2/",
                   server.api_roots[0].url, f"{context.cairn.url}/default/")
        walk.check(f"{label}: default is the listed API root",
                   server.default is server.api_roots[0])
        walk.check(f"{label}: api_roots are relative or absolute URLs without a query",
                   all(url.startswith("/") and not url.startswith("//") and "?" not in url
                       for url in server._raw["api_roots"]))

    # The client's own user/password arguments build HTTP Basic itself.
    server = Server(f"{context.cairn.url}/taxii2/", user="alice",
                    password=context.tokens["alice"])
    walk.equal("user/password arguments: title", server.title, "Cairn")
    names = {c.alias for c in server.api_roots[0].collections}
    walk.equal("user/password arguments: collections", names, {"interop", "stalker", "ics"})


def walk_api_root(context):
    walk = context.walk
    _, api_root = open_root(context.cairn.url, context.basic("alice"))
    walk.check("title present", isinstance(api_root.title, str) and api_root.title)
    walk.equal("versions", api_root.versions, [TAXII_MEDIA_TYPE])
    walk.equal("max_content_length is the default 16 MiB", api_root.max_content_length,
               16 * 1024 * 1024)
    _, bearer_root = open_root(context.cairn.url, context.bearer("alice-bearer"))
    walk.equal("Bearer: same versions", bearer_root.versions, [TAXII_MEDIA_TYPE])


def walk_collections(context):
    walk = context.walk
    everything = {"default", "interop", "stalker", "ics", "restricted"}
    cases = [
        ("admin", context.basic("admin"), {alias: (True, True) for alias in everything}),
        ("alice", context.basic("alice"),
         {"interop": (True, True), "stalker": (True, True), "ics": (True, True)}),
        ("alice read-scoped token", context.basic("alice", "alice-read"),
         {"interop": (True, False), "stalker": (True, False), "ics": (True, False)}),
        ("alice bearer", context.bearer("alice-bearer"),
         {"interop": (True, True), "stalker": (True, True), "ics": (True, True)}),
        ("bob", context.basic("bob"), {"interop": (True, False), "stalker": (True, False)}),
        ("dave", context.basic("dave"), {"interop": (False, True)}),
        ("carol", context.basic("carol"), {}),
    ]
    for label, auth, expected in cases:
        _, api_root = open_root(context.cairn.url, auth)
        rights = {c.alias: (c.can_read, c.can_write) for c in api_root.collections}
        walk.equal(f"{label}: listed collections with can_read/can_write", rights, expected)
        for item in api_root.collections:
            walk.equal(f"{label}: {item.alias} media_types", item.media_types, [STIX_MEDIA_TYPE])
        first = [c.id for c in api_root.collections]
        api_root.refresh_collections()
        walk.equal(f"{label}: same order on a second request",
                   [c.id for c in api_root.collections], first)
        if expected:
            one = api_root.collections[0]
            single = Collection(one.url, auth=auth)
            walk.equal(f"{label}: GET one collection matches the list entry",
                       (single.id, single.title, single.can_read, single.can_write),
                       (one.id, one.title, one.can_read, one.can_write))
    _, carol_root = open_root(context.cairn.url, context.basic("carol"))
    raw = carol_root._conn.get(carol_root.url + "collections/").json()
    walk.equal("carol: no collections is an empty object", raw, {})


def walk_add_objects(context):
    walk = context.walk
    fixture = context.fixture
    _, api_root = open_root(context.cairn.url, context.basic("alice"))
    interop = collection_by_alias(api_root, "interop")

    status = first_status = interop.add_objects({"objects": fixture.first_batch()},
                                                poll_interval=0.2)
    walk.equal("status is complete", status.status, "complete")
    walk.equal("counts (total, success, failure, pending)",
               (status.total_count, status.success_count, status.failure_count,
                status.pending_count), (4, 4, 0, 0))
    walk.equal("successes name every object",
               {s["id"] for s in status.successes},
               fixture.all_ids - {fixture.many_id})
    walk.check("request_timestamp is a TAXII timestamp",
               TAXII_TIMESTAMP.match(status.request_timestamp or ""))
    sdo_versions = {s["id"]: s["version"] for s in status.successes}
    walk.equal("status version of an SDO is its modified",
               sdo_versions[fixture.indicator_id], fixture.indicator_versions[0])

    # Without waiting: the client gets the 202 status, then polls GET status/{id}.
    pending = interop.add_objects({"objects": fixture.later_versions()},
                                  wait_for_completion=False)
    # The client builds "../../status/{id}" and its endpoint class appends the slash.
    walk.equal("status URL built by the client", pending.url,
               f"{context.cairn.url}/default/status/{pending.id}/")
    polled = Status(pending.url, auth=context.basic("alice"))
    polled.wait_until_final(poll_interval=0.2, timeout=10)
    walk.equal("polled status is complete", polled.status, "complete")
    bare = Status(pending.url.rstrip("/"), auth=context.basic("alice"))
    walk.equal("status is served without the trailing slash too", bare.status, "complete")
    walk.equal("polled status counts", (polled.total_count, polled.success_count), (2, 2))
    fetched = api_root.get_status(pending.id)
    walk.equal("ApiRoot.get_status returns the same status", fetched.id, pending.id)
    fetched.refresh()
    walk.equal("Status.refresh keeps it complete", fetched.status, "complete")

    status = interop.add_objects({"objects": fixture.many_version_batch()})
    walk.equal("ten versions of one object stored", status.success_count, 10)

    before = len(objects_of(interop.get_objects(version="all")))
    again = interop.add_objects({"objects": fixture.first_batch()})
    walk.equal("exact duplicates are successes, not failures",
               (again.success_count, again.failure_count), (4, 0))
    walk.equal("duplicates add no second copy",
               len(objects_of(interop.get_objects(version="all"))), before)

    # Bearer token through the same client.
    _, bearer_root = open_root(context.cairn.url, context.bearer("alice-bearer"))
    extra = indicator(f"indicator--{uuid.uuid4()}", stix_time(3), name="bearer post")
    bearer_status = collection_by_alias(bearer_root, "stalker").add_objects({"objects": [extra]})
    walk.equal("Bearer: POST accepted", bearer_status.success_count, 1)
    walk.equal("Bearer: object readable", objects_of(
        collection_by_alias(bearer_root, "stalker").get_object(extra["id"]))[0]["id"], extra["id"])
    context.bearer_extra_id = extra["id"]

    # Status resources are private to their requester (and admins).
    _, bob_root = open_root(context.cairn.url, context.basic("bob"))
    walk.http_error("another user's status", 404, lambda: bob_root.get_status(pending.id))
    _, admin_root = open_root(context.cairn.url, context.basic("admin"))
    walk.equal("admin reads any status", admin_root.get_status(pending.id).id, pending.id)
    walk.http_error("unknown status id", 404, lambda: api_root.get_status(str(uuid.uuid4())))

    # An SCO has no created or modified, so the server picks a version "consistent to the
    # server" (TAXII 2.1 sections 4.3.1 and 5.3.1). The manifest uses its date_added, so
    # the status-details of the same POST should name that version too.
    manifest_version = objects_of(interop.get_manifest(id=fixture.sco_id))[0]["version"]
    for label, resource in [("first POST", first_status), ("duplicate POST", again)]:
        status_version = next(s["version"] for s in resource.successes
                              if s["id"] == fixture.sco_id)
        walk.known_bug(f"{label}: status version of an SCO equals its manifest version",
                       status_version == manifest_version,
                       "status-details carry an empty version for objects without "
                       "created/modified", f"got {status_version!r}, manifest {manifest_version!r}")


def walk_mixed_bundle(context):
    walk = context.walk
    _, api_root = open_root(context.cairn.url, context.basic("alice"))
    interop = collection_by_alias(api_root, "interop")
    before = interop.get_objects(version="all")
    _, last_before = added_headers(before)
    context.before_bundle = last_before

    bundle, good, bad = mixed_bundle()
    status = interop.add_objects(bundle)
    walk.equal("status complete", status.status, "complete")
    walk.equal("counts (total, success, failure)",
               (status.total_count, status.success_count, status.failure_count),
               (len(good) + len(bad), len(good), len(bad)))
    walk.equal("successes are the good objects", {s["id"] for s in status.successes},
               {g["id"] for g in good})
    failures = {f["id"]: f for f in status.failures}
    walk.equal("every failure has a message",
               all(isinstance(f.get("message"), str) and f["message"] for f in status.failures),
               True)
    # Objects without a usable id are named by their position in the list.
    expectations = [
        ("invalid pattern", bad[0]["id"], "pattern"),
        ("missing id", "objects[3]", "id"),
        ("not a JSON object", "objects[4]", "JSON object"),
        ("STIX 2.0 object", bad[3]["id"], "2.1"),
        ("modified before created", bad[4]["id"], "modified"),
    ]
    for reason, object_id, word in expectations:
        failure = failures.get(object_id)
        walk.check(f"{reason}: failure message mentions {word!r}",
                   failure is not None and word in failure["message"],
                   f"got {failure!r}")
    walk.equal("failure version is the object's modified",
               failures[bad[0]["id"]]["version"], bad[0]["modified"])
    stored = {o["id"] for o in objects_of(interop.get_objects(added_after=last_before))}
    walk.equal("only the good objects were stored", stored, {g["id"] for g in good})
    context.bundle_good_ids = {g["id"] for g in good}


def walk_filters(context):
    walk = context.walk
    fixture = context.fixture
    _, api_root = open_root(context.cairn.url, context.basic("alice"))
    interop = collection_by_alias(api_root, "interop")
    versions = fixture.indicator_versions
    a, m, v = fixture.indicator_id, fixture.malware_id, fixture.many_id
    everyone = fixture.all_ids | context.bundle_good_ids

    latest = interop.get_objects()
    check_added_headers(walk, "default", latest)
    walk.equal("default: one entry per object", sorted(versions_by_id(latest)),
               sorted(everyone))
    walk.equal("default: latest version only", versions_by_id(latest)[a], [versions[2]])
    walk.equal("match[version]=last equals the default",
               objects_of(interop.get_objects(version="last")), objects_of(latest))

    walk.equal("match[id]: one id", versions_by_id(interop.get_objects(id=a)),
               {a: [versions[2]]})
    walk.equal("match[id]: two ids", set(versions_by_id(interop.get_objects(id=[a, m]))), {a, m})

    types = {o["type"] for o in objects_of(interop.get_objects(type=["indicator", "malware"]))}
    walk.equal("match[type]: several values are ORed", types, {"indicator", "malware"})
    walk.equal("match[type]: counts", len(objects_of(
        interop.get_objects(type=["indicator", "malware"]))), 4)
    walk.equal("match[type]: SCO type", versions_by_id(interop.get_objects(type="ipv4-addr")),
               {fixture.sco_id: [None]})
    check_empty_envelope(walk, "match[type]=grouping (a STIX type with no objects)",
                         interop.get_objects(type="grouping"))
    check_empty_envelope(walk, "match[type]=x-unknown-type",
                         interop.get_objects(type="x-unknown-type"))

    walk.equal("match[version]=first", versions_by_id(interop.get_objects(id=a, version="first")),
               {a: [versions[0]]})
    walk.equal("match[version]=all in date_added order",
               versions_by_id(interop.get_objects(id=a, version="all")), {a: versions})
    walk.equal("match[version]=exact timestamp",
               versions_by_id(interop.get_objects(id=a, version=versions[1])), {a: [versions[1]]})
    as_datetime = datetime.datetime(2024, 2, 1, tzinfo=datetime.timezone.utc)
    walk.equal("match[version]=datetime formatted by the client (no fraction)",
               versions_by_id(interop.get_objects(id=a, version=as_datetime)),
               {a: [versions[1]]})
    walk.equal("match[version]=first,last",
               versions_by_id(interop.get_objects(id=a, version=["first", "last"])),
               {a: [versions[0], versions[2]]})
    walk.equal("match[version]=first,<exact>,last",
               versions_by_id(interop.get_objects(id=a, version=["first", versions[1], "last"])),
               {a: versions})
    walk.equal("match[version]=two exact timestamps",
               versions_by_id(interop.get_objects(id=a, version=[versions[0], versions[2]])),
               {a: [versions[0], versions[2]]})
    check_empty_envelope(walk, "match[version]=timestamp of no version",
                         interop.get_objects(id=a, version="1999-01-01T00:00:00.000Z"))
    walk.equal("match[version]=all over the collection",
               len(objects_of(interop.get_objects(version="all"))),
               len(everyone) + 2 + 9)
    walk.http_error("match[version]=all,first", 400,
                    lambda: interop.get_objects(version=["all", "first"]))
    walk.http_error("match[version]=first,first", 400,
                    lambda: interop.get_objects(version=["first", "first"]))
    walk.http_error("match[version]=yesterday", 400,
                    lambda: interop.get_objects(version="yesterday"))

    walk.equal("match[spec_version]=2.1", len(objects_of(interop.get_objects(spec_version="2.1"))),
               len(everyone))
    check_empty_envelope(walk, "match[spec_version]=2.0", interop.get_objects(spec_version="2.0"))
    walk.equal("match[spec_version]=2.0,2.1",
               len(objects_of(interop.get_objects(spec_version=["2.0", "2.1"]))), len(everyone))

    walk.equal("type AND version=all",
               len(objects_of(interop.get_objects(type="indicator", version="all"))),
               3 + 10 + 1)
    check_empty_envelope(walk, "type AND id that disagree",
                         interop.get_objects(type="indicator", id=m))
    walk.equal("id AND version=first,last AND spec_version",
               versions_by_id(interop.get_objects(id=[a, v], version=["first", "last"],
                                                  spec_version="2.1")),
               {a: [versions[0], versions[2]], v: [fixture.many_versions[0],
                                                   fixture.many_versions[-1]]})

    all_versions = interop.get_objects(version="all")
    first, last = check_added_headers(walk, "match[version]=all", all_versions)
    count = len(objects_of(all_versions))
    walk.equal("added_after=first date_added is strict",
               len(objects_of(interop.get_objects(version="all", added_after=first))), count - 1)
    check_empty_envelope(walk, "added_after=last date_added",
                         interop.get_objects(version="all", added_after=last))
    after_bundle = interop.get_objects(added_after=context.before_bundle)
    walk.equal("added_after before the bundle returns only the bundle",
               {o["id"] for o in objects_of(after_bundle)}, context.bundle_good_ids)
    old = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    walk.equal("added_after as a datetime", len(objects_of(interop.get_objects(added_after=old))),
               len(everyone))
    walk.http_error("added_after=not-a-timestamp", 400,
                    lambda: interop.get_objects(added_after="not-a-timestamp"))
    walk.http_error("limit=-1", 400, lambda: interop.get_objects(limit=-1))

    manifest = interop.get_manifest(id=a, version="all")
    check_added_headers(walk, "manifest", manifest)
    records = objects_of(manifest)
    walk.equal("manifest: one record per version", [r["version"] for r in records], versions)
    walk.check("manifest: date_added are TAXII timestamps, ascending",
               all(TAXII_TIMESTAMP.match(r["date_added"]) for r in records)
               and [r["date_added"] for r in records] == sorted(r["date_added"] for r in records))
    walk.equal("manifest: media_type", {r["media_type"] for r in records}, {STIX_MEDIA_TYPE})
    walk.equal("manifest: match[type] applies to the source object",
               {r["id"] for r in objects_of(interop.get_manifest(type="malware"))}, {m})
    sco = objects_of(interop.get_manifest(id=fixture.sco_id))[0]
    walk.equal("manifest: SCO version is its date_added", sco["version"], sco["date_added"])


def walk_get_object(context):
    walk = context.walk
    fixture = context.fixture
    _, api_root = open_root(context.cairn.url, context.basic("alice"))
    interop = collection_by_alias(api_root, "interop")
    a, v = fixture.indicator_id, fixture.many_id
    versions = fixture.indicator_versions

    latest = interop.get_object(a)
    check_added_headers(walk, "get an object", latest)
    walk.equal("latest version by default", versions_by_id(latest), {a: [versions[2]]})
    walk.equal("match[version]=all", versions_by_id(interop.get_object(a, version="all")),
               {a: versions})
    walk.equal("match[version]=first", versions_by_id(interop.get_object(a, version="first")),
               {a: [versions[0]]})
    walk.equal("match[spec_version]=2.1",
               versions_by_id(interop.get_object(a, spec_version="2.1")), {a: [versions[2]]})
    check_empty_envelope(walk, "existing id, no matching version",
                         interop.get_object(a, version="1999-01-01T00:00:00.000Z"))
    walk.http_error("unknown object id", 404,
                    lambda: interop.get_object(f"indicator--{uuid.uuid4()}"))

    pages = list(as_pages(interop.get_object, 3, obj_id=v, version="all"))
    walk.equal("paged with as_pages: page sizes", [len(objects_of(p)) for p in pages], [3, 3, 3, 1])
    walk.equal("paged with as_pages: every version once, in order",
               [o["modified"] for p in pages for o in objects_of(p)], fixture.many_versions)


def walk_versions(context):
    walk = context.walk
    fixture = context.fixture
    _, api_root = open_root(context.cairn.url, context.basic("alice"))
    interop = collection_by_alias(api_root, "interop")
    v = fixture.many_id

    response = interop.object_versions(fixture.indicator_id)
    check_added_headers(walk, "versions", response)
    walk.equal("versions of a three-version object", response["versions"],
               fixture.indicator_versions)
    walk.equal("versions of an SCO is its date_added",
               interop.object_versions(fixture.sco_id)["versions"],
               [objects_of(interop.get_manifest(id=fixture.sco_id))[0]["date_added"]])

    # Paging with limit and next, by hand: the versions resource has no objects list,
    # which as_pages counts on (see the next check).
    seen, sizes, page = [], [], interop.object_versions(v, limit=3)
    while True:
        sizes.append(len(page.get("versions", [])))
        seen.extend(page.get("versions", []))
        if not page.get("more"):
            walk.check("last page has no next", "next" not in page)
            break
        walk.check("a page with more=true has next", page.get("next"))
        page = interop.object_versions(v, limit=3, next=page["next"])
    walk.equal("limit=3 with next: page sizes", sizes, [3, 3, 3, 1])
    walk.equal("limit=3 with next: every version once, ascending", seen, fixture.many_versions)
    first_half = interop.object_versions(v, limit=5)
    second_half = interop.object_versions(v, limit=5, next=first_half["next"])
    walk.equal("limit=5 over ten versions: two full pages",
               (len(first_half["versions"]), len(second_half["versions"])), (5, 5))
    walk.check("limit=5 over ten versions: no empty third page",
               not second_half.get("more") and "next" not in second_half)

    # as_pages counts "objects" in each page. On versions it finds none, logs a warning,
    # and requests the rest without a limit, which Cairn serves in one page.
    pages = list(as_pages(interop.object_versions, 3, obj_id=v))
    walk.equal("as_pages over versions: every version once",
               [x for p in pages for x in p.get("versions", [])], fixture.many_versions)

    first, _ = added_headers(interop.object_versions(v))
    walk.equal("added_after on versions is strict",
               interop.object_versions(v, added_after=first)["versions"], fixture.many_versions[1:])
    walk.equal("match[spec_version]=2.1 on versions",
               interop.object_versions(v, spec_version="2.1")["versions"], fixture.many_versions)
    walk.http_error("versions of an unknown object", 404,
                    lambda: interop.object_versions(f"indicator--{uuid.uuid4()}"))


def walk_paging(context):
    walk = context.walk
    _, api_root = open_root(context.cairn.url, context.basic("alice"))
    stalker = collection_by_alias(api_root, "stalker")
    bundle = read_bundle(shared_data() / "stalkerware-indicators/generated/stalkerware.stix2")
    sample = bundle["objects"][:STALKERWARE_SAMPLE]
    for start in range(0, len(sample), 100):
        status = stalker.add_objects({"objects": sample[start:start + 100]})
        walk.equal(f"stalkerware objects {start}-{start + 99} stored",
                   (status.success_count, status.failure_count), (100, 0))
    # The object posted with the Bearer token went in first.
    expected = [context.bearer_extra_id] + [o["id"] for o in sample]

    def walk_pages(pages, name, expected_ids):
        ids, sizes, last_seen = [], [], ""
        ordered = True
        for page in pages:
            items = objects_of(page)
            sizes.append(len(items))
            ids.extend(o["id"] for o in items)
            if items:
                first, last = added_headers(page)
                ordered = ordered and last_seen < first <= last
                last_seen = last
            if page.get("more"):
                walk.check(f"{name}: more=true page is full and has next",
                           len(items) == PAGE and page.get("next"), f"{len(items)} items")
        walk.equal(f"{name}: items", ids, expected_ids)
        walk.check(f"{name}: pages hold at most {PAGE}", max(sizes) <= PAGE, sizes)
        walk.check(f"{name}: date_added ascends across pages", ordered)
        return sizes

    sizes = walk_pages(as_pages(stalker.get_objects, PAGE), "objects with next", expected)
    walk.equal("objects with next: page count", len(sizes), -(-len(expected) // PAGE))

    typed = [context.bearer_extra_id]
    typed += [o["id"] for o in sample if o["type"] in ("indicator", "malware")]
    walk_pages(as_pages(stalker.get_objects, PAGE, type=["indicator", "malware"]),
               "objects with next and match[type]", typed)

    manifest_ids, dates = [], []
    for page in as_pages(stalker.get_manifest, PAGE):
        records = objects_of(page)
        walk.check("manifest page holds at most 7", len(records) <= PAGE)
        manifest_ids.extend(r["id"] for r in records)
        dates.extend(r["date_added"] for r in records)
    walk.equal("manifest with next: records", manifest_ids, expected)
    walk.check("manifest with next: date_added strictly ascending",
               all(x < y for x, y in zip(dates, dates[1:])))
    walk.check("manifest with next: TAXII timestamps",
               all(TAXII_TIMESTAMP.match(d) for d in dates))

    # Paging with added_after from X-TAXII-Date-Added-Last, as TAXII 2.1 section 3.5 allows.
    ids, page, requests_made = [], stalker.get_objects(limit=PAGE), 1
    while True:
        ids.extend(o["id"] for o in objects_of(page))
        if not page.get("more"):
            break
        _, last = added_headers(page)
        page = stalker.get_objects(limit=PAGE, added_after=last)
        requests_made += 1
    walk.equal("objects with added_after: items", ids, expected)
    walk.equal("objects with added_after: request count", requests_made,
               -(-len(expected) // PAGE))

    # as_pages starting from an added_after keeps it on every request beside next.
    start_after = dates[100]
    walk_pages(as_pages(stalker.get_objects, PAGE, added_after=start_after),
               "objects with added_after and next", expected[101:])

    # The signed next token is bound to the endpoint, the query and the caller.
    first_page = stalker.get_objects(limit=PAGE)
    token = first_page["next"]
    walk.http_error("next that is not a token", 400,
                    lambda: stalker.get_objects(limit=PAGE, next="garbage"))
    walk.http_error("next with a changed match[type]", 400,
                    lambda: stalker.get_objects(limit=PAGE, next=token, type="malware"))
    walk.http_error("next from objects used on the manifest", 400,
                    lambda: stalker.get_manifest(limit=PAGE, next=token))
    _, bob_root = open_root(context.cairn.url, context.basic("bob"))
    bob_stalker = collection_by_alias(bob_root, "stalker")
    walk.http_error("next replayed by another user", 400,
                    lambda: bob_stalker.get_objects(limit=PAGE, next=token))
    second = stalker.get_objects(next=token)
    walk.equal("next without limit continues after the first page",
               objects_of(second)[0]["id"], expected[PAGE])


def walk_real_versions(context):
    walk = context.walk
    _, api_root = open_root(context.cairn.url, context.basic("alice"))
    ics = collection_by_alias(api_root, "ics")
    data = shared_data() / "mitre-attack-stix21/ics-attack"
    older = read_bundle(data / "ics-attack-18.0.json")
    newer = read_bundle(data / "ics-attack.json")
    # Marking definitions have `created` only, which is then their version (section 3.4.1).
    older_modified = {o["id"]: stix_version(o) for o in older["objects"]}
    newer_modified = {o["id"]: stix_version(o) for o in newer["objects"]}
    changed = sorted(i for i, m in newer_modified.items() if older_modified.get(i) not in (None, m))
    walk.check("the two ATT&CK releases differ in some objects", changed)

    status = ics.add_objects(older)
    walk.equal("ATT&CK 18.0 bundle: all stored",
               (status.total_count, status.success_count, status.failure_count),
               (len(older["objects"]), len(older["objects"]), 0))
    status = ics.add_objects(newer)
    duplicates = [s for s in status.successes if "message" in s]
    walk.equal("ATT&CK 18.1 bundle: all successes", status.success_count, len(newer["objects"]))
    walk.equal("ATT&CK 18.1 bundle: unchanged objects are duplicates",
               len(duplicates), len(newer["objects"]) - len(changed))

    latest = [o for p in as_pages(ics.get_objects, 500) for o in objects_of(p)]
    walk.equal("latest objects: one per id", len(latest), len({o["id"] for o in newer["objects"]}))
    walk.equal("latest objects: the 18.1 versions",
               {o["id"]: stix_version(o) for o in latest}, newer_modified)
    records = [r for p in as_pages(ics.get_manifest, 500, version="all") for r in objects_of(p)]
    walk.equal("manifest with match[version]=all", len(records),
               len(newer["objects"]) + len(changed))
    sample_id = changed[0]
    walk.equal("versions of a changed object",
               ics.object_versions(sample_id)["versions"],
               [older_modified[sample_id], newer_modified[sample_id]])
    walk.equal("first version of a changed object",
               versions_by_id(ics.get_object(sample_id, version="first"))[sample_id],
               [older_modified[sample_id]])
    custom = collections.Counter(o["type"] for o in newer["objects"]
                                 if o["type"].startswith("x-mitre-"))
    for custom_type, count in sorted(custom.items()):
        served = [o for p in as_pages(ics.get_objects, 500, type=custom_type)
                  for o in objects_of(p)]
        walk.equal(f"custom type {custom_type}", len(served), count)


def walk_delete(context):
    walk = context.walk
    fixture = context.fixture
    _, api_root = open_root(context.cairn.url, context.basic("alice"))
    interop = collection_by_alias(api_root, "interop")
    a, m = fixture.indicator_id, fixture.malware_id
    versions = fixture.indicator_versions

    interop.delete_object(a, version=versions[1])
    walk.equal("one version deleted: versions left", interop.object_versions(a)["versions"],
               [versions[0], versions[2]])
    check_empty_envelope(walk, "deleted version: get an object",
                         interop.get_object(a, version=versions[1]))
    walk.equal("deleted version: manifest no longer lists it",
               [r["version"] for r in objects_of(interop.get_manifest(id=a, version="all"))],
               [versions[0], versions[2]])

    interop.delete_object(m)
    walk.http_error("deleted object: get an object", 404, lambda: interop.get_object(m))
    walk.http_error("deleted object: versions", 404, lambda: interop.object_versions(m))
    check_empty_envelope(walk, "deleted object: objects", interop.get_objects(id=m))
    check_empty_envelope(walk, "deleted object: manifest", interop.get_manifest(id=m))
    walk.http_error("delete an unknown object", 404,
                    lambda: interop.delete_object(f"malware--{uuid.uuid4()}"))

    interop.delete_object(a, version=["first", "last"])
    walk.http_error("every version deleted: get an object", 404, lambda: interop.get_object(a))

    _, bob_root = open_root(context.cairn.url, context.basic("bob"))
    bob_interop = collection_by_alias(bob_root, "interop")
    walk.client_rejects("bob (read only) deletes",
                        lambda: bob_interop.delete_object(fixture.relationship_id))
    forced = forced_collection(context.url("interop"), context.basic("bob"), True, True,
                               context.collection_ids["interop"])
    walk.http_error("bob (read only) deletes, server answer", 403,
                    lambda: forced.delete_object(fixture.relationship_id))
    _, dave_root = open_root(context.cairn.url, context.basic("dave"))
    dave_interop = collection_by_alias(dave_root, "interop")
    walk.http_error("dave (write only) deletes", 403,
                    lambda: dave_interop.delete_object(fixture.relationship_id))
    forced = forced_collection(context.url("interop"), context.basic("carol"), True, True,
                               context.collection_ids["interop"])
    walk.http_error("carol (no rights) deletes", 404,
                    lambda: forced.delete_object(fixture.relationship_id))
    walk.equal("relationship survived the refused deletes",
               len(objects_of(interop.get_object(fixture.relationship_id))), 1)


def walk_failures(context):
    walk = context.walk
    url = f"{context.cairn.url}/taxii2/"
    record = context.responses

    def discovery(auth):
        return lambda: Server(url, auth=auth).title

    response = walk.http_error("wrong token", 401, discovery(
        Credentials(HTTPBasicAuth("alice", "cairn_" + "0" * 32 + "_" + "A" * 43), record)))
    challenge = response.headers.get("WWW-Authenticate", "") if response is not None else ""
    walk.check("wrong token: challenge names Basic", challenge.startswith("Basic realm="),
               challenge)
    walk.check("wrong token: challenge names Bearer", "Bearer realm=" in challenge, challenge)
    walk.http_error("right token, wrong user name", 401, discovery(
        Credentials(HTTPBasicAuth("bob", context.tokens["alice"]), record)))
    walk.http_error("no credentials", 401, discovery(None))
    walk.http_error("revoked token", 401, discovery(context.basic("alice", "alice-revoked")))
    time.sleep(max(0.0, context.expired_at + 0.5 - time.monotonic()))
    walk.http_error("expired token", 401, discovery(context.basic("alice", "alice-expired")))
    walk.http_error("Bearer with a malformed token", 401,
                    discovery(Credentials(BearerAuth("not-a-token"), record)))
    # taxii2client's own TokenAuth sends "Authorization: Token <key>". Cairn accepts only
    # Basic and Bearer, so this is a 401 (other schemes are optional, section 1.6.9).
    walk.http_error("taxii2client TokenAuth scheme", 401,
                    discovery(Credentials(TokenAuth(context.tokens["alice"]), record)))

    interop_id = context.collection_ids["interop"]
    carol = context.basic("carol")
    walk.http_error("carol reads a collection she has no grant on", 404,
                    lambda: Collection(context.url("interop"), auth=carol).refresh())
    forced = forced_collection(context.url("interop"), carol, True, True, interop_id)
    walk.http_error("carol gets objects", 404, lambda: forced.get_objects())
    walk.http_error("carol adds objects", 404,
                    lambda: forced.add_objects({"objects": context.fixture.first_batch()}))
    hidden = walk.http_error("alice reads a restricted collection", 404,
                             lambda: Collection(context.url("restricted"),
                                                auth=context.basic("alice")).refresh())
    missing_url = f"{context.cairn.url}/default/collections/{uuid.uuid4()}/"
    missing = walk.http_error(
        "alice reads a collection that does not exist", 404,
        lambda: Collection(missing_url, auth=context.basic("alice")).refresh())
    if hidden is not None and missing is not None:
        walk.equal("hidden and missing collections get the same error title",
                   hidden.json()["title"], missing.json()["title"])

    new_object = {"objects": [indicator(f"indicator--{uuid.uuid4()}", stix_time(7))]}
    _, bob_root = open_root(context.cairn.url, context.basic("bob"))
    bob_interop = collection_by_alias(bob_root, "interop")
    walk.client_rejects("bob (read only) posts", lambda: bob_interop.add_objects(new_object))
    forced = forced_collection(context.url("interop"), context.basic("bob"), True, True,
                               interop_id)
    walk.http_error("bob (read only) posts, server answer", 403,
                    lambda: forced.add_objects(new_object))
    forced = forced_collection(context.url("interop"), context.basic("alice", "alice-read"),
                               True, True, interop_id)
    walk.http_error("alice with a read-scoped token posts", 403,
                    lambda: forced.add_objects(new_object))

    _, dave_root = open_root(context.cairn.url, context.basic("dave"))
    dave_interop = collection_by_alias(dave_root, "interop")
    walk.client_rejects("dave (write only) reads", lambda: dave_interop.get_objects())
    forced = forced_collection(context.url("interop"), context.basic("dave"), True, True,
                               interop_id)
    for name, call in [("objects", forced.get_objects), ("manifest", forced.get_manifest),
                       ("an object", lambda: forced.get_object(context.fixture.many_id)),
                       ("versions", lambda: forced.object_versions(context.fixture.many_id))]:
        walk.http_error(f"dave (write only) gets {name}", 403, call)
    status = dave_interop.add_objects(new_object)
    walk.equal("dave (write only) posts", status.success_count, 1)


def walk_content_types(context):
    walk = context.walk
    walk.check("responses were recorded", len(context.responses) > 100, len(context.responses))
    wrong = [r for r in context.responses if r[3] != TAXII_MEDIA_TYPE]
    walk.equal("every response seen by the client has Content-Type " + TAXII_MEDIA_TYPE,
               wrong, [])
    statuses = collections.Counter(r[2] for r in context.responses)
    print(f"  responses by status: {dict(sorted(statuses.items()))}")


FEATURES = [
    ("Discovery (Server), Basic and Bearer", walk_discovery),
    ("API root information", walk_api_root),
    ("Collections and can_read/can_write per user", walk_collections),
    ("Add objects and status polling", walk_add_objects),
    ("STIX bundle with good and bad objects", walk_mixed_bundle),
    ("Get objects with every filter", walk_filters),
    ("Get an object", walk_get_object),
    ("Object versions, paged", walk_versions),
    ("Paging over real objects (objects, manifest, next, added_after)", walk_paging),
    ("Versions of real objects (ATT&CK for ICS 18.0 then 18.1)", walk_real_versions),
    ("Delete an object and one version", walk_delete),
    ("Failures: credentials, hidden collections, read-only and write-only users",
     walk_failures),
    ("Content-Type of every response", walk_content_types),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (store, server log) after the run")
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="cairn-interop-"))
    cairn = Cairn(workdir)
    walk = Walk()
    context = Context(cairn, walk)
    try:
        cairn.start()
        print(f"Cairn at {cairn.url}, store {cairn.store}")
        set_up(context)
        for name, feature in FEATURES:
            with walk.feature(name):
                feature(context)
    finally:
        cairn.stop()
        if options.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if walk.summary() else 0


if __name__ == "__main__":
    sys.exit(main())
