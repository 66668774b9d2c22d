#!/usr/bin/env bash
# make_seeds.sh — regenerates the small seed corpora in tests/fuzz/seeds/
# (committed; rerun after a format change). Needs build/rvf, build/fuzz/fuzz_write
# and python3. Each seed is a valid (or nearly valid) input the harness
# would otherwise take long to find; the harness's header says how its
# input is laid out (format bytes in front of the payload, etc.).
set -euo pipefail
cd "$(dirname "$0")/../.."
S=tests/fuzz/seeds
RVF=build/rvf
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
rm -rf "$S"/fuzz_{filter,meta,index,rvfd,client,input,serve,verify,write}
mkdir -p "$S"/fuzz_{filter,meta,index,rvfd,client,input,serve,verify,write}

# fuzz_write: a fresh and an edited branch of the harness's own parent.rvf
RVF_FUZZ_MKSEED=$PWD/$S/fuzz_write build/fuzz/fuzz_write >/dev/null 2>&1

# A store with metadata, an index, a quantizer, a signature and a bound kernel.
cat >"$T/in.json" <<'J'
[{"id":1,"vector":[1,0,0,0],"metadata":{"0":10,"1":"red","2":1.5,"3":true,"4":-7}},
 {"id":2,"vector":[0,1,0,0],"metadata":{"fields":[{"id":0,"type":"u64","value":"18446744073709551615"},{"id":2,"type":"f64","value":"NaN"}]}},
 {"id":3,"vector":[0,0,1,0],"metadata":{"1":"blue"}},
 {"id":4,"vector":[0,0,0,1]},{"id":5,"vector":[1,1,0,0]},{"id":6,"vector":[0,1,1,0]},
 {"id":7,"vector":[0,0,1,1]},{"id":8,"vector":[1,0,0,1]},{"id":9,"vector":[2,0,0,0]}]
J
$RVF create -d 4 "$T/s.rvf" >/dev/null
$RVF ingest -i "$T/in.json" "$T/s.rvf" >/dev/null
$RVF index --m 4 "$T/s.rvf" >/dev/null
$RVF quantize "$T/s.rvf" >/dev/null
$RVF keygen -o "$T/key" >/dev/null
printf 'kernel image bytes' >"$T/bz"
$RVF embed-kernel --image-path "$T/bz" --cmdline "console=ttyS0" "$T/s.rvf" >/dev/null
cp "$T/s.rvf" "$S/fuzz_write/meta_index_quant_kernel.rvf"
$RVF sign --key "$T/key" "$T/s.rvf" >/dev/null
cp "$T/s.rvf" "$S/fuzz_verify/signed_kernel.rvf"

python3 - "$T/s.rvf" "$S" <<'PY'
import json, struct, sys
f, S = open(sys.argv[1], 'rb').read(), sys.argv[2]
def w(d, name, b):
    open(f'{S}/{d}/{name}', 'wb').write(b)
segs, off = [], 0
while off + 64 <= len(f):
    t, plen = f[off + 5], struct.unpack_from('<Q', f, off + 16)[0]
    segs.append((t, f[off + 64:off + 64 + plen]))
    off += 64 + plen
metas = [p for t, p in segs if t == 0x07]
index = [p for t, p in segs if t == 0x02]
for i, p in enumerate(metas):
    w('fuzz_meta', f'seg{i}', b'\x00' + p)
for i, j in enumerate(['{"0":5,"1":"text","2":1.5,"3":true,"4":-7}',
                       '{"fields":[{"id":0,"type":"u64","value":"18446744073709551615"},{"id":9,"type":"f64","value":"-inf"}]}',
                       '[{"fieldId":1,"valueType":"string","value":"x"},{"id":2,"type":"bool","value":false}]',
                       '{"65535":"\\u00e9\\ud83d\\ude00"}']):
    w('fuzz_meta', f'json{i}', b'\x01' + j.encode())
for i, p in enumerate(index):
    w('fuzz_index', f'l2_d4_{i}', b'\x00\x03' + p)

# filters: byte 0 = grammar (0 auto, 1 Node, 2 CLI)
flt = [(2, '{"eq":{"field":0,"value":20}}'), (2, '{"eq":{"field":0,"value":{"u64":30}}}'),
       (2, '{"ne":{"field":1,"value":"red"}}'), (2, '{"gt":{"field":2,"value":0.0}}'),
       (2, '{"and":[{"ge":{"field":0,"value":10}},{"eq":{"field":1,"value":"red"}}]}'),
       (2, '{"or":[{"eq":{"field":0,"value":10}},{"not":{"eq":{"field":4,"value":-7}}}]}'),
       (2, '{"in":{"field":1,"values":["green","blue"]}}'), (2, '{"range":{"field":0,"low":10,"high":30}}'),
       (1, '{"op":"eq","fieldId":1,"valueType":"string","value":"blue"}'),
       (1, '{"op":"in","fieldId":0,"valueType":"u64","values":["20","30"]}'),
       (1, '{"op":"range","fieldId":0,"valueType":"u64","low":"20","high":"31"}'),
       (1, '{"op":"and","children":[{"op":"ge","fieldId":0,"valueType":"u64","value":"20"},{"op":"not","child":{"op":"eq","fieldId":1,"valueType":"string","value":"red"}}]}'),
       (0, '{"eq":{"field":2,"value":{"f64":"NaN"}}}'), (0, '{"op":"lt","fieldId":4,"valueType":"i64","value":"-9223372036854775808"}')]
for i, (g, t) in enumerate(flt):
    w('fuzz_filter', f'f{i}', bytes([g]) + t.encode())

# rvfd requests (dim 4, the harness's store) and client replies
def hdr(magic=0x31515652, ver=1, op=1, flags=0, rid=7, dim=4, k=5, epoch=0, st=0, path=0, count=0, scale=0.0):
    return struct.pack('<IBBHIHHIBBHfI', magic, ver, op, flags, rid, dim, k, epoch, st, path, count, scale, 0)
q = struct.pack('<4f', 1, 0, 0, 0)
w('fuzz_rvfd', 'f32_k5', hdr() + q + bytes(5 * 16 - len(q)))
w('fuzz_rvfd', 'i8_k3', hdr(flags=1, k=3, scale=0.5) + bytes([2, 0, 0, 0]) + bytes(44))
w('fuzz_rvfd', 'daemon_k64', hdr(flags=2, k=64) + q + bytes(64 * 16 - len(q)))
w('fuzz_rvfd', 'cidr_v4', b'10.0.0.0/8')
w('fuzz_rvfd', 'cidr_v6', b'fd00::/64')
res = b''.join(struct.pack('<QfI', 1000 + i, float(i), 0) for i in range(3))
w('fuzz_client', 'ok3', struct.pack('<IB', 7, 5) + hdr(op=2, st=0, path=3, count=3, epoch=4) + res)
w('fuzz_client', 'err', struct.pack('<IB', 7, 5) + hdr(op=2, st=4, path=0))
w('fuzz_client', 'xdp_i8', struct.pack('<IB', 7, 64) + hdr(op=2, flags=1, k=64, path=1, count=2, scale=0.25) + res[:32])

# ingest inputs: byte 0 = format (0 json, 1 jsonl, 2 csv, 3 tsv, 4 npy; + 5*id_offset)
w('fuzz_input', 'json', b'\x00' + open(sys.argv[1].replace('s.rvf', 'in.json'), 'rb').read())
w('fuzz_input', 'jsonl', b'\x01{"id":1,"vector":[1,2],"metadata":{"0":1}}\n\n{"id":2,"vector":[3,4]}\n')
w('fuzz_input', 'csv', b'\x02id,vector,m:color,meta.size:u64,metadata\n1,"1,2",red,5,"{""3"":true}"\n2,"[3,4]",,,\n')
w('fuzz_input', 'csv_cols', b'\x02id,v0,v1,m:w:f64\n7,1.5,-2,0.25\n8,nan,3,\n')
w('fuzz_input', 'tsv', b'\x03id\tvector\tm:name:string\n1\t1,2\t"a b"\n')
npyh = b"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }"
npyh += b' ' * ((64 - (10 + len(npyh) + 1) % 64) % 64) + b'\n'
w('fuzz_input', 'npy', bytes([4 + 5 * 3]) + b'\x93NUMPY\x01\x00' + struct.pack('<H', len(npyh)) + npyh + struct.pack('<6f', 1, 2, 3, 4, 5, 6))

# serve bodies: byte 0 = route (0 query, 1 ingest, 2 delete)
for i, b in enumerate([(0, {"vector": [1, 0, 0, 0], "k": 3, "filter": {"range": {"field": 0, "low": 10, "high": 60}}}),
                       (0, {"vector": [0, 1, 0, 0], "k": 20, "exact": True, "filter": "{\"op\":\"ge\",\"fieldId\":0,\"valueType\":\"u64\",\"value\":\"30\"}"}),
                       (1, {"vectors": [{"id": 3, "vector": [1, 2, 3, 4], "metadata": {"0": 7, "1": "x"}}, {"id": 11, "vector": [0, 0, 0, 1]}]}),
                       (1, {"vectors": [[1, 2, 3, 4], [4, 3, 2, 1]], "ids": [20, 20], "metadata": [{"0": 1}, {"fields": [{"id": 1, "type": "string", "value": "last"}]}]}),
                       (2, {"ids": [1, 2, 99]}),
                       (2, {"filter": {"lt": {"field": 0, "value": 50}}})]):
    w('fuzz_serve', f'b{i}', bytes([b[0]]) + json.dumps(b[1]).encode())
PY
ls -R "$S" | head -80
du -sh "$S"
