#!/usr/bin/env python3
"""Black-box tests of the HTTP API (SPEC §4) against `dagproc run` on a copy of
examples/dags in SQLite: every endpoint's field names and types against Airflow's
schemas in reference/airflow-rest-v2.json, paging and ordering, 400/401/404/405 bodies,
parseDagFile, /metrics, /livez, /readyz, and a clean SIGTERM exit.

    tests/api_test.py BIN

The reference is found through $DAGPROC_REFERENCE (the JSON file), else
../shared/reference/airflow-rest-v2.json beside the repository (or beside its origin).
Ends with "N passed, N failed".
"""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REF_REL = os.path.join("shared", "reference", "airflow-rest-v2.json")
TOKEN = "s3cret-token-for-tests"

passed = 0
failed = 0


def ok(name, cond, why=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + (("\n  " + str(why)[:600]) if why else ""))


def find_reference():
    env = os.environ.get("DAGPROC_REFERENCE")
    if env:
        return env if os.path.isfile(env) else None
    cands = [os.path.join(os.path.dirname(REPO), REF_REL)]
    try:
        origin = subprocess.run(["git", "-C", REPO, "config", "--get", "remote.origin.url"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        origin = ""
    if origin.startswith("file://"):
        origin = origin[len("file://"):]
    if origin.startswith("/") and os.path.isdir(origin):
        cands.append(os.path.join(os.path.dirname(os.path.abspath(origin)), REF_REL))
    for c in cands:
        if os.path.isfile(c):
            return c
    return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Api:
    def __init__(self, port, token=None):
        self.base = "http://127.0.0.1:%d" % port
        self.token = token

    def req(self, path, method="GET", token=None, raw=False):
        headers = {}
        tok = self.token if token is None else token
        if tok:
            headers["Authorization"] = "Bearer " + tok
        r = urllib.request.Request(self.base + path, method=method, headers=headers)
        try:
            with urllib.request.urlopen(r, timeout=10) as resp:
                body = resp.read().decode()
                status, ctype = resp.status, resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            body = e.read().decode()
            status, ctype = e.code, e.headers.get("Content-Type", "")
        if raw or not ctype.startswith("application/json"):
            return status, body
        return status, json.loads(body)


# ---- schema checks ---------------------------------------------------------

def type_ok(schema, value, schemas):
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        sub = schemas[name]
        if "enum" in sub:
            return isinstance(value, str)  # dagproc has more warning types than Airflow
        return isinstance(value, dict)
    if "anyOf" in schema:
        return any(type_ok(s, value, schemas) for s in schema["anyOf"])
    t = schema.get("type")
    if t is None:
        return True
    return {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
        "null": lambda v: v is None,
    }[t](value)


ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def shape_errors(schemas, name, doc):
    """Required fields present, each value of the type Airflow's schema allows."""
    sch = schemas[name]
    errs = []
    if not isinstance(doc, dict):
        return ["%s: not an object" % name]
    for f in sch.get("required", []):
        if f not in doc:
            errs.append("%s: missing %s" % (name, f))
    for f, fs in sch.get("properties", {}).items():
        if f not in doc:
            continue
        if not type_ok(fs, doc[f], schemas):
            errs.append("%s.%s: %r does not match %s" % (name, f, doc[f], json.dumps(fs)[:120]))
        fmt = fs.get("format") or next((s.get("format") for s in fs.get("anyOf", []) if "format" in s), None)
        if fmt == "date-time" and isinstance(doc[f], str) and not ISO.match(doc[f]):
            errs.append("%s.%s: %r is not an ISO date-time" % (name, f, doc[f]))
    return errs


def main(argv):
    if len(argv) != 2:
        print("usage: api_test.py path/to/dagproc")
        return 2
    binary = os.path.abspath(argv[1])
    ref_path = find_reference()
    if not ref_path:
        print("reference not found: set DAGPROC_REFERENCE")
        print("0 passed, 1 failed")
        return 1
    schemas = json.load(open(ref_path))["schemas"]
    tmp = tempfile.mkdtemp(prefix="dagproc-api.")
    proc = None
    try:
        shutil.copytree(os.path.join(REPO, "examples", "dags"), os.path.join(tmp, "dags"))
        port = free_port()
        with open(os.path.join(tmp, "dagproc.cfg"), "w") as f:
            f.write("[core]\ndags_folder = %s/dags\n[database]\nsql_conn = sqlite:///%s/dagproc.db\n"
                    "[dag_processor]\nparsing_processes = 1\n"
                    "[api]\nport = %d\nauth_token = %s\n" % (tmp, tmp, port, TOKEN))
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAGPROC_")}
        log = open(os.path.join(tmp, "run.log"), "w")
        proc = subprocess.Popen([binary, "run", "--config", os.path.join(tmp, "dagproc.cfg")],
                                cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        api = Api(port, TOKEN)
        deadline = time.time() + 20
        ready = False
        while time.time() < deadline and not ready:
            try:
                ready = api.req("/readyz")[0] == 200
            except OSError:
                pass
            if not ready:
                time.sleep(0.1)
        ok("readyz 200 once the bundle is written", ready, open(os.path.join(tmp, "run.log")).read()[-800:])
        if not ready:
            return 1

        # ---- auth
        st, body = api.req("/api/v2/dags", token="")
        ok("401 without a token", st == 401 and body == {"detail": "Not authenticated"}, (st, body))
        st, body = api.req("/api/v2/dags", token="wrong-token-of-any-length")
        ok("401 with a wrong token", st == 401 and isinstance(body.get("detail"), str), (st, body))
        st, _ = api.req("/livez", token="")
        ok("probes need no token", st == 200)

        # ---- import errors
        st, ies = api.req("/api/v2/importErrors")
        ok("importErrors 200", st == 200, (st, ies))
        errs = shape_errors(schemas, "ImportErrorCollectionResponse", ies)
        for ie in ies.get("import_errors", []):
            errs += shape_errors(schemas, "ImportErrorResponse", ie)
        ok("importErrors shape as Airflow's", not errs, errs)
        ok("importErrors: the example's error",
           ies.get("total_entries") == 1 and ies["import_errors"][0]["filename"] == "inventory_sync.yml"
           and "inventory_sync.yml:14:22: error[E020]" in ies["import_errors"][0]["stack_trace"], ies)
        ie_id = ies["import_errors"][0]["import_error_id"]
        st, one = api.req("/api/v2/importErrors/%d" % ie_id)
        ok("importErrors/{id}", st == 200 and one == ies["import_errors"][0], (st, one))
        st, body = api.req("/api/v2/importErrors/999999")
        ok("importErrors/{id} 404", st == 404 and isinstance(body.get("detail"), str), (st, body))
        st, body = api.req("/api/v2/importErrors/abc")
        ok("importErrors/{id} 400 for a non-integer", st == 400 and "detail" in body, (st, body))
        st, src = api.req("/api/v2/importErrors/%d/source" % ie_id)
        d0 = (src.get("diagnostics") or [{}])[0] if st == 200 else {}
        ok("importErrors/{id}/source: line, column, code, source line",
           d0.get("line") == 14 and d0.get("column") == 22 and d0.get("code") == "E020"
           and "extract_stok" in (d0.get("source_line") or ""), src)
        st, body = api.req("/api/v2/importErrors?order_by=nope")
        ok("importErrors bad order_by 400", st == 400 and "nope" in body.get("detail", ""), (st, body))
        st, body = api.req("/api/v2/importErrors?filename_pattern=inventory")
        ok("importErrors filename_pattern", st == 200 and body["total_entries"] == 1, body)

        # ---- DAGs
        st, dags = api.req("/api/v2/dags")
        ok("dags 200", st == 200, (st, dags))
        errs = shape_errors(schemas, "DAGCollectionResponse", dags)
        for d in dags.get("dags", []):
            errs += shape_errors(schemas, "DAGResponse", d)
            for t in d.get("tags", []):
                errs += shape_errors(schemas, "DagTagResponse", t)
        ok("dags shape as Airflow's", not errs, errs)
        ids = [d["dag_id"] for d in dags["dags"]]
        ok("dags default order dag_id, total_entries", ids == sorted(ids) and dags["total_entries"] == len(ids) == 7,
           ids)
        st, page = api.req("/api/v2/dags?limit=2&offset=1")
        ok("dags paging: limit/offset, total before paging",
           [d["dag_id"] for d in page["dags"]] == ids[1:3] and page["total_entries"] == 7, page)
        st, page = api.req("/api/v2/dags?order_by=-dag_id")
        ok("dags order_by=-dag_id", [d["dag_id"] for d in page["dags"]] == sorted(ids, reverse=True))
        st, page = api.req("/api/v2/dags?order_by=-last_parse_duration&order_by=dag_id")
        ok("dags multiple order_by", st == 200 and page["total_entries"] == 7, (st, page))
        st, page = api.req("/api/v2/dags?dag_id_pattern=churn")
        ok("dags dag_id_pattern", sorted(d["dag_id"] for d in page["dags"]) == ["churn_model_training", "churn_scoring"], page)
        st, page = api.req("/api/v2/dags?tags=ml&tags=orders")
        ok("dags tags (any of)", sorted(d["dag_id"] for d in page["dags"]) ==
           ["churn_model_training", "churn_scoring", "orders_etl"], page)
        st, page = api.req("/api/v2/dags?tags=ml&tags=orders&tags_match_mode=all")
        ok("dags tags_match_mode=all", page["total_entries"] == 0, page)
        st, page = api.req("/api/v2/dags?tags=ml&tags=ml&tags_match_mode=all")
        ok("dags tags_match_mode=all with a repeated tag counts it once",
           sorted(d["dag_id"] for d in page["dags"]) == ["churn_model_training", "churn_scoring"], page)
        st, page = api.req("/api/v2/dags?bundle_name=nope")
        ok("dags bundle_name", page["total_entries"] == 0, page)
        st, page = api.req("/api/v2/dags?has_import_errors=true")
        ok("dags has_import_errors", [d["dag_id"] for d in page["dags"]] == ["inventory_audit"], page)
        st, body = api.req("/api/v2/dags?dag_id_pattern=" + "a" * 10000)
        ok("a 10,000-byte URL is a 414 with a JSON detail", st == 414 and "8192" in body.get("detail", ""), (st, body))
        st, page = api.req("/api/v2/dags?dag_id_pattern=" + "a" * 8000)
        ok("an 8,000-byte URL is served", st == 200 and page["total_entries"] == 0, (st, page))
        for q, want in (("limit=-1", "limit"), ("limit=abc", "limit"), ("offset=x", "offset"),
                        ("order_by=bogus", "bogus"), ("exclude_stale=perhaps", "exclude_stale")):
            st, body = api.req("/api/v2/dags?" + q)
            ok("dags 400 for %s" % q, st == 400 and want in body.get("detail", ""), (st, body))
        st, d = api.req("/api/v2/dags/orders_etl")
        errs = shape_errors(schemas, "DAGResponse", d)
        ok("dags/{dag_id} shape", st == 200 and not errs and d["dag_id"] == "orders_etl", (st, errs))
        st, body = api.req("/api/v2/dags/no_such_dag")
        ok("dags/{dag_id} 404", st == 404 and "no_such_dag" in body.get("detail", ""), (st, body))
        st, det = api.req("/api/v2/dags/orders_etl/details")
        errs = shape_errors(schemas, "DAGDetailsResponse", det)
        ok("dags/{dag_id}/details shape as Airflow's", st == 200 and not errs, (st, errs))
        ok("details: tasks and edges",
           isinstance(det.get("tasks"), list) and len(det["tasks"]) > 0
           and all("task_id" in t for t in det["tasks"])
           and all(set(e) == {"source_id", "target_id"} for e in det.get("edges", []))
           and len(det.get("edges", [])) == sum(len(t.get("upstream_task_ids", [])) for t in det["tasks"]),
           det.get("edges"))
        st, body = api.req("/api/v2/dags/no_such_dag/details")
        ok("details 404", st == 404, (st, body))

        # ---- warnings
        st, ws = api.req("/api/v2/dagWarnings")
        errs = shape_errors(schemas, "DAGWarningCollectionResponse", ws)
        for w in ws.get("dag_warnings", []):
            errs += shape_errors(schemas, "DAGWarningResponse", w)
        ok("dagWarnings shape as Airflow's", st == 200 and not errs, (st, errs))
        ok("dagWarnings content", ws["total_entries"] == 2 and
           {w["warning_type"] for w in ws["dag_warnings"]} == {"deprecated", "non-existent pool"}, ws)
        st, ws1 = api.req("/api/v2/dagWarnings?warning_type=non-existent%20pool&limit=1")
        ok("dagWarnings filter + limit", ws1["total_entries"] == 1 and len(ws1["dag_warnings"]) == 1, ws1)
        st, ws2 = api.req("/api/v2/dagWarnings?dag_id=orders_etl")
        ok("dagWarnings dag_id filter", ws2["total_entries"] == 0, ws2)
        st, body = api.req("/api/v2/dagWarnings?order_by=-timestamp&order_by=warning_type")
        ok("dagWarnings order_by", st == 200, (st, body))

        # ---- health
        st, h = api.req("/api/v2/monitor/health")
        errs = shape_errors(schemas, "HealthInfoResponse", {**h, "scheduler": {}, "triggerer": {}}) if st == 200 else [st]
        errs += shape_errors(schemas, "BaseInfoResponse", h.get("metadatabase"))
        errs += shape_errors(schemas, "DagProcessorInfoResponse", h.get("dag_processor"))
        ok("monitor/health shape", not errs and h["scheduler"] is None and h["triggerer"] is None, (h, errs))
        ok("monitor/health healthy", h["metadatabase"]["status"] == "healthy"
           and h["dag_processor"]["status"] == "healthy"
           and ISO.match(h["dag_processor"]["latest_dag_processor_heartbeat"] or ""), h)

        # ---- parseDagFile
        tok = dags["dags"][ids.index("orders_etl")]["file_token"]
        ok("file_token is base64url of bundle\\x1frel",
           base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)) == b"dags-folder\x1forders_etl.yml", tok)
        st, body = api.req("/api/v2/parseDagFile/" + tok, method="PUT")
        ok("parseDagFile 201", st == 201, (st, body))
        reparsed = False
        for _ in range(50):
            if "orders_etl.yml: reparse requested" in open(os.path.join(tmp, "run.log")).read():
                reparsed = True
                break
            time.sleep(0.1)
        ok("parseDagFile reaches the processor", reparsed)
        bad = base64.urlsafe_b64encode(b"dags-folder\x1fno_such.yml").decode().rstrip("=")
        st, body = api.req("/api/v2/parseDagFile/" + bad, method="PUT")
        ok("parseDagFile 404 for an unknown file", st == 404 and "detail" in body, (st, body))
        st, body = api.req("/api/v2/parseDagFile/%%%%", method="PUT")
        ok("parseDagFile 400 for a malformed token", st == 400, (st, body))
        escape = base64.urlsafe_b64encode(b"dags-folder\x1f../../etc/passwd").decode().rstrip("=")
        st, body = api.req("/api/v2/parseDagFile/" + escape, method="PUT")
        ok("parseDagFile refuses ..", st == 400, (st, body))
        st, body = api.req("/api/v2/parseDagFile/" + tok)
        ok("parseDagFile GET 405", st == 405 and "detail" in body, (st, body))
        st, body = api.req("/api/v2/dags", method="DELETE")
        ok("405 for a wrong method", st == 405, (st, body))
        st, body = api.req("/api/v2/nothing")
        ok("404 for an unknown path", st == 404 and body == {"detail": "Not Found"}, (st, body))

        # ---- bytes that are not UTF-8, echoed in the detail: still a JSON 4xx, never a
        # dropped connection (a cut at the detail's length must not split a character)
        notutf8 = base64.urlsafe_b64encode(b"dags-folder\x1f\xff.yml").decode().rstrip("=")
        for path, method, code in (("/api/v2/dags?limit=%FF", "GET", 400),
                                   ("/api/v2/dags?order_by=%FF", "GET", 400),
                                   ("/api/v2/dags?exclude_stale=%FF", "GET", 400),
                                   ("/api/v2/dags?order_by=x" + "%C3%A9" * 300, "GET", 400),
                                   ("/api/v2/dags/%FF%FE", "GET", 404),
                                   ("/api/v2/dags/%FF/details", "GET", 404),
                                   ("/api/v2/parseDagFile/" + notutf8, "PUT", 404)):
            try:
                st, body = api.req(path, method=method)
            except (OSError, ValueError) as e:
                st, body = None, repr(e)
            ok("%s %s: %d with a JSON detail" % (method, path[:40], code),
               st == code and isinstance(body, dict) and isinstance(body.get("detail"), str), (st, body))

        # ---- probes and metrics
        st, body = api.req("/livez", raw=True)
        ok("livez 200", st == 200, (st, body))
        # the reparse requested above may still be on its way to the database
        deadline = time.time() + 10
        while True:
            st, body = api.req("/readyz", raw=True)
            if st == 200 or time.time() > deadline:
                break
            time.sleep(0.05)
        ok("readyz 200", st == 200, (st, body))
        st, text = api.req("/metrics", raw=True)
        samples = {}
        bad_lines = []
        line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$')
        for line in text.splitlines():
            if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
                continue
            m = line_re.match(line)
            if not m:
                bad_lines.append(line)
                continue
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
        ok("metrics parse as Prometheus text", st == 200 and not bad_lines, bad_lines[:5])
        want = ["dagproc_files", "dagproc_dags", "dagproc_tasks", "dagproc_import_errors",
                "dagproc_dag_warnings", 'dagproc_parse_duration_seconds_bucket{le="+Inf"}',
                "dagproc_parse_duration_seconds_sum", "dagproc_parse_duration_seconds_count",
                "dagproc_files_parsed_total", "dagproc_worker_restarts_total",
                "dagproc_worker_timeouts_total", "dagproc_database_up",
                "dagproc_db_write_attempts_total", 'dagproc_db_write_failures_total{class="transient"}',
                'dagproc_db_write_failures_total{class="permanent"}', "dagproc_pending_results",
                "dagproc_seconds_since_last_write"]
        missing = [w for w in want if w not in samples]
        ok("metrics: every documented series", not missing, missing)
        ok("metrics values", samples.get("dagproc_dags") == 7 and samples.get("dagproc_import_errors") == 1
           and samples.get("dagproc_dag_warnings") == 2 and samples.get("dagproc_database_up") == 1
           and samples.get("dagproc_files") == 6, {k: v for k, v in samples.items() if "bucket" not in k})
        ok("metrics: file watching (folders watched, no limit reached, the start's full scan)",
           samples.get("dagproc_watched_folders", 0) >= 1 and samples.get("dagproc_watch_limit_reached") == 0
           and samples.get("dagproc_full_scans_total", 0) >= 1 and samples.get("dagproc_watch_overflows_total") == 0,
           {k: v for k, v in samples.items() if "watch" in k or "scan" in k})
        st, page = api.req("/", raw=True)
        ok("web page served", st == 200 and "<title>dagproc</title>" in page 
           and not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page), page[:200])

        # ---- stop
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "timeout"
        ok("SIGTERM exits 0", rc == 0, rc)
        proc = None

        # ---- CLI reads over the same database
        db = "sqlite:///%s/dagproc.db" % tmp

        def cli(*args):
            r = subprocess.run([binary] + list(args), cwd=tmp, env=env, capture_output=True,
                               text=True, timeout=30, stdin=subprocess.DEVNULL)
            return r.returncode, r.stdout, r.stderr
        rc, out, err = cli("dags", "list", "--db", db, "--format", "json")
        ok("dags list --format json", rc == 0 and json.loads(out)["total_entries"] == 7, (rc, err))
        rc, out, err = cli("dags", "list", "--db", db)
        lines = out.splitlines()
        ok("dags list text: aligned table", rc == 0 and lines[0].startswith("dag_id ") and len(lines) == 8
           and all(l.index("dags-folder") == lines[1].index("dags-folder") for l in lines[1:]), out)
        rc, out, err = cli("import-errors", "--db", db)
        ok("import-errors text", rc == 0 and "inventory_sync.yml:14:22: error[E020]" in out
           and "\x1b" not in out, (rc, out, err))
        rc, out, err = cli("import-errors", "--db", db, "--format", "json")
        ok("import-errors json", rc == 0 and json.loads(out)["import_errors"][0]["filename"] == "inventory_sync.yml")
        rc, out, err = cli("warnings", "--db", db, "--format", "json")
        ok("warnings json", rc == 0 and json.loads(out)["total_entries"] == 2, (rc, err))
        rc, out, err = cli("report", "--db", db, "--format", "json")
        rep = json.loads(out) if rc == 0 else {}
        ok("report json", rc == 0 and rep["total_entries"] == 6
           and sum(f["task_count"] for f in rep["files"]) == 24, (rc, err))
        rc, out, err = cli("report", "--db", db)
        ok("report text", rc == 0 and out.splitlines()[0].split()[:3] == ["file", "bundle", "duration"], out)
        rc, out, err = cli("dags", "list", "--db", "postgresql://u:pw-xyz@127.0.0.1:1/db")
        ok("unreachable database: exit 1, one line, no password",
           rc == 1 and len(err.strip().splitlines()) == 1 and "pw-xyz" not in err, (rc, err))
        rc, out, err = cli("dags", "--db", db)
        ok("dags without list: usage, exit 2", rc == 2, (rc, err))

        # ---- serve: the API alone
        port2 = free_port()
        proc = subprocess.Popen([binary, "serve", "--db", db, "--port", str(port2)], cwd=tmp, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        api2 = Api(port2, TOKEN)  # ./dagproc.cfg is read: same token
        up = False
        for _ in range(100):
            try:
                up = api2.req("/livez")[0] == 200
            except OSError:
                pass
            if up:
                break
            time.sleep(0.1)
        st, h = api2.req("/api/v2/monitor/health")
        # serve reads the processors' heartbeats from dag_processor: the one
        # stopped moments ago wrote its row less than a minute ago
        ok("serve: health from the processors' heartbeat rows", up and st == 200
           and h["metadatabase"]["status"] == "healthy"
           and h["dag_processor"]["status"] == "healthy"
           and h["dag_processor"]["latest_dag_processor_heartbeat"] is not None, h)
        st, body = api2.req("/api/v2/dags?limit=1")
        ok("serve: dags", st == 200 and body["total_entries"] == 7 and len(body["dags"]) == 1, (st, body))
        st, body = api2.req("/api/v2/parseDagFile/" + tok, method="PUT")
        ok("serve: parseDagFile 503 without a processor", st == 503 and "detail" in body, (st, body))
        st, body = api2.req("/readyz", raw=True)
        ok("serve: readyz", st == 200, (st, body))
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "timeout"
        ok("serve: SIGTERM exits 0", rc == 0, rc)
        proc = None
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        rc, out, err = cli("serve", "--db", db, "--port", str(busy.getsockname()[1]))
        busy.close()
        ok("busy port: exit 2 with the reason", rc == 2 and "cannot listen on" in err, (rc, err))
    finally:
        if proc:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
