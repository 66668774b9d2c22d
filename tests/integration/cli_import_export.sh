#!/usr/bin/env bash
# cli_import_export.sh — `rvf ingest --format json|jsonl|csv|tsv|npy` and
# `rvf export`: every format in and out; bit-exact round trips
# (export -> ingest into a new store -> export gives identical bytes, and the
# floats are exactly the float32 of the input); bad rows named by row and line
# with nothing written (files) or the rows before committed (stdin); .npy
# shapes/dtypes refused; a ~200 MB JSON-lines file ingested with bounded RSS.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

need_cmd jq python3
[ -x "$RVF" ] || skip "$RVF not built"

epoch() { "$RVF" status "$1" --json | jq .epoch; }
count() { "$RVF" status "$1" --json | jq .total_vectors; }
same() { cmp -s "$1" "$2" || fail "$3: $1 and $2 differ: $(diff "$1" "$2" | head -5)"; ok; }

cat >"$T/gen.py" <<'PY'
import json, math, random, struct, sys

def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]

def npy(path, rows, descr="<f4", fortran=False, shape=None, fmt="<%df", ver=1, data=None):
    d = len(rows[0]) if rows else 0
    shape = shape if shape is not None else "(%d, %d)" % (len(rows), d)
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    pre = 10 if ver == 1 else 12
    h += " " * (64 - (pre + len(h) + 1) % 64) + "\n"
    with open(path, "wb") as f:
        if ver == 1:
            f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)))
        else:
            f.write(b"\x93NUMPY" + bytes([ver, 0]) + struct.pack("<I", len(h)))
        f.write(h.encode())
        if data is not None:
            f.write(data)
        else:
            for r in rows:
                f.write(struct.pack(fmt % len(r), *r))

mode = sys.argv[1]
if mode == "data":
    # Random float32 vectors (incl. denormals, -0, extremes) and every metadata type.
    n, d, out = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    r = random.Random(7)
    special = [0.0, -0.0, 1e-45, -1.17549435e-38, 3.4028234e38, 1.0 / 3, 123456789.0]
    strs = ["plain", "", "comma, inside", 'quote " inside', "tab\tand\nnewline",
            "unicode \u00e9\u4e2d\U0001F600", "  spaces  ", "NaN", "5"]
    rows = []
    for i in range(n):
        v = [f32(r.choice(special)) if r.random() < 0.05 else f32(r.uniform(-10, 10) * 10 ** r.randint(-6, 6))
             for _ in range(d)]
        md = None
        k = i % 4
        if k == 0:
            md = {"0": i, "1": r.choice(strs), "2": r.uniform(-1e6, 1e6), "3": r.random() < 0.5, "4": -i - 1}
        elif k == 1:
            md = {"fields": [{"id": 0, "type": "u64", "value": "18446744073709551615"},
                             {"id": 2, "type": "f64", "value": r.choice(["NaN", "inf", "-inf", "-0.0", "1e-310"])},
                             {"id": 4, "type": "i64", "value": r.choice([0, 5, -9223372036854775808])},
                             {"id": 65535, "type": "string", "value": r.choice(strs)}]}
        elif k == 2:
            md = {"1": r.choice(strs)}
        row = {"id": i * 3 + 1, "vector": v}
        if md is not None:
            row["metadata"] = md
        rows.append(row)
    json.dump(rows, open(out, "w"), indent=1)
elif mode == "check":
    # Export (jsonl) floats must be exactly float32(input); ids equal.
    src, exp = sys.argv[2], sys.argv[3]
    a = json.load(open(src))
    b = [json.loads(l) for l in open(exp)]
    assert len(a) == len(b), (len(a), len(b))
    for x, y in zip(a, b):
        assert x["id"] == y["id"], (x["id"], y["id"])
        for p, q in zip(x["vector"], y["vector"]):
            assert struct.pack("<f", p) == struct.pack("<f", q), (x["id"], p, q)
elif mode == "npys":
    d = sys.argv[2]
    rows = [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [-0.0, 1e-45, 0.5, 9.0]]
    npy(d + "/ok.npy", rows)
    npy(d + "/ok2.npy", rows, ver=2)
    npy(d + "/f8.npy", rows, descr="<f8", fmt="<%dd")
    npy(d + "/be.npy", rows, descr=">f4", fmt=">%df")
    npy(d + "/fortran.npy", rows, fortran=True,
        data=b"".join(struct.pack("<f", r[c]) for c in range(4) for r in rows))
    npy(d + "/fortran8.npy", rows, descr=">f8", fortran=True,
        data=b"".join(struct.pack(">d", r[c]) for c in range(4) for r in rows))
    npy(d + "/f2.npy", rows, descr="<f2", fmt="<%de")
    npy(d + "/over.npy", [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, -1e39, 8.0]], descr="<f8", fmt="<%dd")
    npy(d + "/i4.npy", [[1, 2, 3, 4]], descr="<i4", fmt="<%di")
    npy(d + "/badids.ids.npy", [], descr="<u8", shape="(2,)", data=struct.pack("<2Q", 1, 2))
    npy(d + "/badids.npy", rows)
    npy(d + "/oned.npy", [], shape="(4,)", data=struct.pack("<4f", 1, 2, 3, 4))
    npy(d + "/threed.npy", [], shape="(1, 2, 2)", data=struct.pack("<4f", 1, 2, 3, 4))
    npy(d + "/short.npy", [], shape="(3, 4)", data=struct.pack("<5f", 1, 2, 3, 4, 5))
    npy(d + "/long.npy", [], shape="(1, 4)", data=struct.pack("<5f", 1, 2, 3, 4, 5))
    npy(d + "/dim3.npy", [[1.0, 2.0, 3.0]])
    with open(d + "/v9.npy", "wb") as f:
        f.write(b"\x93NUMPY\x09\x00\x10\x00{'descr': '<f4'}")
    with open(d + "/hdr.npy", "wb") as f:
        f.write(b"\x93NUMPY\x01\x00\xff\x00{'descr'")
    with open(d + "/notnpy.npy", "wb") as f:
        f.write(b"hello world, not numpy")
elif mode == "big":
    # ~200 MB of JSON lines, dimension 64, long float literals: the text is
    # ~7x the float32 data, so loading it whole would blow the RSS bound.
    out, target = sys.argv[2], int(sys.argv[3])
    r = random.Random(3)
    d = 64
    tmpl = []
    for j in range(97):
        v = ",".join("%.17g" % (r.uniform(-1, 1) * 1.0000001) for _ in range(d))
        tmpl.append(v)
    size = 0
    i = 0
    with open(out, "w") as f:
        while size < target:
            chunk = []
            for _ in range(1000):
                s = '{"id":%d,"vector":[%s],"metadata":{"0":%d}}\n' % (i, tmpl[i % 97], i % 1000)
                chunk.append(s)
                i += 1
            c = "".join(chunk)
            f.write(c)
            size += len(c)
    print(i)
PY

D=8
python3 "$T/gen.py" data 2000 $D "$T/src.json"
S=$T/src.rvf
run_ok "$RVF" create "$S" -d $D >/dev/null
run_ok "$RVF" ingest "$S" -i "$T/src.json" -b 300 --json >"$T/i.json"
json_eq "$T/i.json" .accepted 2000
json_eq "$T/i.json" .rejected 0

# ---- export every format, re-ingest each into a new store, re-export: identical ----
for f in json jsonl csv tsv; do
	run_ok "$RVF" export "$S" --format $f >"$T/a.$f"
done
python3 "$T/gen.py" check "$T/src.json" "$T/a.jsonl" || fail "exported floats are not the float32 of the input"
ok
jq -e 'length == 2000' "$T/a.json" >/dev/null || fail "json export not a 2000-element array"
ok
for f in json jsonl csv tsv; do
	run_ok "$RVF" create "$T/r_$f.rvf" -d $D >/dev/null
	run_ok "$RVF" ingest "$T/r_$f.rvf" -i "$T/a.$f" --json >"$T/ri.json"
	json_eq "$T/ri.json" .accepted 2000
	for g in json jsonl csv tsv; do
		run_ok "$RVF" export "$T/r_$f.rvf" --format $g >"$T/b_$f.$g"
		same "$T/a.$g" "$T/b_$f.$g" "round trip $f -> $g"
	done
done
# -o with the format from the extension, atomic file, summary.
run_ok "$RVF" export "$S" -o "$T/o.csv" --json >"$T/x.json"
json_eq "$T/x.json" .vectors 2000
json_eq "$T/x.json" .format csv
same "$T/a.csv" "$T/o.csv" "-o OUT.csv"
ls "$T" | grep >/dev/null '\.tmp\.' && fail "temporary export file left behind"
ok
# stdin, one pass.
run_ok "$RVF" create "$T/stdin.rvf" -d $D >/dev/null
expect_exit 0 sh -c "cat '$T/a.jsonl' | '$RVF' ingest '$T/stdin.rvf' -i - --format jsonl -b 77"
run_ok "$RVF" export "$T/stdin.rvf" --format jsonl >"$T/c.jsonl"
same "$T/a.jsonl" "$T/c.jsonl" "stdin jsonl round trip"
# No progress bar or stray output when stderr is not a terminal.
[ ! -s "$T/last.err" ] || fail "ingest wrote to stderr: $(head -c 300 "$T/last.err")"
ok
# Empty stores export empty documents that ingest as "No records".
run_ok "$RVF" create "$T/empty.rvf" -d 3 >/dev/null
assert_eq "$(run_ok "$RVF" export "$T/empty.rvf")" "[]" "empty json export"
assert_eq "$(run_ok "$RVF" export "$T/empty.rvf" --format csv)" "id,vector" "empty csv export"
run_ok "$RVF" export "$T/empty.rvf" >"$T/empty.json"
assert_eq "$(run_ok "$RVF" ingest "$T/empty.rvf" -i "$T/empty.json")" "No records to ingest." "empty ingest"

# ---- npy in and out ----------------------------------------------------------------
python3 "$T/gen.py" npys "$T"
run_ok "$RVF" create "$T/n.rvf" -d 4 >/dev/null
run_ok "$RVF" ingest "$T/n.rvf" -i "$T/ok.npy" --json >"$T/n.json"
json_eq "$T/n.json" .accepted 3
run_ok "$RVF" ingest "$T/n.rvf" -i "$T/ok2.npy" --id-offset 10 --json >"$T/n.json"
json_eq "$T/n.json" .accepted 3
run_ok "$RVF" export "$T/n.rvf" --format jsonl >"$T/n.jsonl"
json_eq "$T/n.jsonl" '.id' "$(printf '0\n1\n2\n10\n11\n12')"
assert_eq "$(sed -n 3p "$T/n.jsonl")" '{"id":2,"vector":[-0.0,1.40129846e-45,0.5,9.0]}' "npy row 3 bit-exact"
# ids 0..n-1 and no metadata: npy -> store -> npy is byte-identical to the input.
run_ok "$RVF" create "$T/n2.rvf" -d 4 >/dev/null
run_ok "$RVF" ingest "$T/n2.rvf" -i "$T/ok.npy" >/dev/null
run_ok "$RVF" export "$T/n2.rvf" -o "$T/back.npy" >/dev/null
same "$T/ok.npy" "$T/back.npy" "npy round trip"
[ ! -s "$T/last.err" ] || fail "unexpected npy warning: $(cat "$T/last.err")"
ok
[ -f "$T/back.ids.npy" ] || fail "no ids sidecar beside back.npy"
# Ids travel in the X.ids.npy sidecar: any ids, up to 2^64-1, round-trip.
printf '{"id":18446744073709551615,"vector":[1,2,3,4]}\n{"id":7,"vector":[5,6,7,8]}\n{"id":9223372036854775808,"vector":[0.3,0.1,0.2,0.5]}\n' >"$T/bigid.jsonl"
run_ok "$RVF" create "$T/bi.rvf" -d 4 >/dev/null
run_ok "$RVF" ingest "$T/bi.rvf" -i "$T/bigid.jsonl" >/dev/null
run_ok "$RVF" export "$T/bi.rvf" -o "$T/bi.npy" --json >"$T/x.json"
json_eq "$T/x.json" .ids_output "$T/bi.ids.npy"
/usr/bin/python3 -c "import numpy" 2>/dev/null && {
	assert_eq "$(/usr/bin/python3 -c "import numpy as n; a = n.load('$T/bi.ids.npy'); print(a.dtype, a.tolist())")" \
		"uint64 [18446744073709551615, 7, 9223372036854775808]" "numpy reads the ids sidecar"
}
run_ok "$RVF" create "$T/bi2.rvf" -d 4 >/dev/null
run_ok "$RVF" ingest "$T/bi2.rvf" -i "$T/bi.npy" >/dev/null
expect_contains "$T/last.err" "note: $T/bi.npy: ids from $T/bi.ids.npy"
run_ok "$RVF" export "$T/bi.rvf" --format jsonl >"$T/bi.a"
run_ok "$RVF" export "$T/bi2.rvf" --format jsonl >"$T/bi.b"
same "$T/bi.a" "$T/bi.b" "npy + ids sidecar round trip"
err_is 2 "--id-offset does not apply: the ids come from $T/bi.ids.npy" \
	"$RVF" ingest "$T/bi2.rvf" -i "$T/bi.npy" --id-offset 5
# Lossy npy export warns.
run_ok "$RVF" export "$S" -o "$T/lossy.npy" >/dev/null
expect_contains "$T/last.err" "warning: .npy holds vectors and ids only: metadata is not exported"
err_is 2 "give a file with -o" "$RVF" export "$S" --format npy
err_is 2 "give a file with -o" "$RVF" export "$S" --format npy -o -
err_is 2 "invalid value 'xml'" "$RVF" export "$S" --format xml
err_is 2 "invalid value 'xml'" "$RVF" ingest "$S" -i "$T/a.json" --format xml
err_is 1 "no such file" "$RVF" export "$T/missing.rvf"
# float64 / float16 / big-endian / Fortran order: converted to the same float32
# rows (float64 and float16 with a note on stderr); float16 has no 1e-45.
for f in f8 be fortran fortran8 f2; do
	run_ok "$RVF" create "$T/c_$f.rvf" -d 4 >/dev/null
	run_ok "$RVF" ingest "$T/c_$f.rvf" -i "$T/$f.npy" >/dev/null
	case $f in
	f8 | fortran8) expect_contains "$T/last.err" "note: $T/$f.npy: float64 .npy converted to float32" ;;
	f2) expect_contains "$T/last.err" "note: $T/$f.npy: float16 .npy converted to float32" ;;
	*) [ ! -s "$T/last.err" ] || fail "$f: unexpected note: $(cat "$T/last.err")" ;;
	esac
	run_ok "$RVF" export "$T/c_$f.rvf" --format jsonl >"$T/c_$f.jsonl"
	if [ $f = f2 ]; then
		assert_eq "$(sed -n 3p "$T/c_$f.jsonl")" '{"id":2,"vector":[-0.0,0.0,0.5,9.0]}' "float16 row 3"
		assert_eq "$(sed -n 1,2p "$T/c_$f.jsonl")" "$(sed -n 1,2p "$T/n.jsonl")" "float16 rows 1-2"
	else
		assert_eq "$(cat "$T/c_$f.jsonl")" "$(sed -n 1,3p "$T/n.jsonl")" "$f rows"
	fi
done
E=$(epoch "$T/n.rvf")
err_is 1 "row 2: component 2: -1e+39 is outside the float32 range (magnitude at most 3.4028235e+38)" \
	"$RVF" ingest "$T/n.rvf" -i "$T/over.npy"
err_is 1 "Invalid vector component '1e39': outside the float32 range" "$RVF" query "$T/n.rvf" --vector 1e39,0,0,0
printf '{"id":1,"vector":[1,2,3e38,4]}\n{"id":2,"vector":[1,2,-3.5e38,4]}\n' >"$T/over.jsonl"
err_is 1 "row 2 (line 2): \"vector\" component 2: -3.5e+38 is outside the float32 range" \
	"$RVF" ingest "$T/n.rvf" -i "$T/over.jsonl"
printf 'id,vector\n1,"[1,2,1e39,4]"\n' >"$T/over.csv"
err_is 1 "row 1 (line 2): column 'vector': component 2: value '1e39' is outside the float32 range" \
	"$RVF" ingest "$T/n.rvf" -i "$T/over.csv"
printf 'id,v0,v1,v2,v3\n1,1,2,4e38,4\n' >"$T/over2.csv"
err_is 1 "column 'v2': value '4e38' is outside the float32 range" "$RVF" ingest "$T/n.rvf" -i "$T/over2.csv"
err_is 1 "unsupported .npy dtype (float16, float32 or float64 expected" "$RVF" ingest "$T/n.rvf" -i "$T/i4.npy"
expect_contains "$T/last.err" "'<i4'"
err_is 1 "badids.ids.npy: 2 ids for 3 vectors" "$RVF" ingest "$T/n.rvf" -i "$T/badids.npy"
err_is 1 "must be 2-D" "$RVF" ingest "$T/n.rvf" -i "$T/oned.npy"
err_is 1 "must be 2-D" "$RVF" ingest "$T/n.rvf" -i "$T/threed.npy"
err_is 1 "the shape (3, 4) needs 48" "$RVF" ingest "$T/n.rvf" -i "$T/short.npy"
err_is 1 "the shape (1, 4) needs 16" "$RVF" ingest "$T/n.rvf" -i "$T/long.npy"
err_is 1 "format version 9" "$RVF" ingest "$T/n.rvf" -i "$T/v9.npy"
err_is 1 "truncated .npy header" "$RVF" ingest "$T/n.rvf" -i "$T/hdr.npy"
err_is 1 "not a .npy file" "$RVF" ingest "$T/n.rvf" -i "$T/notnpy.npy"
# Streamed from a pipe the truncation is found at the row; row 1 is kept.
expect_exit 1 sh -c "cat '$T/short.npy' | '$RVF' ingest '$T/n.rvf' -i - --format npy --id-offset 50"
expect_contains "$T/last.err" "row 2: truncated .npy data"
expect_contains "$T/last.err" "rows before row 2 were ingested"
assert_eq "$(count "$T/n.rvf")" "7" "pipe: row 1 committed"
E=$(epoch "$T/n.rvf")
# Wrong dimension: rejected rows (reference), or an error with --strict.
run_ok "$RVF" ingest "$T/n.rvf" -i "$T/dim3.npy" --json >"$T/n.json"
json_eq "$T/n.json" '[.accepted,.rejected]|join(",")' "0,1"
err_is 1 "row 1: vector has 3 components, the store's dimension is 4 (--strict); nothing was written" \
	"$RVF" ingest "$T/n.rvf" -i "$T/dim3.npy" --strict
assert_eq "$(epoch "$T/n.rvf")" "$E" "refused npy inputs wrote nothing"

# ---- bad rows: row numbers, nothing written for files ------------------------------
B=$T/bad.rvf
run_ok "$RVF" create "$B" -d 2 >/dev/null
E=$(epoch "$B")
bad() { # FORMAT CONTENT EXPECTED-MESSAGE
	printf '%b' "$2" >"$T/bad.$1"
	err_is 1 "$3" "$RVF" ingest "$B" -i "$T/bad.$1"
	expect_contains "$T/last.err" "nothing was written"
}
bad json '[{"id":1,"vector":[1,2]},\n {"id":-1,"vector":[1,2]}]' 'bad.json: row 2 (line 2): "id" must be a non-negative integer'
bad json '[{"id":1,"vector":[1,2]},\n {"id":2,"vector":[1,"a"]}]' 'row 2 (line 2): "vector" component 1 is not a number'
bad json '[{"id":1,"vector":[1,2]},{"id":2}]' 'row 2 (line 1): missing field "vector"'
bad json '[{"vector":[1,2]}]' 'row 1 (line 1): missing field "id"'
bad json '[{"id":1,"vector":[1,2]},7]' 'row 2 (line 1): expected an object'
bad json '{"id":1,"vector":[1,2]}' 'expected a JSON array'
bad json '[{"id":1,' 'row 1 (line 1): invalid JSON'
bad json '[{"id":1,"vector":[1,2]}' "the array is not closed"
bad json '[{"id":1,"vector":[1,2]}] x' "unexpected data after the closing ']'"
bad json '[{"id":1,"vector":[1,2]},\n\n{"id":2,"vector":[1,2],"metadata":{"7x":"x"}}]' \
	"row 2 (line 3): bad metadata: metadata: key '7x' is not a field id"
bad json '[{"id":1,"vector":[1,2],"metadata":{"fields":[{"id":0,"type":"u64","value":"x"}]}}]' \
	"Cannot parse 'x' as u64"
bad json '[{"id":99999999999999999999,"vector":[1,2]}]' "integers above 2^63-1 are supported only as \"id\", up to 2^64-1"
bad jsonl '{"id":1,"vector":[1,2]}\n\n{"id":2,"vector":[1,2]\n' 'bad.jsonl: row 2 (line 3): invalid JSON'
bad jsonl '{"id":1,"vector":[1,2]}\n[1,2]\n' 'row 2 (line 2): expected an object'
bad csv 'id,vector\n1,"1,2"\n2,"1,x"\n' 'bad.csv: row 2 (line 3): column '"'"'vector'"'"': component 1: bad float '"'"'x'"'"''
bad csv 'id,v0,v1\n1,1,2\nx,1,2\n' "row 2 (line 3): column 'id': 'x' is not an unsigned 64-bit integer"
bad csv 'id,v0,v1\n1,1,2\n\n2,1\n' "row 2 (line 4): has 2 columns, the header has 3"
bad csv 'id,v0,v1,m:0:u64\n1,1,2,-3\n' "row 1 (line 2): column 'm:0:u64': Cannot parse '-3' as u64"
bad csv 'id,v0,v1,m:0,metadata\n1,1,2,3,"{""0"":4}"\n' "field 0 is given twice"
bad csv 'id,v0,v1\n1,1,"2\n' "unterminated quoted field"
bad csv 'v0,v1\n1,2\n' "header: missing column 'id'"
bad csv 'id,v0,v2\n1,1,2\n' "vector columns must be v0..v1"
bad csv 'id,vector,v0\n1,1,2\n' "either a 'vector' column or v0..vN columns"
bad csv 'id,vector,color\n1,"1,2",red\n' "header: unknown column 'color'"
bad csv 'id,vector,m:1:colour\n1,"1,2",red\n' "unknown type 'colour'"
bad csv '' "empty input"
bad tsv 'id\tvector\n1\t1,2\n2\t[1,2\n' "row 2 (line 3): column 'vector': missing ']'"
assert_eq "$(epoch "$B")" "$E" "no bad input wrote anything"
assert_eq "$(count "$B")" "0" "no vectors after bad inputs"
err_is 1 "unable to open" "$RVF" ingest "$B" -i "$T/missing.json"

# CSV details: metadata column forms, quoting, inference, CRLF, blank lines.
printf 'id,vector,m:0,meta.1:string,m:2:f64,metadata\r\n1,"[1, 2]",7,"a,""b""",inf,"{""3"":true}"\r\n\r\n2,1;2,,,,\r\n' \
	| sed 's/1;2/"1,2"/' >"$T/ok.csv"
run_ok "$RVF" ingest "$B" -i "$T/ok.csv" --json >"$T/c.json"
json_eq "$T/c.json" .accepted 2
run_ok "$RVF" export "$B" --format jsonl >"$T/c.jsonl"
assert_eq "$(sed -n 1p "$T/c.jsonl")" '{"id":1,"vector":[1.0,2.0],"metadata":{"fields":[{"id":0,"type":"u64","value":7},{"id":1,"type":"string","value":"a,\"b\""},{"id":2,"type":"f64","value":"inf"},{"id":3,"type":"bool","value":true}]}}' "csv metadata row"
assert_eq "$(sed -n 2p "$T/c.jsonl")" '{"id":2,"vector":[1.0,2.0]}' "empty cells are no fields"
# Untyped columns infer u64 / i64 / f64 / bool / string.
printf 'id,v0,v1,m:0\n1,0,0,5\n2,0,0,-5\n3,0,0,2.5\n4,0,0,true\n5,0,0,abc\n6,0,0,""\n' >"$T/inf.csv"
run_ok "$RVF" create "$T/inf.rvf" -d 2 >/dev/null
run_ok "$RVF" ingest "$T/inf.rvf" -i "$T/inf.csv" >/dev/null
run_ok "$RVF" export "$T/inf.rvf" --format csv >"$T/inf.out"
assert_eq "$(head -1 "$T/inf.out")" "id,vector,m:0:u64,m:0:i64,m:0:f64,m:0:string,m:0:bool" "inferred columns"
expect_contains "$T/inf.out" '6,"[0,0]",,,,"",'
expect_contains "$T/inf.out" '4,"[0,0]",,,,,true'

# Wrong-dimension rows: rejected (reference) unless --strict.
printf '[{"id":1,"vector":[1,2]},{"id":2,"vector":[1,2,3]},{"id":3,"vector":[3,4]}]' >"$T/mixed.json"
run_ok "$RVF" create "$T/w.rvf" -d 2 >/dev/null
E=$(epoch "$T/w.rvf")
err_is 1 "row 2: vector has 3 components, the store's dimension is 2 (--strict); nothing was written" \
	"$RVF" ingest "$T/w.rvf" -i "$T/mixed.json" --strict
assert_eq "$(epoch "$T/w.rvf")" "$E" "--strict wrote nothing"
run_ok "$RVF" ingest "$T/w.rvf" -i "$T/mixed.json" --json >"$T/w.json"
json_eq "$T/w.json" '[.accepted,.rejected]|join(",")' "2,1"

# stdin: one pass, batches commit; a bad row commits the rows before it.
printf '{"id":1,"vector":[1,2]}\n{"id":2,"vector":[1,2]}\n{"id":3,"vector":[1,2]}\n{"id":4}\n{"id":5,"vector":[1,2]}\n' >"$T/partial.jsonl"
run_ok "$RVF" create "$T/p.rvf" -d 2 >/dev/null
expect_exit 1 sh -c "cat '$T/partial.jsonl' | '$RVF' ingest '$T/p.rvf' -i - --format jsonl -b 2"
expect_contains "$T/last.err" '-: row 4 (line 4): missing field "vector"; rows before row 4 were ingested (epoch'
assert_eq "$(count "$T/p.rvf")" "3" "rows 1-3 committed from stdin"
# ...while the same file given by name writes nothing.
run_ok "$RVF" create "$T/p2.rvf" -d 2 >/dev/null
err_is 1 "row 4 (line 4): missing field" "$RVF" ingest "$T/p2.rvf" -i "$T/partial.jsonl" -b 2
assert_eq "$(count "$T/p2.rvf")" "0" "file: nothing written"

# ---- ~200 MB JSON lines, streamed with bounded memory -------------------------------
if [ -x /usr/bin/time ] && [ -z "${RVF_IT_QUICK:-}" ]; then
	BIGN=$(python3 "$T/gen.py" big "$T/big.jsonl" 200000000)
	run_ok "$RVF" create "$T/big.rvf" -d 64 >/dev/null
	t0=$(date +%s)
	# --index off: this measures the input streaming; the HNSW graph the
	# auto policy would build at 20,000 vectors is memory of its own
	expect_exit 0 /usr/bin/time -v "$RVF" ingest "$T/big.rvf" -i "$T/big.jsonl" -b 5000 --index off --json
	t1=$(date +%s)
	json_eq "$T/last.out" .accepted "$BIGN"
	rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$T/last.err")
	size=$(stat -c %s "$T/big.jsonl")
	vec_kb=$((BIGN * 64 * 4 / 1024))
	log "big: $size bytes, $BIGN rows, $((t1 - t0)) s, max RSS ${rss_kb} kB (float32 data ${vec_kb} kB)"
	[ "$rss_kb" -lt $((vec_kb * 3)) ] || fail "max RSS ${rss_kb} kB is not below 3x the vector data (${vec_kb} kB)"
	ok
	[ "$rss_kb" -lt $((size / 1024 / 2)) ] || fail "max RSS ${rss_kb} kB suggests the input was loaded whole"
	ok
	assert_eq "$(count "$T/big.rvf")" "$BIGN" "big ingest count"
	rm -f "$T/big.jsonl"
fi


# ---- ids 2^63..2^64-1: exact through ingest, query --json, export, re-ingest ------
BIGS="18446744073709551615 18446744073709551614 9223372036854775808 9223372036854775807 0"
python3 - $BIGS >"$T/u64.json" <<'PY'
import json, sys
print(json.dumps([{"id": int(x), "vector": [float(i), 1.0], "metadata": {"0": i}}
                  for i, x in enumerate(sys.argv[1:])]))
PY
run_ok "$RVF" create "$T/u64.rvf" -d 2 >/dev/null
run_ok "$RVF" ingest "$T/u64.rvf" -i "$T/u64.json" --json >"$T/x.json"
json_eq "$T/x.json" .accepted 5
run_ok "$RVF" query "$T/u64.rvf" -v 0,1 -k 5 --json >"$T/q.json"
# jq reads numbers as doubles: compare the raw text
for id in $BIGS; do
	grep -q "\"id\": $id\$" "$T/q.json" || fail "query --json lost id $id: $(grep '"id"' "$T/q.json" | tr -d ' \n')"
	ok
done
! grep -qE '"id": [0-9.]+e\+?[0-9]+' "$T/q.json" || fail "an id printed as a float"
ok
for f in json jsonl csv; do
	run_ok "$RVF" export "$T/u64.rvf" --format $f >"$T/u64.$f"
	for id in $BIGS; do grep -q "$id" "$T/u64.$f" || fail "export $f lost id $id"; done
	ok
	run_ok "$RVF" create "$T/u64_$f.rvf" -d 2 >/dev/null
	run_ok "$RVF" ingest "$T/u64_$f.rvf" -i "$T/u64.$f" --json >"$T/x.json"
	json_eq "$T/x.json" .accepted 5
	run_ok "$RVF" export "$T/u64_$f.rvf" --format $f >"$T/u64b.$f"
	same "$T/u64.$f" "$T/u64b.$f" "ids >= 2^63 through $f"
done
run_ok "$RVF" delete "$T/u64_json.rvf" --ids 18446744073709551615,9223372036854775808 --json >"$T/x.json"
json_eq "$T/x.json" .deleted 2
# beyond 2^64-1, or a big integer that is not an id: refused, nothing written
echo '[{"id": 18446744073709551616, "vector": [1, 2]}]' >"$T/u65.json"
err_is 1 "row 1" "$RVF" ingest "$T/u64_json.rvf" -i "$T/u65.json"
echo '{"id": 5, "vector": [1, 2], "metadata": {"0": 9223372036854775808}}' >"$T/umeta.jsonl"
err_is 1 "too big integer" "$RVF" ingest "$T/u64_json.rvf" -i "$T/umeta.jsonl"
echo '{"id": "\u0001rvf-u64-0000000000000000:5", "vector": [1, 2]}' >"$T/ufake.jsonl"
err_is 1 "non-negative integer" "$RVF" ingest "$T/u64_json.rvf" -i "$T/ufake.jsonl"
assert_eq "$(count "$T/u64_json.rvf")" 3 "nothing written by refused files"

# F9: text input that never ends a line (/dev/zero, binary data) fails fast
# with the line number instead of growing a buffer forever; nothing written
run_ok "$RVF" create "$T/f9.rvf" -d 4 >/dev/null
cp "$T/f9.rvf" "$T/f9.before"
for f in jsonl csv tsv json; do
	err_is 1 "line 1: NUL byte at offset 0: $f input must be text" \
		timeout 10 "$RVF" ingest "$T/f9.rvf" -i /dev/zero --format $f
	err_is 1 "line 1: NUL byte" timeout 10 "$RVF" ingest "$T/f9.rvf" --format $f -i - </dev/zero
done
printf '{"id":1,"vector":[1,2,3,4]}\n{"id":2,\0"vector":[1,2,3,4]}\n' >"$T/nul.jsonl"
err_is 1 "line 2: NUL byte at offset 36" "$RVF" ingest "$T/f9.rvf" -i "$T/nul.jsonl"
head -c 70000000 /dev/zero | tr '\0' 'a' >"$T/long.csv"
err_is 1 "line 1: record longer than 64 MiB" timeout 20 "$RVF" ingest "$T/f9.rvf" -i "$T/long.csv"
same "$T/f9.rvf" "$T/f9.before" "store unchanged by refused binary input"

pass
