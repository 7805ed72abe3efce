"""The protocol's JSON Schemas (protocol/schema), loaded once, with the checks the conformance test needs.

Data-driven: every file in protocol/schema/methods/ is one method; its "title" is the method name and its
$defs hold "params", "result" and, where the method streams, "partialResult" (values under the request's
partialResultToken), "workDoneProgress" (values under its workDoneToken) and "jobResult" (the result of a
job's end). Adding a method means adding such a file; nothing here changes.
"""
import glob
import json
import os

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "schema")


class SchemaError(Exception):
    pass


class Catalog:
    def __init__(self, schema_dir=SCHEMA_DIR):
        self.docs = {}
        for path in sorted(glob.glob(os.path.join(schema_dir, "**", "*.json"), recursive=True)):
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            Draft202012Validator.check_schema(doc)
            rel = os.path.relpath(path, schema_dir)
            if doc.get("$id", "").split("/protocol/schema/")[-1] != rel:
                raise SchemaError(f"{rel}: $id must end with /protocol/schema/{rel}, got {doc.get('$id')}")
            self.docs[rel] = doc
        self.registry = Registry().with_resources(
            (d["$id"], Resource.from_contents(d)) for d in self.docs.values())
        self.methods = {}
        for rel, doc in self.docs.items():
            if rel.startswith("methods" + os.sep):
                name = doc["title"]
                if name in self.methods:
                    raise SchemaError(f"two schema files describe method {name}")
                defs = doc.get("$defs", {})
                for part in ("params", "result"):
                    if part not in defs:
                        raise SchemaError(f"{rel}: $defs.{part} is missing")
                self.methods[name] = doc["$id"]
        self._validators = {}

    def validator(self, uri):
        v = self._validators.get(uri)
        if v is None:
            v = Draft202012Validator({"$ref": uri}, registry=self.registry, format_checker=FormatChecker())
            self._validators[uri] = v
        return v

    def errors(self, uri, value):
        """Messages of every schema violation of `value` against the schema at `uri` (empty if valid)."""
        out = []
        for e in self.validator(uri).iter_errors(value):
            where = "/".join(str(p) for p in e.absolute_path) or "(top)"
            out.append(f"{where}: {e.message[:300]}")
        return out

    def has_def(self, method, part):
        doc = self.docs_by_id(self.methods[method])
        return part in doc.get("$defs", {})

    def docs_by_id(self, uri):
        for d in self.docs.values():
            if d["$id"] == uri:
                return d
        raise KeyError(uri)

    def part(self, method, part):
        return self.methods[method] + "#/$defs/" + part

    def envelope(self, name):
        return self.docs["envelope.json"]["$id"] + ("#/$defs/" + name if name else "")

    def check_request(self, msg):
        """Raises SchemaError if a client message (or batch) is not a valid request for its method's schema."""
        for m in (msg if isinstance(msg, list) else [msg]):
            errs = self.errors(self.envelope("request"), m)
            method = m.get("method") if isinstance(m, dict) else None
            if not errs and method in self.methods:
                errs = self.errors(self.part(method, "params"), m.get("params", {}))
            if errs:
                raise SchemaError(f"client message {json.dumps(m)[:200]} breaks the schema: {errs[0]}")


class TraceChecker:
    """Validates what a daemon sent, using what it received to know which method each reply answers and
    which request each progress token belongs to (per connection)."""

    def __init__(self, catalog):
        self.c = catalog
        self.pending = {}   # (connection, id json) -> [method, ...] in arrival order
        self.tokens = {}    # (connection, token json) -> (method, "partialResult" | "workDoneProgress")
        self.counts = {"responses": 0, "errors": 0, "notifications": 0, "batches": 0}
        self.failures = []

    def received(self, conn, text):
        try:
            msg = json.loads(text)
        except ValueError:
            return  # a deliberately broken frame; its -32700 reply has id null
        for m in (msg if isinstance(msg, list) else [msg]):
            if not isinstance(m, dict) or not isinstance(m.get("method"), str):
                continue
            params = m.get("params") if isinstance(m.get("params"), dict) else {}
            if "id" in m and m["id"] is not None and isinstance(m["id"], (int, str)) and not isinstance(m["id"], bool):
                self.pending.setdefault((conn, json.dumps(m["id"])), []).append(m["method"])
            for key, kind in (("partialResultToken", "partialResult"), ("workDoneToken", "workDoneProgress")):
                if params.get(key) is not None:
                    self.tokens[(conn, json.dumps(params[key]))] = (m["method"], kind)

    def sent(self, conn, text):
        try:
            msg = json.loads(text)
        except ValueError as e:
            return self.fail(f"connection {conn}: not JSON ({e}): {text[:200]}")
        errs = self.c.errors(self.c.envelope(None), msg)
        if errs:
            return self.fail(f"connection {conn}: {text[:300]}\n    {errs[0]}")
        if isinstance(msg, list):
            self.counts["batches"] += 1
        for m in (msg if isinstance(msg, list) else [msg]):
            if "method" in m:
                self.notification(conn, m, text)
            else:
                self.response(conn, m, text)

    def response(self, conn, m, text):
        queue = self.pending.get((conn, json.dumps(m["id"])), []) if m["id"] is not None else []
        if "error" in m:
            self.counts["errors"] += 1
            if queue:
                queue.pop()  # a duplicate id's refusal answers the newest request with that id
            return
        self.counts["responses"] += 1
        if not queue:
            return self.fail(f"connection {conn}: a result for id {m['id']} that no request is waiting for: {text[:200]}")
        method = queue.pop(0)
        if method not in self.c.methods:
            return self.fail(f"connection {conn}: a result for method {method}, which has no schema: {text[:200]}")
        errs = self.c.errors(self.c.part(method, "result"), m["result"])
        if errs:
            self.fail(f"connection {conn}: {method} result breaks protocol/schema: {errs[0]}\n    {text[:400]}")

    def notification(self, conn, m, text):
        self.counts["notifications"] += 1
        p = m["params"]
        owner = self.tokens.get((conn, json.dumps(p["token"])))
        if owner is None:
            return self.fail(f"connection {conn}: $/progress for token {p['token']} that no request gave: {text[:200]}")
        method, kind = owner
        if method not in self.c.methods or not self.c.has_def(method, kind):
            return self.fail(f"connection {conn}: {method} sent {kind} values but its schema has no $defs.{kind}: {text[:200]}")
        errs = self.c.errors(self.c.part(method, kind), p["value"])
        if not errs and p["value"].get("kind") == "end" and "result" in p["value"] and self.c.has_def(method, "jobResult"):
            errs = self.c.errors(self.c.part(method, "jobResult"), p["value"]["result"])
        if errs:
            self.fail(f"connection {conn}: {method} {kind} breaks protocol/schema: {errs[0]}\n    {text[:400]}")

    def fail(self, text):
        self.failures.append(text)
