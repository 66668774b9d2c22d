"""lbclient.py — UDP query client for replica_netns.sh: one socket (= one
UDP flow for the load balancer) per query, sent at a fixed rate, replies
matched by socket; optional events (run a command, or signal a pid) at a
given query index. Prints one JSON line per query:
{"i", "ok", "attempts", "t_ms" (send time from start), "ids", "bits"}, and
one line per event {"event_at", "start_ms", "done_ms", "rc"}.

usage: lbclient.py HOST PORT Q.f32 DIM N RATE TIMEOUT_MS RETRIES [AT:kill:PID | AT:run:CMD]...
"""
import json, os, selectors, signal, socket, struct, subprocess, sys, time

host, port, qfile, dim, n, rate, tmo, retries = sys.argv[1:9]
port, dim, n, rate, tmo, retries = int(port), int(dim), int(n), float(rate), int(tmo) / 1e3, int(retries)
events = {}
for e in sys.argv[9:]:
    at, kind, arg = e.split(":", 2)
    events.setdefault(int(at), []).append((kind, arg))
raw = open(qfile, "rb").read()
nq = len(raw) // (4 * dim)
K, MAGIC, FLAGS = 10, 0x31515652, 2 | 4  # DAEMON | NO_CACHE: exact f32, every query reaches rvfd
HDR = struct.Struct("<IBBHIHHIBBHII")

def request(i, rid):
    body = raw[(i % nq) * 4 * dim:(i % nq + 1) * 4 * dim]
    pkt = HDR.pack(MAGIC, 1, 1, FLAGS, rid, dim, K, 0, 0, 0, 0, 0, 0) + body
    return pkt + b"\0" * max(0, 32 + 16 * K - len(pkt))

sel = selectors.DefaultSelector()
res = [None] * n
pending = {}  # sock -> [i, rid, sent, attempts]
procs = []
start = time.monotonic()
nxt = 0
while nxt < n or pending:
    now = time.monotonic()
    while nxt < n and now >= start + nxt / rate:
        for kind, arg in events.get(nxt, []):
            if kind == "kill":
                os.kill(int(arg), signal.SIGTERM)
                procs.append({"event_at": nxt, "start_ms": round((now - start) * 1e3, 3),
                              "done_ms": round((now - start) * 1e3, 3), "p": None, "kill": int(arg)})
            else:
                procs.append({"event_at": nxt, "start_ms": round((now - start) * 1e3, 3), "done_ms": None,
                              "p": subprocess.Popen(arg, shell=True, stdout=subprocess.DEVNULL)})
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        rid = 1000 + nxt
        try:
            s.sendto(request(nxt, rid), (host, port))
        except OSError:
            pass
        pending[s] = [nxt, rid, time.monotonic(), 1]
        res[nxt] = {"i": nxt, "ok": False, "attempts": 1, "t_ms": round((time.monotonic() - start) * 1e3, 3)}
        sel.register(s, selectors.EVENT_READ)
        nxt += 1
    wait = min([p[2] + tmo for p in pending.values()] + ([start + nxt / rate] if nxt < n else []))
    for key, _ in sel.select(max(0.0, wait - time.monotonic())):
        s = key.fileobj
        i, rid, sent, att = pending[s]
        try:
            data = s.recv(4096)
        except OSError:
            continue  # ICMP unreachable: wait for the timeout
        if len(data) < 32:
            continue
        h = HDR.unpack_from(data)
        if h[0] != MAGIC or h[2] != 2 or h[4] != rid or h[8] != 0:
            continue
        cnt = h[10]
        ids = [struct.unpack_from("<Q", data, 32 + 16 * j)[0] for j in range(cnt)]
        bits = [struct.unpack_from("<I", data, 40 + 16 * j)[0] for j in range(cnt)]
        res[i].update(ok=True, ids=ids, bits=bits, epoch=h[7], rtt_us=round((time.monotonic() - sent) * 1e6))
        sel.unregister(s)
        s.close()
        del pending[s]
    now = time.monotonic()
    for e in procs:
        if e["p"] is not None and e["done_ms"] is None and e["p"].poll() is not None:
            e["done_ms"] = round((now - start) * 1e3, 3)
    for s, p in list(pending.items()):
        if now >= p[2] + tmo:
            if p[3] <= retries:  # same socket: the same flow, the same backend
                p[1] += 1000000
                p[2], p[3] = now, p[3] + 1
                res[p[0]]["attempts"] = p[3]
                try:
                    s.sendto(request(p[0], p[1]), (host, port))
                except OSError:
                    pass
            else:
                sel.unregister(s)
                s.close()
                del pending[s]
for e in procs:
    if e["p"] is not None:
        e["rc"] = e["p"].wait(timeout=60)
        if e["done_ms"] is None:
            e["done_ms"] = round((time.monotonic() - start) * 1e3, 3)
    del e["p"]
    print(json.dumps(e))
for r in res:
    print(json.dumps(r))
