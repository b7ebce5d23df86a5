#!/usr/bin/python3
"""The least a Python DAG processor does: PyYAML's C loader (CSafeLoader,
libyaml underneath) parsing every DAG file of a folder, and a hash of each
parsed document (sorted-key JSON, SHA-256), on one core.

    pyyaml_baseline.py DIR   -> prints "files=N bytes=N seconds=S"

Run with Debian's /usr/bin/python3 and its python3-yaml package (installed by
scripts/deps.sh's bench group).
"""
import hashlib
import json
import os
import sys
import time

import yaml

root = sys.argv[1]
paths = []
for d, _, names in os.walk(root):
    for n in names:
        if n.endswith((".yml", ".yaml")) and n not in ("defaults.yml", "defaults.yaml"):
            paths.append(os.path.join(d, n))
paths.sort()
nbytes = 0
t0 = time.monotonic()
for p in paths:
    with open(p, "rb") as f:
        text = f.read()
    nbytes += len(text)
    try:
        doc = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        doc = None
    hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
t1 = time.monotonic()
print("files=%d bytes=%d seconds=%.3f" % (len(paths), nbytes, t1 - t0))
