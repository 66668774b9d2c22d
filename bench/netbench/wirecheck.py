#!/usr/bin/env python3
"""wirecheck.py — protocol conformance checks of a running rvf query server
(rvfd with or without XDP), from raw UDP datagrams (docs/PROTOCOL.md):

  wirecheck.py HOST PORT DIM [--daemon] [--src ADDR] [--expect-silence]

Checks: no reply below 32 bytes or to op=REPLY; BAD_REQUEST / UNSUPPORTED /
BAD_K / DIM_MISMATCH for bad headers, lengths, flags, scales and non-finite
components; every error reply is a bare 32-byte header with count 0; echoed
fields; a reply is never larger than its request (unpadded f32 and int8
queries get trimmed result lists); 400 random datagrams never get an
oversized or inconsistent reply and the server still answers afterwards.
--daemon sets the DAEMON flag on valid queries (exact answers, path daemon).
--expect-silence: the source is not allowed, so nothing may come back.
--lenient-i8-scale: an int8 query with scale 0 or < 0 answered OK is only a
WARN line (the XDP program did so when this was written; PROTOCOL §4 says
the scale is finite and > 0).
Exit 0 when every check passed; prints one line per check."""
import math, os, random, select, socket, struct, sys

HDR = struct.Struct("<IBBHIHHIBBHII")
MAGIC = 0x31515652
args = sys.argv[1:]
host, port, dim = args[0], int(args[1]), int(args[2])
daemon = "--daemon" in args
silence = "--expect-silence" in args
lenient = "--lenient-i8-scale" in args  # XDP path: warn only (see the usage text)
src = args[args.index("--src") + 1] if "--src" in args else None
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
if src:
    s.bind((src, 0))
s.connect((host, port))
rng = random.Random(1234)
fails = 0
checks = 0
rid = rng.randrange(1 << 32)


def check(cond, what):
    global fails, checks
    checks += 1
    if not cond:
        fails += 1
        print("FAIL:", what)
    else:
        print("ok:  ", what)


def recv(want_id, timeout=0.5):
    end = timeout
    while True:
        r, _, _ = select.select([s], [], [], end)
        if not r:
            return None
        data = s.recv(65536)
        if len(data) >= 12 and struct.unpack_from("<I", data, 8)[0] == want_id:
            return data


def hdr(magic=MAGIC, ver=1, op=1, flags=0, req=None, d=None, k=10, scale=0):
    global rid
    if req is None:
        rid = (rid + 1) & 0xffffffff
        req = rid
    return HDR.pack(magic, ver, op, flags, req, dim if d is None else d, k, 0, 0, 0, 0, scale, 0), req


def vec(d=None):
    return struct.pack("<%df" % (d or dim), *[rng.uniform(-1, 1) for _ in range(d or dim)])


def pad(b, k):
    need = 32 + 16 * min(k, 64)
    return b + b"\0" * max(0, need - len(b))


def xchg(pkt, req, timeout=0.5):
    s.send(pkt)
    return recv(req, timeout)


def error_reply(pkt, req, status, what, warn_only=False):
    r = xchg(pkt, req, 0.15 if silence else 0.5)
    if warn_only and r is not None and len(r) >= 32 and HDR.unpack_from(r)[8] == 0:
        print("WARN: %s answered OK with path %d (protocol: BAD_REQUEST)" % (what, HDR.unpack_from(r)[9]))
        return
    if silence:
        check(r is None, what + ": no reply (source not allowed)")
        return
    if r is None:
        check(False, what + ": no reply")
        return
    f = HDR.unpack_from(r)
    check(f[8] == status and f[10] == 0 and len(r) == 32 and len(r) <= len(pkt) and f[2] == 2,
          "%s: status %d count 0, 32 bytes (got status %d count %d len %d)" %
          (what, status, f[8], f[10], len(r)))


flagq = 2 if daemon else 0
# 1. too short: silence
for n in (0, 1, 16, 31):
    h, req = hdr()
    check(xchg(h[:n], req, 0.3) is None, "%d-byte datagram: no reply" % n)
# 2. op REPLY: silence
h, req = hdr(op=2)
check(xchg(pad(h + vec(), 10), req, 0.3) is None, "op=REPLY datagram: no reply")
# 3. header errors
h, req = hdr(magic=0x12345678)
error_reply(pad(h + vec(), 10), req, 1, "bad magic")
h, req = hdr(ver=2)
error_reply(pad(h + vec(), 10), req, 5, "version 2")
h, req = hdr(op=7)
error_reply(pad(h + vec(), 10), req, 5, "op 7")
h, req = hdr(flags=0x10)
error_reply(pad(h + vec(), 10), req, 5, "unknown flag 0x10")
h, req = hdr(flags=0x8000 | flagq)
error_reply(pad(h + vec(), 10), req, 5, "unknown flag 0x8000")
h, req = hdr(flags=8)
error_reply(pad(h + vec(), 10), req, 5, "FILTER flag (no filter encoding yet)")
# 4. lengths
h, req = hdr(d=0)
error_reply(pad(h, 10), req, 1, "dim 0")
h, req = hdr(k=10)
error_reply(h + vec()[:-4], req, 1, "vector 4 bytes short of dim")
h, req = hdr(d=4000, k=1)
error_reply(h + b"\0" * 100, req, 1, "dim 4000 in a 132-byte datagram")
# 5. k
h, req = hdr(k=0, flags=flagq)
error_reply(pad(h + vec(), 10), req, 4, "k 0")
h, req = hdr(k=65, flags=flagq)
error_reply(pad(h + vec(), 65), req, 4, "k 65")
# 6. dimension mismatch
h, req = hdr(d=dim + 1, flags=flagq)
error_reply(pad(h + vec(dim + 1), 10), req, 2, "dim %d on a dim-%d store" % (dim + 1, dim))
# 7. i8 scales, non-finite components
qi = bytes((rng.randrange(256) for _ in range(dim)))
for sc, name in ((0, "0"), (0x7fc00000, "NaN"), (0x7f800000, "inf"), (0xbf800000, "-1")):
    h, req = hdr(flags=1 | flagq, scale=sc)
    error_reply(pad(h + qi, 10), req, 1, "int8 query with scale %s" % name,
                lenient and not daemon and name in ("0", "-1"))
v = list(struct.unpack("<%df" % dim, vec()))
v[dim // 2] = float("nan")
h, req = hdr(flags=flagq)
error_reply(pad(h + struct.pack("<%df" % dim, *v), 10), req, 1, "NaN component")

if not silence:
    # 8. a good query, echoed fields
    h, req = hdr(flags=flagq | 4, k=10)
    pkt = pad(h + vec(), 10)
    r = xchg(pkt, req)
    ok = r is not None
    if ok:
        f = HDR.unpack_from(r)
        ok = (f[0] == MAGIC and f[1] == 1 and f[2] == 2 and f[3] == flagq | 4 and f[4] == req and
              f[5] == dim and f[6] == 10 and f[8] == 0 and f[10] == 10 and len(r) == 32 + 160 and
              f[9] in ((3,) if daemon else (1, 3)) and f[7] > 0)
        ids = [struct.unpack_from("<Q", r, 32 + 16 * i)[0] for i in range(10)]
        ds = [struct.unpack_from("<f", r, 40 + 16 * i)[0] for i in range(10)]
        ok = ok and ds == sorted(ds) and len(set(ids)) == 10
    check(ok, "good f32 query k=10: OK, 10 sorted results, fields echoed, epoch > 0")
    # 9. anti-amplification
    h, req = hdr(flags=flagq | 4, k=64)
    pkt = h + vec()
    r = xchg(pkt, req)
    room = (len(pkt) - 32) // 16
    check(r is not None and HDR.unpack_from(r)[10] == min(64, room) and len(r) <= len(pkt),
          "unpadded f32 query k=64 (%d bytes): %d results, reply <= request" % (len(pkt), min(64, room)))
    h, req = hdr(flags=1 | flagq | 4, k=64, scale=0x3c010204)
    pkt = h + qi
    r = xchg(pkt, req)
    room = (len(pkt) - 32) // 16
    check(r is not None and HDR.unpack_from(r)[10] == min(64, room) and len(r) <= len(pkt),
          "unpadded int8 query k=64 (%d bytes): %d results, reply <= request" % (len(pkt), room))
    h, req = hdr(flags=1 | flagq | 4, k=10, scale=0x3c010204)
    pkt = pad(h + qi, 10)
    r = xchg(pkt, req)
    check(r is not None and HDR.unpack_from(r)[10] == 10 and HDR.unpack_from(r)[8] == 0,
          "padded int8 query k=10: 10 results")

# 10. random datagrams
bad = 0
for i in range(400):
    n = rng.choice([rng.randrange(0, 64), rng.randrange(32, 700), 32 + 4 * dim, 32 + dim])
    b = bytearray(rng.randbytes(n))
    if n >= 32 and rng.random() < 0.7:
        struct.pack_into("<IB", b, 0, MAGIC, 1)
        b[5] = rng.choice([1, 1, 1, 2, 3])
        struct.pack_into("<HHH", b, 6 + 0, rng.choice([0, 1, 2, 4, 6, 0x20]), 0, 0)
        struct.pack_into("<I", b, 8, (rid + 1000 + i) & 0xffffffff)
        struct.pack_into("<HH", b, 12, rng.choice([dim, dim, 0, dim + 1, rng.randrange(65536)]),
                         rng.choice([1, 10, 64, 0, 65, rng.randrange(65536)]))
    s.send(bytes(b))
    r = recv(struct.unpack_from("<I", b, 8)[0] if n >= 12 else -1, 0.01 if silence else 0.05)
    if r is None:
        continue
    if silence or n < 32 or len(r) > n or len(r) < 32:
        bad += 1
        continue
    f = HDR.unpack_from(r)
    if f[8] != 0 and (f[10] != 0 or len(r) != 32):
        bad += 1
    if f[8] == 0 and (len(r) != 32 + 16 * f[10] or f[10] > f[6] or f[9] == 0):
        bad += 1
check(bad == 0, "400 random datagrams: no oversized or inconsistent reply (%d bad)" % bad)
if not silence:
    h, req = hdr(flags=flagq, k=5)
    r = xchg(pad(h + vec(), 5), req, 1.0)
    check(r is not None and HDR.unpack_from(r)[8] == 0, "server still answers after the random datagrams")
print("%d checks, %d failed" % (checks, fails))
sys.exit(1 if fails else 0)
