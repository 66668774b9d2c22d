#!/usr/bin/env python3
"""livecheck.py — queries an rvf server without pause and records every answer.

  livecheck.py HOST PORT QUERIES.npy SECONDS OUT.jsonl [--k K] [--daemon-share F]
               [--rate QPS] [--timeout S]

One request in flight at a time (f32 queries from QUERIES.npy, round robin,
k results). A share F of them carries RVF_WF_DAEMON (answered by the daemon,
or by the result cache for repeats), the rest may be answered by XDP. Every
request gets a fresh request id and ONE datagram (no retry): a request whose
reply does not come within the timeout is counted unanswered. Each answer is
written as a JSON line {q, flags, epoch, path, status, ids, dbits, us}; the
summary (JSON) goes to stdout: sent, answered, unanswered, errors, by path,
p50/p99 latency in microseconds.
"""
import json
import random
import socket
import struct
import sys
import time

import numpy as np

MAGIC = 0x31515652
HDR = struct.Struct("<IBBHIHHIBBHII")
PATHS = {0: "none", 1: "xdp", 2: "cache", 3: "daemon"}


def request(rid, vec, k, flags):
    body = vec.astype("<f4").tobytes()
    hdr = HDR.pack(MAGIC, 1, 1, flags, rid, len(vec), k, 0, 0, 0, 0, 0, 0)
    return hdr + body + b"\0" * max(0, 16 * k - len(body))


def parse(b):
    h = HDR.unpack(b[:32])
    count = h[10]
    ids, dbits = [], []
    for i in range(count):
        rid, dist = struct.unpack("<QI", b[32 + 16 * i:44 + 16 * i])
        ids.append(rid)
        dbits.append(dist)
    return h, ids, dbits


def main():
    a = sys.argv[1:]
    if len(a) < 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    host, port, qpath, secs, out = a[0], int(a[1]), a[2], float(a[3]), a[4]
    k, dshare, rate, tmo = 10, 0.5, 0.0, 1.0
    i = 5
    while i < len(a):
        if a[i] == "--k":
            k = int(a[i + 1])
        elif a[i] == "--daemon-share":
            dshare = float(a[i + 1])
        elif a[i] == "--rate":
            rate = float(a[i + 1])
        elif a[i] == "--timeout":
            tmo = float(a[i + 1])
        else:
            print("unknown option " + a[i], file=sys.stderr)
            sys.exit(2)
        i += 2
    q = np.load(qpath).astype(np.float32)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((host, port))
    rnd = random.Random(11)
    rid = rnd.randrange(1 << 32)
    sent = answered = unanswered = errors = 0
    by, lat = {}, []
    t_end = time.monotonic() + secs
    with open(out, "w") as f:
        n = 0
        while time.monotonic() < t_end:
            if rate > 0:
                time.sleep(max(0.0, n / rate - (time.monotonic() - (t_end - secs))))
            qi = n % len(q)
            flags = 2 if rnd.random() < dshare else 0
            rid = (rid + 1) & 0xFFFFFFFF
            t0 = time.monotonic()
            s.send(request(rid, q[qi], k, flags))
            sent += 1
            n += 1
            got = None
            while True:
                left = t0 + tmo - time.monotonic()
                if left <= 0:
                    break
                s.settimeout(left)
                try:
                    b = s.recv(65536)
                except socket.timeout:
                    break
                if len(b) >= 32 and HDR.unpack(b[:32])[4] == rid:
                    got = b
                    break
            if got is None:
                unanswered += 1
                continue
            us = (time.monotonic() - t0) * 1e6
            h, ids, dbits = parse(got)
            answered += 1
            if h[8] != 0:
                errors += 1
            path = PATHS.get(h[9], str(h[9]))
            by[path] = by.get(path, 0) + 1
            lat.append(us)
            f.write(json.dumps({"q": qi, "flags": flags, "epoch": h[7], "path": path,
                                "status": h[8], "ids": ids, "dbits": dbits, "us": round(us, 1)}) + "\n")
    lat.sort()
    pct = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None
    print(json.dumps({"sent": sent, "answered": answered, "unanswered": unanswered, "errors": errors,
                      "by_path": by, "p50_us": pct(0.5), "p99_us": pct(0.99)}, sort_keys=True))


if __name__ == "__main__":
    main()
