#!/usr/bin/python3
"""`dagproc lsp` (issue 16, part 3) driven over its stdio by a scripted client
speaking JSON-RPC 2.0 with Content-Length framing:

- a session: initialize, didOpen of a broken file with non-ASCII text before
  the error, publishDiagnostics equal to `check --format json` on the same
  text (ranges in UTF-16 code units), a code action applied, the diagnostics
  cleared, incremental changes, hover, completion, a defaults.yml changed on
  disk, didClose, shutdown, exit 0;
- a burst of changes: the last version's diagnostics are published last;
- the malformed-input cases, each with its JSON-RPC answer: a header block
  without Content-Length, a message over 16 MiB, invalid JSON, a message that
  is not a request, an unknown method, a request before initialize, exit
  without shutdown (status 1).

usage: tests/lsp_test.py path/to/dagproc
"""
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

BASH2 = "airflow.operators.bash_operator.BashOperator"
BASH3 = "airflow.providers.standard.operators.bash.BashOperator"
passed = failed = 0


def ok(what):
    global passed
    passed += 1
    print("ok   " + what)


def bad(what):
    global failed
    failed += 1
    print("FAIL " + what)


class Server:
    def __init__(self, binary, cwd):
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAGPROC_")}
        self.p = subprocess.Popen([binary, "lsp", "--stdio"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
                                  env=env)
        self.buf = b""
        self.next_id = 0
        self.notes = []

    def raw(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def request(self, method, params=None):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or {}})
        return self.response(self.next_id)

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def read(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if sep:
                n = None
                for line in head.split(b"\r\n"):
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        n = int(v)
                if n is not None and len(rest) >= n:
                    self.buf = rest[n:]
                    return json.loads(rest[:n])
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                return None
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                return None
            self.buf += chunk

    def response(self, rid, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.read(deadline - time.monotonic())
            if m is None:
                return None
            if "method" in m:
                self.notes.append(m)
            elif m.get("id") == rid or rid is None:
                return m
        return None

    def diagnostics(self, uri, version=None, timeout=10.0):
        """The next publishDiagnostics for uri (of that version)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, n in enumerate(self.notes):
                p = n.get("params") or {}
                if n.get("method") == "textDocument/publishDiagnostics" and p.get("uri") == uri \
                        and (version is None or p.get("version") == version):
                    del self.notes[:i + 1]
                    return p
            m = self.read(deadline - time.monotonic())
            if m is None:
                return None
            if "method" in m:
                self.notes.append(m)
        return None

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            return self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return None


def utf16_col(line, cp):
    """UTF-16 code units of the first cp code points of line."""
    return sum(2 if ord(c) > 0xFFFF else 1 for c in line[:cp])


def cp_of_utf16(line, units):
    u = 0
    for i, c in enumerate(line):
        if u >= units:
            return i
        u += 2 if ord(c) > 0xFFFF else 1
    return len(line)


def apply_edit(text, edit):
    lines = text.split("\n")
    (sl, sc), (el, ec) = [(edit["range"][k]["line"], edit["range"][k]["character"])
                          for k in ("start", "end")]
    a = sum(len(x) + 1 for x in lines[:sl]) + cp_of_utf16(lines[sl], sc)
    b = sum(len(x) + 1 for x in lines[:el]) + cp_of_utf16(lines[el], ec)
    return text[:a] + edit["newText"] + text[b:]


def check_json(binary, path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGPROC_")}
    p = subprocess.run([binary, "check", "--format", "json", path], capture_output=True,
                       text=True, env=env)
    f = json.loads(p.stdout)["files"][0]
    return f["errors"], f["warnings"]


def session(binary, work):
    d = os.path.join(work, "proj")
    os.makedirs(os.path.join(d, "dags"))
    os.makedirs(os.path.join(d, ".git"))
    path = os.path.join(d, "dags", "etl.yml")
    uri = "file://" + path
    text = ("# caf\u00e9 \U0001d11e pipeline\n"
            "etl:\n"
            "  schedule: '@daily'\n"
            "  description: \"na\u00efve \U0001d11e\"\n"
            "  tasks:\n"
            "    - {task_id: \"\u00e9\U0001d11e\", operator: %s, bash_command: echo}\n"
            "    - task_id: b\n"
            "      operator: %s\n"
            "      bash_command: echo\n"
            "      dependencies: [\"\u00e9\U0001d11e\"]\n") % (BASH2, BASH3)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    errors, warnings = check_json(binary, path)
    s = Server(binary, d)
    r = s.request("initialize", {"processId": None, "rootUri": "file://" + d, "capabilities": {}})
    caps = (r or {}).get("result", {}).get("capabilities", {})
    if caps.get("codeActionProvider") and caps.get("hoverProvider") and \
            caps.get("textDocumentSync", {}).get("change") == 2:
        ok("initialize: incremental sync, code actions, hover, completion")
    else:
        bad("initialize answered %r" % r)
    s.notify("initialized", {})
    s.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml",
                                                       "version": 1, "text": text}})
    pd = s.diagnostics(uri, 1)
    if pd is None:
        bad("no publishDiagnostics after didOpen")
        return s.close()
    got = pd["diagnostics"]
    want = [(e["code"], e["line"], e["column"], e["message"], 1) for e in errors] + \
        [(w["code"], w["line"], w["column"], w["message"], 2) for w in warnings]
    lines = text.split("\n")
    conv = sorted((c, ln - 1, utf16_col(lines[ln - 1], col - 1) if ln else 0, m, sev)
                  for c, ln, col, m, sev in want)
    mine = sorted((g["code"], g["range"]["start"]["line"], g["range"]["start"]["character"],
                   g["message"], g["severity"]) for g in got)
    if conv == mine and want:
        ok("publishDiagnostics equals check --format json (%d diagnostics; ranges in UTF-16 "
           "code units after non-ASCII text)" % len(got))
    else:
        bad("diagnostics differ from check:\n     lsp   %r\n     check %r" % (mine, conv))
    if all(g.get("source") == "dagproc" and g.get("codeDescription", {}).get("href", "").endswith(
            "#" + g["code"]) for g in got):
        ok("each diagnostic has source dagproc and a codeDescription link")
    else:
        bad("source/codeDescription missing: %r" % got[:1])
    e011 = [g for g in got if g["code"] == "E011"]
    if not e011:
        bad("no E011 to fix")
        return s.close()
    r = s.request("textDocument/codeAction", {"textDocument": {"uri": uri}, "range": e011[0]["range"],
                                              "context": {"diagnostics": e011}})
    actions = (r or {}).get("result") or []
    edits = actions[0]["edit"]["changes"][uri] if actions else []
    if actions and edits and edits[0]["newText"] == BASH3 and actions[0]["kind"] == "quickfix":
        ok("codeAction offers the fix as a WorkspaceEdit: %s" % actions[0]["title"])
    else:
        bad("codeAction answered %r" % r)
        return s.close()
    new = apply_edit(text, edits[0])
    s.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                        "contentChanges": [{"text": new}]})
    pd = s.diagnostics(uri, 2)
    if pd is not None and not [g for g in pd["diagnostics"] if g["code"] == "E011"] and \
            new == text.replace(BASH2, BASH3):
        ok("the applied edit changes the path only, and the E011 is gone (%d diagnostics left)"
           % len(pd["diagnostics"]))
    else:
        bad("after the fix: %r" % (pd,))
    # incremental: break a dependency, then mend it
    ln = new.split("\n").index("      dependencies: [\"\u00e9\U0001d11e\"]")
    line_text = new.split("\n")[ln]
    start = utf16_col(line_text, line_text.index("\u00e9"))
    rng = {"start": {"line": ln, "character": start},
           "end": {"line": ln, "character": start + 3}}
    s.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3},
                                        "contentChanges": [{"range": rng, "text": "nope"}]})
    pd = s.diagnostics(uri, 3)
    e020 = [g for g in (pd or {}).get("diagnostics", []) if g["code"] == "E020"]
    rng2 = {"start": {"line": ln, "character": start},
            "end": {"line": ln, "character": start + 4}}
    s.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 4},
                                        "contentChanges": [{"range": rng2, "text": "\u00e9\U0001d11e"}]})
    pd = s.diagnostics(uri, 4)
    if e020 and pd is not None and not [g for g in pd["diagnostics"] if g["code"] == "E020"]:
        ok("incremental changes (UTF-16 ranges): an unknown dependency appears, then goes")
    else:
        bad("incremental changes: E020 %r, then %r" % (e020, pd))
    # hover
    op_line = new.split("\n").index("      operator: %s" % BASH3)
    r = s.request("textDocument/hover", {"textDocument": {"uri": uri},
                                         "position": {"line": op_line, "character": 20}})
    val = ((r or {}).get("result") or {}).get("contents", {}).get("value", "")
    if "BashOperator" in val and "bash_command" in val and "required" in val:
        ok("hover on an operator path: its class and arguments")
    else:
        bad("hover on the operator: %r" % r)
    r = s.request("textDocument/hover", {"textDocument": {"uri": uri},
                                         "position": {"line": 2, "character": 4}})
    val = ((r or {}).get("result") or {}).get("contents", {}).get("value", "")
    if "schedule" in val and "cron" in val:
        ok("hover on a DAG key: its description")
    else:
        bad("hover on schedule: %r" % r)
    # completion
    r = s.request("textDocument/completion", {"textDocument": {"uri": uri},
                                              "position": {"line": op_line, "character": 16}})
    labels = {i["label"] for i in ((r or {}).get("result") or {}).get("items", [])}
    r2 = s.request("textDocument/completion", {"textDocument": {"uri": uri},
                                               "position": {"line": op_line + 1, "character": 6}})
    labels2 = {i["label"] for i in ((r2 or {}).get("result") or {}).get("items", [])}
    r3 = s.request("textDocument/completion", {"textDocument": {"uri": uri},
                                               "position": {"line": 3, "character": 2}})
    labels3 = {i["label"] for i in ((r3 or {}).get("result") or {}).get("items", [])}
    if not {"schedule", "default_args", "tasks", "catchup"} <= labels3:
        bad("completion at DAG level: %r" % sorted(labels3)[:10])
    if BASH3 in labels and "bash_command" in labels2 and "dependencies" in labels2 and \
            "retries" in labels2 and "schedule" in labels3:
        ok("completion: operator paths (%d), the task's keys and its operator's arguments (%d), "
           "DAG keys (%d)" % (len(labels), len(labels2), len(labels3)))
    else:
        bad("completion: %d operator labels, task labels %r" % (len(labels), sorted(labels2)[:10]))
    # a defaults.yml changed on disk: the open file's diagnostics again
    with open(os.path.join(d, "dags", "defaults.yml"), "w") as f:
        f.write("default_args:\n  pool: no_such_pool\n")
    s.notify("workspace/didChangeWatchedFiles",
             {"changes": [{"uri": "file://" + os.path.join(d, "dags", "defaults.yml"), "type": 1}]})
    pd = s.diagnostics(uri)
    if pd is not None and [g for g in pd["diagnostics"] if g["code"] == "W001"]:
        ok("a defaults.yml changed on disk (didChangeWatchedFiles): diagnostics published again, "
           "with its pool warning")
    else:
        bad("after defaults.yml changed: %r" % (pd,))
    # the same defaults.yml open in the editor and changed there: the files of
    # its folder are published again
    duri = "file://" + os.path.join(d, "dags", "defaults.yml")
    s.notify("textDocument/didOpen", {"textDocument": {"uri": duri, "languageId": "yaml",
                                                       "version": 1,
                                                       "text": "default_args:\n  pool: no_such_pool\n"}})
    s.diagnostics(uri)
    s.notify("textDocument/didChange", {"textDocument": {"uri": duri, "version": 2},
                                        "contentChanges": [{"text": "default_args:\n  retries: 1\n"}]})
    pd = s.diagnostics(uri)
    if pd is not None:
        ok("a didChange of an open defaults.yml publishes its folder's open files again")
    else:
        bad("no publishDiagnostics for etl.yml after defaults.yml changed in the editor")
    s.notify("textDocument/didClose", {"textDocument": {"uri": duri}})
    s.diagnostics(duri)
    # a burst of changes: the newest wins
    cur = new
    for v in range(5, 45):
        cur = cur.replace("schedule: '@daily'", "schedule: '@daily'", 1)
        s.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": v},
                                            "contentChanges": [{"text": cur + "# %d\n" % v}]})
    pd = s.diagnostics(uri, 44)
    late = [n for n in s.notes if n.get("method") == "textDocument/publishDiagnostics"]
    if pd is not None and not late:
        ok("40 changes in a burst: the last version's diagnostics are published last")
    else:
        bad("burst: last %r, later notes %r" % (pd and pd.get("version"), late[:2]))
    s.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    pd = s.diagnostics(uri)
    if pd is not None and pd["diagnostics"] == []:
        ok("didClose clears the file's diagnostics")
    else:
        bad("didClose: %r" % (pd,))
    # closed while a slow analysis runs, opened again with other text: the old
    # analysis is not taken for the new text (its fixes would edit it)
    big = "etl:\n  tasks:\n" + "".join(
        "    - task_id: t%d\n      operator: %s\n      bash_command: echo\n" % (i, BASH2)
        for i in range(4000))
    s.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml",
                                                       "version": 1, "text": big}})
    time.sleep(0.02)
    s.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    clean = "# again\netl:\n  tasks:\n    - task_id: z\n      operator: %s\n      bash_command: echo\n" % BASH3
    s.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml",
                                                       "version": 1, "text": clean}})
    r = s.request("textDocument/codeAction", {"textDocument": {"uri": uri},
                                              "range": {"start": {"line": 0, "character": 0},
                                                        "end": {"line": 9, "character": 0}},
                                              "context": {"diagnostics": []}})
    # the publishes of uri, in order: the big text's (if its analysis beat the
    # close), the close's empty one (no version), then the new text's only
    pubs = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pd = s.diagnostics(uri, timeout=deadline - time.monotonic())
        if pd is None:
            break
        pubs.append(pd)
        if "version" in pd and len(pd["diagnostics"]) < 5 and \
                any("version" not in q for q in pubs[:-1]):
            break
    closed = [k for k, q in enumerate(pubs) if "version" not in q]
    after = [len(q["diagnostics"]) for q in pubs[closed[0] + 1:]] if closed else []
    if (r or {}).get("result") == [] and after and max(after) < 5:
        ok("a file closed during its analysis and opened again: only the new text's "
           "diagnostics after the close, no stale code action")
    else:
        bad("reopened file: code actions %r, diagnostic counts published %r" %
            (((r or {}).get("result") or [])[:1], [len(q["diagnostics"]) for q in pubs]))
    s.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    s.diagnostics(uri)
    # a CRLF document: positions and hover read its lines without the CR
    crlf = ("etl:\r\n  tasks:\r\n    - task_id: a\r\n      operator: %s\r\n"
            "      bash_command: echo\r\n    - task_id: b\r\n      operator: %s\r\n"
            "      bash_command: echo\r\n") % (BASH2, BASH3)
    s.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml",
                                                       "version": 7, "text": crlf}})
    pd = s.diagnostics(uri, 7)
    e = [g for g in (pd or {}).get("diagnostics", []) if g["code"] == "E011"]
    line_len = len(crlf.split("\r\n")[3])
    r = s.request("textDocument/hover", {"textDocument": {"uri": uri},
                                         "position": {"line": 6, "character": 20}})
    val = ((r or {}).get("result") or {}).get("contents", {}).get("value", "")
    if e and e[0]["range"]["start"]["line"] == 3 and e[0]["range"]["end"]["line"] == 3 and \
            e[0]["range"]["end"]["character"] <= line_len and "BashOperator" in val:
        ok("a CRLF document: ranges end within their line, hover reads the operator")
    else:
        bad("CRLF: %r, hover %r" % (e[:1], val[:80]))
    s.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    s.diagnostics(uri)
    r = s.request("shutdown")
    s.notify("exit", {})
    rc = s.close()
    if r is not None and "result" in r and rc == 0:
        ok("shutdown, then exit: status 0")
    else:
        bad("shutdown %r, exit status %r" % (r, rc))
    if sorted(os.listdir(os.path.join(d, "dags"))) == ["defaults.yml", "etl.yml"]:
        ok("the server wrote no file")
    else:
        bad("files in the project: %r" % os.listdir(os.path.join(d, "dags")))


def malformed(binary, work):
    def fresh():
        s = Server(binary, work)
        return s

    def init(s):
        return s.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})

    s = fresh()
    r = s.request("textDocument/hover", {"textDocument": {"uri": "file:///x"},
                                         "position": {"line": 0, "character": 0}})
    code = (r or {}).get("error", {}).get("code")
    ok("a request before initialize: -32002") if code == -32002 else bad("before initialize: %r" % r)
    # a header block without Content-Length, its body right after it: the
    # body is skipped, not read as headers, and the next message answered
    s.raw(b"X-Junk: 1\r\n\r\n" + json.dumps({"jsonrpc": "2.0", "id": 50, "method": "x"}).encode())
    r = s.response(None)
    code = (r or {}).get("error", {}).get("code")
    r2 = init(s)
    ok("a header block without Content-Length: -32700; its body skipped; the next message "
       "answered") if code == -32700 and r2 and "result" in r2 else \
        bad("no Content-Length: %r, then %r" % (r, r2))
    s.raw(b"Content-Length:\t-1\r\n\r\n{}")
    r = s.response(None)
    code = (r or {}).get("error", {}).get("code")
    r2 = s.request("textDocument/hover", {"textDocument": {"uri": "file:///x"},
                                          "position": {"line": 0, "character": 0}})
    ok("Content-Length: <tab>-1: -32700, and the next request answered") \
        if code == -32700 and r2 and "result" in r2 else bad("negative length: %r, then %r" % (r, r2))
    body = b'{"jsonrpc":"2.0","id":51,"method":"shutdown\\u0000x"}'
    s.raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    r = s.response(None)
    code = (r or {}).get("error", {}).get("code")
    ok("a NUL inside a method name: -32700 (never served as another method)") \
        if code == -32700 else bad("NUL in method: %r" % r)
    s.raw(b"Content-Length: 12\r\n\r\n{not json!!}")
    r = s.response(None)
    code = (r or {}).get("error", {}).get("code")
    ok("invalid JSON: -32700") if code == -32700 else bad("invalid JSON: %r" % r)
    big = 17 << 20
    s.raw(b"Content-Length: %d\r\n\r\n" % big + b" " * big)
    r = s.response(None, timeout=30)
    code = (r or {}).get("error", {}).get("code")
    r2 = s.request("textDocument/hover", {"textDocument": {"uri": "file:///x"},
                                          "position": {"line": 0, "character": 0}})
    ok("a 17 MiB message: -32700, skipped, the next request answered") \
        if code == -32700 and r2 and "result" in r2 else bad("17 MiB: %r then %r" % (r, r2))
    s.send({"id": 99, "method": "shutdown"})
    r = s.response(99)
    code = (r or {}).get("error", {}).get("code")
    ok("a message without jsonrpc 2.0: -32600") if code == -32600 else bad("no jsonrpc: %r" % r)
    r = s.request("textDocument/frobnicate", {})
    code = (r or {}).get("error", {}).get("code")
    ok("an unknown method: -32601") if code == -32601 else bad("unknown method: %r" % r)
    s.notify("exit", {})
    rc = s.close()
    ok("exit without shutdown: status 1") if rc == 1 else bad("exit without shutdown: %r" % rc)
    s = fresh()
    init(s)
    rc = s.close()
    ok("the end of the input without exit: status 1") if rc == 1 else bad("EOF: status %r" % rc)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    work = tempfile.mkdtemp(prefix="dagproc-lsp-")
    try:
        session(binary, work)
        malformed(binary, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
