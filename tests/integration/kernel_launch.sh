#!/usr/bin/env bash
# kernel_launch.sh — embed-kernel / extract-kernel / launch end to end:
# builds a tiny initramfs (tests/kernel: static init printing a marker, then
# reboot(RB_POWER_OFF)), embeds a real Debian kernel + that initramfs into a
# store, checks the KERNEL_SEG layout (spec §12: big-endian api_port,
# command line after the image), extract-kernel round trip, then boots it
# with `rvf launch` under QEMU TCG and looks for the marker on the serial
# console. Also: --timeout and SIGTERM stop a VM that does not power off,
# the temp dir is removed, and the error cases (no kernel, QEMU missing).
#
# Needs (scripts/deps.sh): qemu-system-x86, gcc, python3, and the kernel
# image from tests/kernel/fetch-kernel.sh (build/kernel-cache, fetched once
# with apt-get download). Skips (77) only when QEMU is not installed or the
# kernel package cannot be downloaded. RVF_TEST_KERNEL=/path/bzImage uses
# another kernel. Runs in ~20-30 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib.sh

need_cmd python3 gcc od jq
[ -x "$RVF" ] || fail "$RVF not built"
command -v qemu-system-x86_64 >/dev/null 2>&1 ||
	skip "!!! qemu-system-x86_64 is not installed (package qemu-system-x86, see scripts/deps.sh) — the VM boot was NOT tested"
KERNEL=${RVF_TEST_KERNEL:-}
if [ -z "$KERNEL" ]; then
	KERNEL=$(tests/kernel/fetch-kernel.sh 2>"$T/fetch.err") ||
		skip "!!! no kernel image: tests/kernel/fetch-kernel.sh failed ($(tail -1 "$T/fetch.err")) — the VM boot was NOT tested"
fi
[ -s "$KERNEL" ] || fail "kernel image $KERNEL missing or empty"
log "kernel: $KERNEL"

# ---- initramfs -----------------------------------------------------------
tests/kernel/build.sh "$T/ird" >"$T/ird.log" 2>&1 || { cat "$T/ird.log" >&2; fail "initramfs build failed"; }
IRD=$T/ird/initramfs.cpio
[ "$(head -c 6 "$IRD")" = 070701 ] || fail "initramfs is not a newc archive"
ok

# ---- errors before anything is embedded ----------------------------------
F=$T/k.rvf
expect_exit 0 "$RVF" create "$F" -d 4
expect_exit 1 "$RVF" launch "$F" --timeout 5
expect_contains "$T/last.err" "has no embedded kernel"
expect_exit 1 "$RVF" extract-kernel "$F" -o "$T/x0"
expect_contains "$T/last.err" "has no embedded kernel"
expect_exit 2 "$RVF" extract-kernel "$F"
expect_exit 1 "$RVF" embed-kernel "$F"
expect_contains "$T/last.err" "No kernel image path provided"
expect_exit 1 "$RVF" embed-kernel "$F" --image-path "$T/nope"
expect_contains "$T/last.err" "Failed to read kernel image"
expect_exit 1 "$RVF" embed-kernel "$F" --image-path "$KERNEL" --arch sparc
expect_contains "$T/last.err" "Unknown architecture: sparc"
expect_exit 2 "$RVF" embed-kernel "$F" --image-path "$KERNEL" --api-port 70000

# ---- embed ------------------------------------------------------------------
MARK="RVF-BOOT-MARKER"
run_ok "$RVF" embed-kernel "$F" --image-path "$KERNEL" --initramfs "$IRD" \
	--cmdline "quiet loglevel=3" --api-port 8080 --json >"$T/embed.json"
json_eq "$T/embed.json" .status embedded
json_eq "$T/embed.json" .arch x86_64
json_eq "$T/embed.json" .arch_code 0
json_eq "$T/embed.json" .image_size "$(stat -c %s "$KERNEL")"
json_eq "$T/embed.json" .initramfs_size "$(stat -c %s "$IRD")"
json_eq "$T/embed.json" .api_port 8080

# KERNEL_SEG layout (docs/SECURITY.md §3): first Kernel segment = header(128)
# + KernelBinding(128, ours: mark RVFC-B2B, version 2 = initramfs bound,
# BLAKE2b-256 of the image at 0x60) + cmdline + image, cmdline_offset 256,
# api_port big-endian; the second Kernel segment carries the initramfs
# (header + image + marker cmdline).
python3 - "$F" "$KERNEL" "$IRD" <<'PY' || fail "KERNEL_SEG layout check failed"
import hashlib, struct, sys
data = open(sys.argv[1], "rb").read()
img = open(sys.argv[2], "rb").read()
ird = open(sys.argv[3], "rb").read()
segs, off = [], 0
while off + 64 <= len(data):          # segments are back to back (spec §1)
    assert data[off:off + 4] == b"SFVR", f"no segment header at {off}"
    plen = struct.unpack_from("<Q", data, off + 16)[0]
    if data[off + 5] == 0x0E:
        segs.append(data[off + 64:off + 64 + plen])
    off += 64 + plen
assert len(segs) == 2, f"{len(segs)} kernel segments"
k, r = segs
assert k[:4] == b"NKVR", k[:4]
assert k[6] == 0 and k[7] == 1, (k[6], k[7])
isz = struct.unpack_from("<Q", k, 0x18)[0]
assert isz == len(img)
assert k[0x2A:0x2C] == b"\x1f\x90", k[0x2A:0x2C].hex()          # 8080 big-endian
assert struct.unpack_from("<Q", k, 0x70)[0] == 256
clen = struct.unpack_from("<I", k, 0x78)[0]
b = k[128:256]
assert b[0x50:0x58] == b"RVFC-B2B", b[0x50:0x58]
assert struct.unpack_from("<H", b, 0x40)[0] == 2, "binding_version"
assert b[0x60:0x80] == hashlib.blake2b(img, digest_size=32).digest(), "image digest"
assert k[256:256 + clen] == b"quiet loglevel=3"
assert k[256 + clen:256 + clen + isz] == img
assert len(k) == 256 + isz + clen
rsz = struct.unpack_from("<Q", r, 0x18)[0]
rclen = struct.unpack_from("<I", r, 0x78)[0]
assert r[7] == 4 and r[128:128 + rsz] == ird, "initramfs payload"
assert r[128 + rsz:128 + rsz + rclen] == b"rvf.role=initramfs"
PY
ok

run_ok "$RVF" verify-attestation --json "$F" >"$T/att.json"
json_eq "$T/att.json" .status valid
json_eq "$T/att.json" '.kernel_segments[0].binding_status' verified
json_eq "$T/att.json" '.kernel_segments[1].is_initramfs' true

# ---- extract ----------------------------------------------------------------
run_ok "$RVF" extract-kernel "$F" -o "$T/x" --json >"$T/ext.json"
cmp -s "$T/x/vmlinuz" "$KERNEL" || fail "extracted vmlinuz differs"
ok
cmp -s "$T/x/initramfs.img" "$IRD" || fail "extracted initramfs differs"
ok
assert_eq "$(cat "$T/x/cmdline")" "quiet loglevel=3" "extracted cmdline"
json_eq "$T/ext.json" .api_port 8080
json_eq "$T/ext.json" .initramfs_size "$(stat -c %s "$IRD")"

# A second embed appends but the first kernel stays in use (reference rule).
cp "$F" "$T/k2.rvf"
run_ok "$RVF" embed-kernel "$T/k2.rvf" --image-path "$IRD" >/dev/null
expect_contains "$T/last.err" "already holds a kernel"
run_ok "$RVF" extract-kernel "$T/k2.rvf" -o "$T/x2" >/dev/null
cmp -s "$T/x2/vmlinuz" "$KERNEL" || fail "second embed replaced the first kernel"
ok

# ---- launch errors ---------------------------------------------------------
expect_exit 1 "$RVF" launch "$F" --qemu-binary "$T/no-such-qemu" --timeout 5
expect_contains "$T/last.err" "QEMU not found"
expect_exit 1 "$RVF" launch "$F" --qemu-binary qemu-system-no-such-arch --timeout 5
expect_contains "$T/last.err" "QEMU not found"
expect_exit 2 "$RVF" launch "$F" --memory-mb lots
# nothing boots before it verifies (the QEMU binary is never looked up):
# a binding that fails -> refused; fold32 only (the reference's legacy
# layout) -> refused unless --allow-unverified
cp "$F" "$T/bad.rvf"
mo=$(jq -r '.kernel_segments[0].bound_manifest_offset' "$T/att.json")
python3 -c 'import sys;f=open(sys.argv[1],"r+b");o=int(sys.argv[2]);f.seek(o);b=f.read(1)[0];f.seek(o);f.write(bytes([b^1]))' \
	"$T/bad.rvf" $((mo + 64 + 3))
expect_exit 1 "$RVF" launch "$T/bad.rvf" --qemu-binary "$T/no-such-qemu" --timeout 5
expect_contains "$T/last.err" "refusing to boot"
expect_contains "$T/last.err" "manifest_root_hash differs"
LEG=$RVF_SHARED/spec/fixtures/ref/f_kernel.rvf
expect_exit 1 "$RVF" launch "$LEG" --qemu-binary "$T/no-such-qemu" --timeout 5
expect_contains "$T/last.err" "--allow-unverified"
expect_exit 1 "$RVF" launch "$LEG" --allow-unverified --qemu-binary "$T/no-such-qemu" --timeout 5
expect_contains "$T/last.err" "QEMU not found"

# Free TCP port for the API forward.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- boot: the guest prints the marker and powers off -------------------------
mkdir -p "$T/tmp"
t0=$SECONDS
TMPDIR=$T/tmp timeout -k 5 90 "$RVF" launch "$F" --timeout 60 --port "$(port)" \
	>"$T/console.log" 2>"$T/launch.err" || {
	rc=$?
	cat "$T/launch.err" >&2
	tail -c 3000 "$T/console.log" >&2
	fail "rvf launch exited $rc"
}
dt=$((SECONDS - t0))
grep -q "^$MARK kernel=" "$T/console.log" || {
	tail -c 3000 "$T/console.log" >&2
	fail "marker $MARK not on the serial console"
}
ok
expect_contains "$T/console.log" "console=ttyS0"
expect_contains "$T/console.log" "rvf.api_port=8080"
expect_contains "$T/launch.err" "guest powered off"
[ "$dt" -lt 60 ] || fail "the guest did not power off by itself (${dt}s)"
ok
[ -z "$(ls -A "$T/tmp")" ] || fail "launch left files in TMPDIR: $(ls -A "$T/tmp")"
ok
log "boot to power-off: ${dt}s"
BOOT_S=$dt

# ---- --serial-log, --timeout on a guest that never powers off ----------------
t0=$SECONDS
rc=0
TMPDIR=$T/tmp timeout -k 5 60 "$RVF" launch "$F" --timeout 12 --port 0 --append rvf.hang \
	--serial-log "$T/serial.log" >"$T/hang.out" 2>"$T/hang.err" || rc=$?
dt=$((SECONDS - t0))
assert_eq "$rc" 1 "launch exit status at --timeout (the guest never powered off)"
expect_contains "$T/serial.log" "$MARK kernel="
expect_contains "$T/serial.log" "hanging as asked"
expect_contains "$T/hang.err" "--timeout of 12 s reached"
[ ! -s "$T/hang.out" ] || fail "--serial-log still wrote the console to stdout"
ok
[ "$dt" -ge 12 ] && [ "$dt" -lt 30 ] || fail "--timeout 12 took ${dt}s"
ok
[ -z "$(ls -A "$T/tmp")" ] || fail "launch left files in TMPDIR after --timeout"
ok

# ---- a guest kernel panic is a failure ------------------------------------------
rc=0
TMPDIR=$T/tmp timeout -k 5 90 "$RVF" launch "$F" --timeout 60 --port 0 --append rvf.panic \
	>"$T/panic.out" 2>"$T/panic.err" || rc=$?
assert_eq "$rc" 1 "launch exit status after a guest kernel panic"
expect_contains "$T/panic.out" "Kernel panic - not syncing"
expect_contains "$T/panic.err" "the guest kernel panicked"
[ -z "$(ls -A "$T/tmp")" ] || fail "launch left files in TMPDIR after a panic"
ok

# ---- SIGTERM stops QEMU and cleans up --------------------------------------
TMPDIR=$T/tmp "$RVF" launch "$F" --port 0 --append rvf.hang >"$T/term.out" 2>"$T/term.err" &
LPID=$!
on_exit "kill -KILL $LPID 2>/dev/null"
for _ in $(seq 1 150); do
	grep -q "hanging as asked" "$T/term.out" 2>/dev/null && break
	sleep 0.2
done
grep -q "hanging as asked" "$T/term.out" || fail "guest did not come up for the SIGTERM test"
QPID=$(sed -n 's/^MicroVM started (PID \([0-9]*\)).*/\1/p' "$T/term.err")
[ -n "$QPID" ] && kill -0 "$QPID" || fail "no QEMU pid reported"
kill -TERM "$LPID"
rc=0
wait "$LPID" || rc=$?
assert_eq "$rc" 0 "launch exit status after SIGTERM"
expect_contains "$T/term.err" "VM stopped."
for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$QPID" 2>/dev/null || break; sleep 0.2; done
! kill -0 "$QPID" 2>/dev/null || fail "QEMU ($QPID) still running after SIGTERM to launch"
ok
[ -z "$(ls -A "$T/tmp")" ] || fail "launch left files in TMPDIR after SIGTERM"
ok

pass "booted $(basename "$KERNEL") under TCG to power-off in ${BOOT_S}s"
