#!/usr/bin/env python3
"""Probes for bench/sync_bench.sh, stdlib only (no database drivers needed).

    sync_probe.py latency  --db URL --dags DIR --edits N --out FILE.json
    sync_probe.py rec-prep --db URL --dags DIR --count N --skip M --out STATE.json
    sync_probe.py rec-edit --state STATE.json
    sync_probe.py rec-wait --db URL --state STATE.json --out FILE.json
    sync_probe.py rss      --parent PID --out FILE.json
    sync_probe.py busy     --parent PID --out FILE.json

latency: edits N different error-free DAG files one at a time (the first
bash_command of the file gets a unique prefix) and, after each edit, polls the
database in a tight loop until serialized_dag.dag_hash of the DAG holding that
task has changed; the time from the close of the edited file to the first poll
that sees the new hash is the change-to-database latency.

rec-*: the recovery probe. rec-prep records the parse_stat.file_hash of N files
(server up); rec-edit edits them (server down); rec-wait tries to connect every
2 ms (started before the server), notes the first successful connection, then
polls until every one of the N files has a new file_hash, and reports the time
between the two.

rss: samples VmHWM of the first dagproc process below PID (the daemon) and of
its children (the workers) every 20 ms until the daemon exits.

busy: samples, every 50 ms until the first dagproc process below PID exits,
the CPU time of the whole machine (/proc/stat: dagproc, its workers and the
database server) and of dagproc with its workers; reports how many cores were
busy in each tenth of the run and the share of the run with fewer than 1.5 of
the machine's cores busy (issue 13, item 3: a phase where one core waits on the
other shows as a tenth near 1 core).

Databases: sqlite:////abs/path.db through the sqlite3 module; postgresql://
URLs through a minimal PostgreSQL wire-protocol client below (simple query
protocol; trust, cleartext or md5 authentication: what tests/db/pg.sh sets up).
"""
import argparse
import hashlib
import json
import os
import re
import socket
import sqlite3
import struct
import sys
import time
import urllib.parse


# ---------------------------------------------------------------------------
# Minimal PostgreSQL client


class PgError(Exception):
    pass


class Pg:
    def __init__(self, url, timeout=5.0):
        u = urllib.parse.urlparse(url)
        self.user = urllib.parse.unquote(u.username or "postgres")
        self.password = urllib.parse.unquote(u.password or "")
        db = u.path.lstrip("/") or self.user
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 5432), timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        params = b"user\0" + self.user.encode() + b"\0database\0" + db.encode() + b"\0\0"
        self.sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
        while True:
            t, body = self._msg()
            if t == b"R":
                code = struct.unpack("!i", body[:4])[0]
                if code == 0:
                    continue
                if code == 3:
                    self._send(b"p", self.password.encode() + b"\0")
                elif code == 5:
                    inner = hashlib.md5(self.password.encode() + self.user.encode()).hexdigest()
                    outer = hashlib.md5(inner.encode() + body[4:8]).hexdigest()
                    self._send(b"p", b"md5" + outer.encode() + b"\0")
                else:
                    raise PgError("unsupported authentication method %d" % code)
            elif t == b"E":
                raise PgError(self._err(body))
            elif t == b"Z":
                return

    def _send(self, t, body):
        self.sock.sendall(t + struct.pack("!i", len(body) + 4) + body)

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise PgError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _msg(self):
        head = self._read(5)
        n = struct.unpack("!i", head[1:])[0]
        return head[:1], self._read(n - 4)

    @staticmethod
    def _err(body):
        fields = dict((f[:1], f[1:].decode(errors="replace")) for f in body.split(b"\0") if f)
        return fields.get(b"M", "error")

    def query(self, sql):
        self._send(b"Q", sql.encode() + b"\0")
        rows, err = [], None
        while True:
            t, body = self._msg()
            if t == b"D":
                n = struct.unpack("!h", body[:2])[0]
                pos, row = 2, []
                for _ in range(n):
                    ln = struct.unpack("!i", body[pos:pos + 4])[0]
                    pos += 4
                    if ln < 0:
                        row.append(None)
                    else:
                        row.append(body[pos:pos + ln].decode())
                        pos += ln
                rows.append(row)
            elif t == b"E":
                err = self._err(body)
            elif t == b"Z":
                if err:
                    raise PgError(err)
                return rows

    def close(self):
        try:
            self._send(b"X", b"")
            self.sock.close()
        except OSError:
            pass


class Db:
    """One connection; query(sql, params) with ? placeholders (text literals for pg)."""

    def __init__(self, url):
        self.url = url
        if url.startswith("sqlite:///"):
            path = url[len("sqlite:///"):]
            self.kind = "sqlite"
            self.c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5, isolation_level=None)
        elif url.startswith(("postgresql://", "postgres://")):
            self.kind = "pg"
            self.c = Pg(url)
        else:
            raise SystemExit("sync_probe: unsupported database URL (sqlite or postgresql only)")

    def query(self, sql, params=()):
        if self.kind == "sqlite":
            return [list(map(lambda v: None if v is None else str(v), r))
                    for r in self.c.execute(sql, params).fetchall()]
        parts = sql.split("?")
        assert len(parts) == len(params) + 1
        q = parts[0]
        for p, rest in zip(params, parts[1:]):
            q += "'" + str(p).replace("'", "''") + "'" + rest
        return self.c.query(q)

    def close(self):
        self.c.close()


# ---------------------------------------------------------------------------
# DAG files

TOP = re.compile(r"^([A-Za-z0-9_.\-]+):\s*$")


def dag_files(dags):
    out = []
    for d, _, fs in os.walk(dags):
        for f in fs:
            if f.startswith("dag_") and f.endswith(".yml"):
                out.append(os.path.relpath(os.path.join(d, f), dags))
    return sorted(out)


def error_files(db):
    return set(r[0] for r in db.query("SELECT filename FROM import_error"))


def edit_target(path):
    """(dag_id, line index) of the first bash_command of the file, or None."""
    with open(path) as f:
        lines = f.read().split("\n")
    dag = None
    for i, ln in enumerate(lines):
        m = TOP.match(ln)
        if m and m.group(1) != "default":
            dag = m.group(1)
        if dag and 'bash_command: "' in ln:
            return dag, i
    return None


def edit(path, tag):
    with open(path) as f:
        text = f.read()
    new = text.replace('bash_command: "', 'bash_command: "echo %s && ' % tag, 1)
    assert new != text
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, new.encode())
    os.close(fd)


def pick(dags, db, count, skip):
    """count error-free files with a bash_command, spread over the folder, after skipping skip."""
    errs = error_files(db)
    files = [f for f in dag_files(dags) if f not in errs]
    stride = max(1, len(files) // (count + skip))
    out = []
    for f in files[::stride][skip:] + files:
        if len(out) == count:
            break
        if f in out:
            continue
        t = edit_target(os.path.join(dags, f))
        if t:
            out.append((f, t[0]))
    if len(out) < count:
        raise SystemExit("sync_probe: only %d editable files" % len(out))
    return out


def pct(xs, p):
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


# ---------------------------------------------------------------------------
# Commands


def cmd_latency(a):
    db = Db(a.db)
    targets = pick(a.dags, db, a.edits, 0)
    lat, timeouts, verified = [], 0, 0
    run = "lat%x" % int(time.time())
    for n, (rel, dag) in enumerate(targets):
        old = db.query("SELECT dag_hash FROM serialized_dag WHERE dag_id = ?", (dag,))
        old = old[0][0] if old else None
        tag = "%s-%d" % (run, n)
        edit(os.path.join(a.dags, rel), tag)
        t0 = time.monotonic()
        deadline = t0 + a.timeout
        while True:
            r = db.query("SELECT dag_hash FROM serialized_dag WHERE dag_id = ?", (dag,))
            t1 = time.monotonic()
            if r and r[0][0] != old:
                lat.append((t1 - t0) * 1000)
                d = db.query("SELECT data FROM serialized_dag WHERE dag_id = ?", (dag,))
                verified += bool(d and tag in d[0][0])
                break
            if t1 > deadline:
                timeouts += 1
                break
            time.sleep(a.poll / 1000.0)
    db.close()
    res = {"edits": len(targets), "measured": len(lat), "timeouts": timeouts,
           "data_has_edit": verified, "samples_ms": [round(x, 2) for x in lat],
           "poll_ms": a.poll}
    if lat:
        res.update({"p50_ms": round(pct(lat, 50), 2), "p99_ms": round(pct(lat, 99), 2),
                    "max_ms": round(max(lat), 2), "min_ms": round(min(lat), 2),
                    "mean_ms": round(sum(lat) / len(lat), 2)})
    json.dump(res, open(a.out, "w"))
    print(json.dumps(res))


def cmd_rec_prep(a):
    db = Db(a.db)
    targets = pick(a.dags, db, a.count, a.skip)
    old = {}
    for r in db.query("SELECT relative_fileloc, file_hash FROM parse_stat"):
        old[r[0]] = r[1]
    db.close()
    st = {"dags": a.dags, "files": [[rel, dag, old.get(rel)] for rel, dag in targets]}
    json.dump(st, open(a.out, "w"))
    print("recovery: %d files chosen" % len(targets))


def cmd_rec_edit(a):
    st = json.load(open(a.state))
    tag = "rec%x" % int(time.time())
    for n, (rel, _, _) in enumerate(st["files"]):
        edit(os.path.join(st["dags"], rel), "%s-%d" % (tag, n))
    print("recovery: %d files edited" % len(st["files"]))


def cmd_rec_wait(a):
    st = json.load(open(a.state))
    old = dict((rel, h) for rel, _, h in st["files"])
    deadline = time.monotonic() + a.timeout
    db = None
    while db is None:
        try:
            db = Db(a.db)
            db.query("SELECT 1")
        except (OSError, PgError):
            db = None
            if time.monotonic() > deadline:
                raise SystemExit("rec-wait: the server never accepted a connection")
            time.sleep(0.002)
    t_accept = time.monotonic()
    wall_accept = time.time()
    rels = list(old)
    inlist = ",".join("'" + r.replace("'", "''") + "'" for r in rels)
    sql = "SELECT relative_fileloc, file_hash FROM parse_stat WHERE relative_fileloc IN (%s)" % inlist
    done = 0
    polls = 0
    while True:
        rows = db.query(sql)
        polls += 1
        t = time.monotonic()
        done = sum(1 for r in rows if r[1] != old.get(r[0]))
        if done >= len(rels):
            break
        if t > deadline:
            break
        time.sleep(a.poll / 1000.0)
    db.close()
    res = {"files": len(rels), "committed": done, "seconds": round(t - t_accept, 3),
           "accepted_at": wall_accept, "polls": polls, "poll_ms": a.poll}
    json.dump(res, open(a.out, "w"))
    print(json.dumps(res))


def hwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def find_daemon(pid, depth=0):
    """The first dagproc process below pid (its workers are dagproc children of it)."""
    for c in children(pid):
        # BENCH_BIN may name another build (comm is its file name, cut at 15)
        if comm(c).startswith("dagproc"):
            return c
        if depth < 3:
            d = find_daemon(c, depth + 1)
            if d:
                return d
    return None


def cmd_rss(a):
    daemon = None
    deadline = time.monotonic() + 10
    while daemon is None and time.monotonic() < deadline:
        daemon = find_daemon(a.parent)
        if daemon is None:
            time.sleep(0.002)
    main_kb, workers = 0, {}
    while daemon and os.path.exists("/proc/%d" % daemon):
        main_kb = max(main_kb, hwm_kb(daemon))
        for w in children(daemon):
            workers[w] = max(workers.get(w, 0), hwm_kb(w))
        time.sleep(0.02)
    res = {"daemon_hwm_kb": main_kb, "worker_hwm_kb": max(workers.values()) if workers else 0,
           "workers_seen": len(workers), "found": daemon is not None}
    json.dump(res, open(a.out, "w"))


def machine_ticks():
    """(busy, total) clock ticks of all CPUs since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    return sum(v) - idle, sum(v)


def tree_ticks(daemon):
    """utime + stime of the daemon, of its workers reaped (cutime, cstime) and
    of its live workers, in clock ticks."""
    def stat(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
    s = stat(daemon)
    if s is None:
        return None
    t = sum(int(x) for x in s[11:15])  # utime stime cutime cstime
    for w in children(daemon):
        ws = stat(w)
        if ws:
            t += int(ws[11]) + int(ws[12])
    return t


def cmd_busy(a):
    daemon = None
    deadline = time.monotonic() + 10
    while daemon is None and time.monotonic() < deadline:
        daemon = find_daemon(a.parent)
        if daemon is None:
            time.sleep(0.002)
    hz = os.sysconf("SC_CLK_TCK")
    ncpu = os.cpu_count() or 1
    samples = []  # (wall, machine busy ticks, machine total ticks, dagproc ticks)
    while daemon:
        t = tree_ticks(daemon)
        if t is None:
            break
        mb, mt = machine_ticks()
        samples.append((time.monotonic(), mb, mt, t))
        time.sleep(0.05)
    res = {"found": daemon is not None, "cpus": ncpu, "samples": len(samples)}
    if len(samples) >= 3:
        t0, t1 = samples[0][0], samples[-1][0]
        wall = t1 - t0
        tenths = []
        for k in range(10):
            lo, hi = t0 + wall * k / 10, t0 + wall * (k + 1) / 10
            seg = [x for x in samples if lo <= x[0] <= hi]
            if len(seg) < 2:
                tenths.append(None)
                continue
            a0, a1 = seg[0], seg[-1]
            dt = a1[0] - a0[0]
            share = (a1[1] - a0[1]) / max(1, a1[2] - a0[2])  # of all cores
            tenths.append({"machine_cores": round(share * ncpu, 2),
                           "dagproc_cores": round((a1[3] - a0[3]) / hz / dt, 2) if dt else None})
        low = 0.0
        for x, y in zip(samples, samples[1:]):
            share = (y[1] - x[1]) / max(1, y[2] - x[2])
            if share * ncpu < 1.5:
                low += y[0] - x[0]
        res.update({"seconds": round(wall, 3), "tenths": tenths,
                    "below_1_5_cores_seconds": round(low, 3),
                    "below_1_5_cores_share": round(low / wall, 3) if wall else None})
    json.dump(res, open(a.out, "w"))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("latency")
    p.add_argument("--db", required=True)
    p.add_argument("--dags", required=True)
    p.add_argument("--edits", type=int, default=200)
    p.add_argument("--poll", type=float, default=1.0, help="ms between polls")
    p.add_argument("--timeout", type=float, default=10.0, help="s per edit")
    p.add_argument("--out", required=True)
    p = sub.add_parser("rec-prep")
    p.add_argument("--db", required=True)
    p.add_argument("--dags", required=True)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--skip", type=int, default=0)
    p.add_argument("--out", required=True)
    p = sub.add_parser("rec-edit")
    p.add_argument("--state", required=True)
    p = sub.add_parser("rec-wait")
    p.add_argument("--db", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--poll", type=float, default=5.0, help="ms between polls")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--out", required=True)
    p = sub.add_parser("rss")
    p.add_argument("--parent", type=int, required=True)
    p.add_argument("--out", required=True)
    p = sub.add_parser("busy")
    p.add_argument("--parent", type=int, required=True)
    p.add_argument("--out", required=True)
    a = ap.parse_args()
    {"latency": cmd_latency, "rec-prep": cmd_rec_prep, "rec-edit": cmd_rec_edit,
     "rec-wait": cmd_rec_wait, "rss": cmd_rss,
     "busy": cmd_busy}[a.cmd](a)


if __name__ == "__main__":
    main()
