#!/usr/bin/env bash
# install_pc.sh — `make install` as a packager runs it, and an outside
# program built against the result with nothing but pkg-config:
#  - make install DESTDIR=stage PREFIX=/usr puts the libraries (shared with a
#    SONAME + links, and static), headers, rvf.pc / rvfclient.pc, rvf, rvfd,
#    the BPF objects, man pages and the systemd unit in their places;
#  - a C program compiled with only `pkg-config --cflags --libs rvf` is
#    dynamically linked (NEEDED librvf.so.MAJOR), creates a store, ingests,
#    queries and gets the right neighbours; the same with --static against
#    the installed archive; one against rvfclient links too;
#  - librvf.so / librvfclient.so export exactly the functions their public
#    header declares (nm -D), the installed archives define no global symbol
#    outside rvf_*;
#  - the installed rvf finds the installed BPF objects (PREFIX/lib/rvf/bpf);
#  - the man pages render and document every command and flag `--help` lists;
#  - the unit passes systemd-analyze verify;
#  - make uninstall leaves no file behind;
#  - with a build package missing, `make install` stops naming it and never
#    calls apt-get.
# Exit 0 pass, 77 skip, 1 fail.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh
need_cmd make pkg-config cc nm readelf scdoc man
need_file build/rvf build/rvfd build/librvf.so build/dist/librvf.a

ST=$T/stage
MK=(make --no-print-directory -s DESTDIR="$ST" PREFIX=/usr)
expect_exit 0 "${MK[@]}" install
[ -z "$(ls -A "$ST/usr/local" 2>/dev/null)" ] || fail "files under /usr/local with PREFIX=/usr"
ok

major=$(sed -n 's/^RVF_VERSION *:= *\([0-9]*\)\..*/\1/p' mk/shared.mk)
[ -n "$major" ] || fail "no RVF_VERSION in mk/shared.mk"
for f in usr/bin/rvf usr/sbin/rvfd usr/include/rvf.h usr/include/rvfclient.h \
	usr/include/rvf_wire.h usr/lib/librvf.a usr/lib/librvfclient.a \
	usr/lib/pkgconfig/rvf.pc usr/lib/pkgconfig/rvfclient.pc \
	usr/share/man/man1/rvf.1 usr/share/man/man8/rvfd.8 \
	usr/lib/systemd/system/rvfd@.service usr/share/doc/rvf/rvfd.conf.example \
	usr/lib/rvf/bpf/rvf_tc.bpf.o usr/lib/rvf/bpf/rvf_xdp_d128.bpf.o; do
	[ -f "$ST/$f" ] || fail "make install did not install /$f"
	ok
done
for l in rvf rvfclient; do
	[ -L "$ST/usr/lib/lib$l.so" ] && [ -L "$ST/usr/lib/lib$l.so.$major" ] ||
		fail "lib$l.so / lib$l.so.$major are not symbolic links"
	real=$(readlink -f "$ST/usr/lib/lib$l.so")
	case $(basename "$real") in lib$l.so.$major.*) ;; *) fail "lib$l.so -> $real" ;; esac
	soname=$(readelf -d "$real" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
	assert_eq "$soname" "lib$l.so.$major" "SONAME of lib$l"
done
grep -q '^prefix=/usr$' "$ST/usr/lib/pkgconfig/rvf.pc" || fail "rvf.pc prefix is not /usr"
ok

# ---- exported symbols: exactly the public header's functions -------------
# declared NAME HEADER: function names the header declares (comments and
# macros removed by the preprocessor).
declared() {
	cc -E -P -x c -I"$ST/usr/include" "$1" | grep -oE '\brvf_[A-Za-z0-9_]+[[:space:]]*\(' |
		tr -d ' \t(' | sort -u
}
for l in rvf rvfclient; do
	declared "$ST/usr/include/$l.h" > "$T/$l.declared"
	# Defined dynamic symbols; version nodes (type A, e.g. RVF_0) are not symbols.
	nm -D --defined-only "$ST/usr/lib/lib$l.so" | awk '$2 != "A" {print $3}' |
		sed 's/@.*//' | sort -u > "$T/$l.exported"
	if ! diff -u "$T/$l.declared" "$T/$l.exported" > "$T/$l.diff"; then
		cat "$T/$l.diff" >&2
		fail "lib$l.so exports differ from the functions $l.h declares (- declared, + exported)"
	fi
	ok
	n=$(wc -l < "$T/$l.exported")
	[ "$n" -ge 10 ] || fail "lib$l.so exports only $n symbols"
	# The static archive: every global definition is an rvf_* function.
	bad=$(nm -g --defined-only "$ST/usr/lib/lib$l.a" | awk 'NF == 3 {print $3}' | grep -v '^rvf_' || true)
	[ -z "$bad" ] || fail "lib$l.a defines non-rvf_ globals: $(echo "$bad" | head -5 | tr '\n' ' ')"
	ok
	log "lib$l.so exports $n functions, all declared in $l.h"
done

# ---- an outside program, built with pkg-config only ------------------------
export PKG_CONFIG_SYSROOT_DIR=$ST PKG_CONFIG_PATH=$ST/usr/lib/pkgconfig
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
cat > "$T/hello.c" <<'EOF'
#include <rvf.h>
#include <stdio.h>
#include <string.h>

#define DIM 8
#define N 100

static int die(const char *what, int rc)
{
	fprintf(stderr, "%s: %s: %s\n", what, rvf_strerror(rc), rvf_last_error());
	return 1;
}

int main(int argc, char **argv)
{
	static float v[N * DIM];
	uint64_t ids[N];
	rvf_create_opts co = { .dimension = DIM, .metric = RVF_METRIC_L2 };
	rvf_ingest_result ir;
	rvf_hit hits[3];
	size_t nh = 0;
	rvf_store *s;
	int rc;

	if (argc != 2)
		return 2;
	for (int i = 0; i < N; i++) {
		ids[i] = 1000 + (uint64_t)i;
		for (int d = 0; d < DIM; d++)
			v[i * DIM + d] = (float)(i * 10 + d);
	}
	if ((rc = rvf_create(argv[1], &co, &s)))
		return die("create", rc);
	if ((rc = rvf_ingest(s, ids, v, N, &ir)))
		return die("ingest", rc);
	rvf_close(s);
	if ((rc = rvf_open(argv[1], RVF_OPEN_READONLY, &s)))
		return die("open", rc);
	/* Closest to row 42 plus 1 in every component: 42, then 41 / 43. */
	float q[DIM];
	for (int d = 0; d < DIM; d++)
		q[d] = v[42 * DIM + d] + 1.0f;
	if ((rc = rvf_query(s, q, DIM, 3, hits, &nh)))
		return die("query", rc);
	printf("accepted=%llu live=%llu", (unsigned long long)ir.accepted,
	       (unsigned long long)rvf_live_count(s));
	for (size_t i = 0; i < nh; i++)
		printf(" %llu:%g", (unsigned long long)hits[i].id, hits[i].distance);
	printf("\n");
	rvf_close(s);
	return 0;
}
EOF
read -r -a flags <<< "$(pkg-config --cflags --libs rvf)" || fail "pkg-config --cflags --libs rvf failed"
log "pkg-config --cflags --libs rvf: ${flags[*]}"
expect_exit 0 cc -std=c11 -Wall -Werror -o "$T/hello" "$T/hello.c" "${flags[@]}"
readelf -d "$T/hello" | grep -q "NEEDED.*\[librvf.so.$major\]" ||
	fail "hello does not NEED librvf.so.$major: $(readelf -d "$T/hello" | grep NEEDED)"
ok
out=$(LD_LIBRARY_PATH=$ST/usr/lib run_ok "$T/hello" "$T/a.rvf")
# Row 42 + 1 per component: distance 8 (= DIM * 1^2); rows 41 / 43 are
# 9^2 + ... per component: 41 -> (10+1)^2*8 = 968, 43 -> (10-1)^2*8 = 648.
assert_eq "$out" "accepted=100 live=100 1042:8 1043:648 1041:968" "query answer via librvf.so"
# The program really loaded the installed library (not some other copy).
# (ldd's output captured first: `ldd | grep -q` under pipefail fails when
# grep exits early and ldd gets SIGPIPE)
deps=$(LD_LIBRARY_PATH=$ST/usr/lib ldd "$T/hello")
grep -q "librvf.so.$major => $ST/usr/lib/" <<<"$deps" ||
	fail "hello does not resolve librvf.so.$major from the stage: $deps"
ok
# The store it wrote is a normal rvf file for the installed CLI.
st=$(run_ok "$ST/usr/bin/rvf" status "$T/a.rvf" --json)
assert_eq "$(jq -r .total_vectors <<< "$st")" 100 "rvf status of the program's store"

# Static, against the installed archive (no internal symbol to clash with).
read -r -a sflags <<< "$(pkg-config --static --cflags --libs rvf)"
expect_exit 0 cc -std=c11 -o "$T/hello_static" "$T/hello.c" "${sflags[@]/#-lrvf/-l:librvf.a}"
readelf -d "$T/hello_static" | grep -q 'librvf\.so' && fail "hello_static needs librvf.so"
out=$(run_ok "$T/hello_static" "$T/b.rvf")
assert_eq "$out" "accepted=100 live=100 1042:8 1043:648 1041:968" "query answer via librvf.a"

# rvfclient: header compiles on its own and links dynamically.
cat > "$T/client.c" <<'EOF'
#include <rvfclient.h>
#include <stdio.h>
int main(void)
{
	char buf[2048];
	float q[4] = { 1, 2, 3, 4 };
	long n = (long)rvf_client_build(buf, sizeof buf, 7, q, 4, 0, 10, 0);
	printf("%ld %s\n", n, rvf_client_path_str(0));
	return n > 0 ? 0 : 1;
}
EOF
read -r -a cflags <<< "$(pkg-config --cflags --libs rvfclient)"
expect_exit 0 cc -std=c11 -Wall -Werror -o "$T/client" "$T/client.c" "${cflags[@]}"
readelf -d "$T/client" | grep -q "NEEDED.*\[librvfclient.so.$major\]" || fail "client does not NEED librvfclient.so.$major"
ok
LD_LIBRARY_PATH=$ST/usr/lib expect_exit 0 "$T/client"

# ---- the installed binaries find the installed BPF objects -----------------
run_ok "$ST/usr/bin/rvf" create "$T/e.rvf" -d 128 > /dev/null
emb=$(env -u RVF_BPF_DIR "$ST/usr/bin/rvf" embed-ebpf "$T/e.rvf" --json) ||
	fail "installed rvf embed-ebpf (objects from PREFIX/lib/rvf/bpf) failed"
assert_eq "$(jq '.embedded | length' <<< "$emb")" 2 "objects embedded from the installed BPF dir"
xsz=$(stat -c %s "$ST/usr/lib/rvf/bpf/rvf_xdp_d128.bpf.o")
assert_eq "$(jq '[.embedded[].program_size] | max' <<< "$emb")" "$xsz" "embedded XDP object size"

# ---- man pages ----------------------------------------------------------------
for m in usr/share/man/man1/rvf.1 usr/share/man/man8/rvfd.8; do
	MANWIDTH=100 man -l "$ST/$m" > "$T/man.txt" 2> "$T/man.err" || fail "man -l $m failed"
	[ ! -s "$T/man.err" ] || fail "man -l $m warns: $(head -c 500 "$T/man.err")"
	grep -q '^NAME' "$T/man.txt" && grep -q '^SYNOPSIS' "$T/man.txt" || fail "$m renders without NAME/SYNOPSIS"
	[ "$(wc -l < "$T/man.txt")" -gt 50 ] || fail "$m renders to $(wc -l < "$T/man.txt") lines"
	ok
done
# Every command and every flag --help lists is documented in the source.
# opt_flags CMD...: the long options of the option lines of CMD's output.
opt_flags() {
	"$@" | grep -oE -- '^ +(-[A-Za-z], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+' | sort -u
}
cmds=$("$ST/usr/bin/rvf" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF {print $1}' | grep -vx help)
[ "$(wc -w <<< "$cmds")" -ge 25 ] || fail "could not read the command list of rvf --help"
for c in $cmds; do
	grep -q "^\*$c\* " docs/man/rvf.1.scd || fail "rvf(1) does not document the command '$c'"
	for f in $(opt_flags "$ST/usr/bin/rvf" "$c" --help); do
		[ "$f" = --help ] && continue
		grep -qE -- "(\*|, )$f\*" docs/man/rvf.1.scd || fail "rvf(1) does not document '$c $f'"
	done
	ok
done
for f in $(opt_flags "$ST/usr/sbin/rvfd" --help); do
	grep -qE -- "(\*|, )$f\*" docs/man/rvfd.8.scd || fail "rvfd(8) does not document '$f'"
	ok
done

# ---- systemd unit ---------------------------------------------------------------
unit=$ST/usr/lib/systemd/system/rvfd@.service
grep -q '^ExecStart=/usr/sbin/rvfd --iface %i ' "$unit" || fail "unit ExecStart: $(grep ExecStart "$unit")"
grep -q '^EnvironmentFile=/etc/rvfd/%i.conf$' "$unit" || fail "unit EnvironmentFile for PREFIX=/usr"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr ' ' '\n' | sort | tr '\n' ' ')
assert_eq "$caps" "CAP_BPF CAP_KILL CAP_NET_ADMIN CAP_PERFMON CAP_SETGID CAP_SETPCAP CAP_SETUID " "unit bounding set"
grep -q '^NoNewPrivileges=yes$' "$unit" && grep -q '^ProtectSystem=strict$' "$unit" || fail "unit sandbox"
ok
if command -v systemd-analyze > /dev/null; then
	mkdir -p "$T/unit"
	# verify checks that ExecStart exists: point it at the staged binary.
	sed "s|=/usr/sbin/rvfd|=$ST/usr/sbin/rvfd|" "$unit" > "$T/unit/rvfd@.service"
	systemd-analyze verify --man=no "$T/unit/rvfd@.service" > "$T/sa.out" 2>&1 ||
		fail "systemd-analyze verify: $(cat "$T/sa.out")"
	[ ! -s "$T/sa.out" ] || fail "systemd-analyze verify warns: $(cat "$T/sa.out")"
	ok
else
	log "no systemd-analyze: structural checks only"
	for k in '^\[Unit\]$' '^\[Service\]$' '^\[Install\]$' '^WantedBy='; do
		grep -q "$k" "$unit" || fail "unit lacks $k"
	done
	ok
fi

# ---- uninstall removes everything install wrote --------------------------------
expect_exit 0 "${MK[@]}" uninstall
left=$(find "$ST" \( -type f -o -type l \) | sed "s|^$ST||")
[ -z "$left" ] || fail "make uninstall left: $(echo "$left" | head -10 | tr '\n' ' ')"
ok

# ---- a missing build package stops make, never apt-get -------------------------
mkdir -p "$T/fakebin"
cat > "$T/fakebin/dpkg-query" <<'EOF'
#!/bin/sh
# Every package is installed except scdoc.
for a in "$@"; do last=$a; done
[ "$last" = scdoc ] && exit 1
printf installed
EOF
for c in apt-get sudo; do
	printf '#!/bin/sh\ntouch "%s/%s.ran"\nexit 1\n' "$T" "$c" > "$T/fakebin/$c"
done
chmod +x "$T/fakebin"/*
rc=0
PATH=$T/fakebin:$PATH make --no-print-directory -s DESTDIR="$T/never" PREFIX=/usr install \
	> "$T/mk.out" 2> "$T/mk.err" || rc=$?
[ "$rc" -ne 0 ] || fail "make install succeeded with scdoc missing"
expect_contains "$T/mk.err" "missing Debian package(s) needed to build: scdoc"
[ ! -e "$T/apt-get.ran" ] && [ ! -e "$T/sudo.ran" ] || fail "make install ran apt-get/sudo"
[ ! -e "$T/never" ] || fail "make install wrote files although a package is missing"
ok

pass "librvf.so exports $(wc -l < "$T/rvf.exported") functions"
