#!/usr/bin/env python3
"""Table and results.json for bench/sync_bench.sh.

    sync_report.py RESDIR RESULTS_JSON FILES BIGFILES

RESDIR holds one file per figure (written by sync_bench.sh). The check-only
time comes from RESULTS_JSON (bench/run.sh, same machine, run just before);
the figures are merged into RESULTS_JSON under "sync".
"""
import json
import os
import sys

resdir, results, files, bigfiles = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])


def get(key, conv=float):
    p = os.path.join(resdir, key)
    if not os.path.exists(p):
        return None
    v = open(p).read().strip()
    if conv is json.loads:
        return json.loads(v)
    try:
        return conv(v)
    except ValueError:
        return v


try:
    R = json.load(open(results))
except (OSError, ValueError):
    R = {}
t_check = (R.get("dagproc_check") or {}).get("seconds")

rows = []  # (figure, value, ratio, target, verdict)
S = {"files": files, "check_seconds": t_check}


def verdict(ok):
    return "met" if ok else "MISSED"


def fmt(x, unit="s", nd=2):
    return "n/a" if x is None else ("%.*f %s" % (nd, x, unit)).strip()


names = {"sqlite": "SQLite", "pg": "PostgreSQL", "mariadb": "MariaDB"}
for b in ("sqlite", "pg", "mariadb"):
    full = get(b + ".full.seconds")
    if full is None:
        continue
    st = int(get(b + ".full.statements"))
    wr = int(get(b + ".full.writes"))
    bulk = get(b + ".bulk.seconds")
    d = {"full_seconds": full, "full_statements": st, "full_writes": wr,
         "statements_per_file": round(st / files, 3), "bulk_load_seconds": bulk,
         "rows": get(b + ".rows", str), "rows_mb": get(b + ".rows_mb")}
    n = names[b]
    if b == "sqlite" and t_check:
        r = full / t_check
        d["ratio_to_check"] = round(r, 3)
        rows.append(("full sync %s / check-only (%.2f s)" % (n, t_check), fmt(full), "%.2fx" % r,
                     "<= 2x", verdict(r <= 2)))
    if bulk is not None and t_check:
        r = full / (bulk + t_check)
        d["ratio_to_bulk_plus_check"] = round(r, 3)
        rows.append(("full sync %s / (bulk load %.2f s + check)" % (n, bulk), fmt(full),
                     "%.2fx" % r, "<= 2x" if b != "sqlite" else "(info)",
                     verdict(r <= 2) if b != "sqlite" else ""))
    rows.append(("  statements per file, full sync %s" % n, "%d / %d" % (st, files),
                 "%.2f" % (st / files), "", ""))
    # issue 13, item 3: how busy the pipeline keeps the cores (dagproc's own
    # CPU: the daemon and its workers, not the database server's)
    cpu = get(b + ".full.cpu")
    if cpu:
        d["full_cpu_seconds"] = cpu
        d["cpu_per_wall"] = round(cpu / full, 2)
        rows.append(("  CPU / wall, full sync %s (dagproc and workers)" % n, "%.2f s CPU" % cpu,
                     "%.2f cores" % (cpu / full), "(info)", ""))
    busy = get(b + ".busy", json.loads)
    if busy and busy.get("tenths"):
        d["busy"] = busy
        tl = " ".join("%.1f" % t["machine_cores"] if t else "-" for t in busy["tenths"])
        rows.append(("  cores busy by tenth of the run, %s (machine)" % n, tl, "", "(info)", ""))
        rows.append(("  run with < 1.5 of %d cores busy, %s" % (busy["cpus"], n),
                     fmt(busy["below_1_5_cores_seconds"], "s", 2),
                     "%.0f%%" % (100 * busy["below_1_5_cores_share"]), "(info)", ""))
    rs = get(b + ".resync.seconds")
    if rs is not None:
        rst, rwr = int(get(b + ".resync.statements")), int(get(b + ".resync.writes"))
        d.update({"resync_seconds": rs, "resync_statements": rst, "resync_writes": rwr,
                  "resync_files_parsed": int(get(b + ".resync.parsed")),
                  "resync_ratio": round(rs / full, 3)})
        rows.append(("resync, no change, %s (%d stmts, %d writes)" % (n, rst, rwr), fmt(rs),
                     "%.0f%%" % (100 * rs / full), "< 5%, 0 writes",
                     verdict(rs / full < 0.05 and rwr == 0) +
                     ("" if rwr == 0 else " (writes!)")))
    lat = get(b + ".latency", json.loads)
    if lat:
        d["latency"] = lat
        if "p99_ms" in lat:
            rows.append(("change-to-database %s, %d edits p50" % (n, lat["edits"]),
                         fmt(lat["p50_ms"], "ms", 1), "", "", ""))
            rows.append(("change-to-database %s, p99 (max %.0f ms%s)" %
                         (n, lat["max_ms"], ", %d timeouts" % lat["timeouts"] if lat["timeouts"] else ""),
                         fmt(lat["p99_ms"], "ms", 1), "", "< 250 ms",
                         verdict(lat["p99_ms"] < 250 and not lat["timeouts"])))
    S[b] = d

recs = []
i = 1
while get("pg.recovery.%d" % i, json.loads):
    recs.append(dict(get("pg.recovery.%d" % i, json.loads),
                     pending_parsed=get("pg.recovery.%d.parsed" % i, int)))
    i += 1
if recs:
    worst = max(r["seconds"] for r in recs)
    allc = all(r["committed"] == r["files"] for r in recs)
    S["pg"]["recovery"] = {"retry_backoff_max": 2, "runs": recs, "worst_seconds": worst}
    rows.append(("recovery PostgreSQL, %d results pending, worst of %d" % (recs[0]["files"], len(recs)),
                 fmt(worst, "s", 2) + ("" if allc else " (not all committed)"),
                 "", "< 1 s + 2 s", verdict(allc and worst < 1 + 2)))
    rows.append(("  each run (backoff cap 2 s)", " ".join("%.2f" % r["seconds"] for r in recs),
                 "", "", ""))

r10 = get("rss10k.max_kb")
s10 = get("rss10k.sampled", json.loads)
if r10:
    S["rss_10k"] = {"max_kb": int(r10), "sampled": s10}
    rows.append(("peak RSS, %d files, SQLite (/usr/bin/time -v)" % files, fmt(r10 / 1024, "MiB", 1),
                 "", "< 100 MB", verdict(r10 * 1024 < 100e6)))
    if s10 and s10.get("found"):
        rows.append(("  daemon / largest worker (VmHWM)",
                     "%.1f / %.1f MiB" % (s10["daemon_hwm_kb"] / 1024, s10["worker_hwm_kb"] / 1024),
                     "", "", ""))
rb = get("rss_big.max_kb")
sb = get("rss_big.sampled", json.loads)
if rb:
    S["rss_big"] = {"files": bigfiles, "max_kb": int(rb), "sampled": sb,
                    "full_seconds": get("sqlite.big.seconds"),
                    "statements": get("sqlite.big.statements", int)}
    ratio = rb / r10 if r10 else None
    rows.append(("peak RSS, %d files, SQLite" % bigfiles, fmt(rb / 1024, "MiB", 1),
                 "%.2fx" % ratio if ratio else "", "linear (<= %dx)" % (bigfiles // files),
                 verdict(ratio is not None and ratio <= bigfiles / files * 1.1)))
    if sb and sb.get("found"):
        rows.append(("  daemon / largest worker (VmHWM)",
                     "%.1f / %.1f MiB" % (sb["daemon_hwm_kb"] / 1024, sb["worker_hwm_kb"] / 1024),
                     "", "", ""))
    if S["rss_big"]["full_seconds"]:
        rows.append(("  full sync SQLite, %d files" % bigfiles, fmt(S["rss_big"]["full_seconds"]),
                     "%.1f files/s" % (bigfiles / S["rss_big"]["full_seconds"]), "", ""))
elif get("rss_big.skipped", str):
    rows.append(("peak RSS, %d files" % bigfiles, "skipped: " + get("rss_big.skipped", str), "", "", ""))

py = get("pyyaml.seconds")
full_sqlite = get("sqlite.full.seconds")
if py and full_sqlite:
    r = full_sqlite / py
    rows.append(("PyYAML C loader, parse + hash, 1 core", fmt(py), "", "", ""))
    rows.append(("full sync SQLite / PyYAML", fmt(full_sqlite), "%.2fx" % r, "<= 0.15x",
                 verdict(r <= 0.15)))
    S["pyyaml"] = {"seconds": py, "full_sync_sqlite_ratio": round(r, 3)}
else:
    rows.append(("PyYAML C loader (parse + hash)", "not measured", "", "0.15x", "n/a"))
    S["pyyaml"] = "not measured: " + (get("pyyaml.skipped", str) or "no figure")

w = max(len(r[0]) for r in rows)
print()
print("%-*s %16s %10s %16s  %s" % (w, "", "value", "ratio", "target", ""))
for r in rows:
    print("%-*s %16s %10s %16s  %s" % ((w,) + r))

R["sync"] = S
with open(results, "w") as f:
    json.dump(R, f, indent=2)
    f.write("\n")
print("written to %s (\"sync\")" % results)
