#!/usr/bin/env bash
# deps.sh — check for / install every Debian package rvf needs.
#
#   scripts/deps.sh --check        exit 0 iff every package below is installed
#   scripts/deps.sh --check-build  exit 0 iff the packages `make` / `make install`
#                                  need are installed; else name them (never installs)
#   scripts/deps.sh --install      apt-get update + install the missing ones,
#                                  and mount bpffs on /sys/fs/bpf if it is absent
#
# `make deps`, `make test`, `make demo` and `make bench` run
# `scripts/deps.sh --check || scripts/deps.sh --install`, so a clean machine
# (CI) provisions itself; plain `make` and `make install` only run
# --check-build. Why each package is needed: README.md.
set -euo pipefail

PACKAGES=(
	build-essential    # gcc, make, libc headers
	clang              # BPF objects (-target bpf), libFuzzer harnesses
	llvm               # llvm-objdump / llvm-strip for BPF objects
	libclang-rt-14-dev # libFuzzer + ASan/UBSan runtimes for clang-14
	libbpf-dev         # BPF loader library and bpf_helpers.h & co.
	bpftool            # vmlinux.h generation, skeletons, inspection
	libelf-dev         # libbpf's ELF dependency
	zlib1g-dev         # CRC-32 reference values in tests; libbpf
	libisal-dev        # CRC-32 content hash (ISA-L: ~8x zlib's speed)
	libsodium-dev      # Ed25519 signatures, BLAKE2b, SHA-256
	nettle-dev         # SHAKE-256 content hashes of other writers
	libcunit1-dev      # unit tests
	pkg-config
	libjansson-dev     # JSON input/output
	nodejs             # interop tests against @ruvector/rvf-node
	npm                # see is_present: nodesource's nodejs provides it
	libnode-dev        # node_api.h for the Node binding (make node); see is_present
	iproute2           # veth / netns for XDP integration tests
	ethtool            # XDP/veth statistics
	jq                 # JSON checks in shell tests
	python3            # data generation in demo/tests
	python3-numpy      # .npy fixtures; the Python binding (bindings/python)
	python3-dev        # Python binding: Python.h
	python3-setuptools # Python binding: build (setup.py / pip --no-build-isolation)
	python3-pytest     # Python binding: tests
	python3-pip        # Python binding: `pip install --no-build-isolation bindings/python`
	gnuplot-nox        # benchmark plots
	python3-hnswlib    # ANN baseline for benchmarks
	libmicrohttpd-dev  # rvf serve (HTTP/JSON server)
	qemu-system-x86    # rvf launch; kernel_launch.sh boots under TCG
	curl               # serve_http.sh
	wasi-libc          # rvf.wasm (bindings/wasm): C library for wasm32-wasi
	lld                # wasm-ld, the wasm32 linker
	libclang-rt-14-dev-wasm32 # compiler runtime for wasm32
	scdoc              # man pages rvf(1), rvfd(8) from docs/man/*.scd
	nftables           # deploy/nftables-lb.sh: the replicas' UDP load balancer
	conntrack          # deploy/nftables-lb.sh --down / backend removal: conntrack -D
	rsync              # replicas follow the primary (docs/SCALING.md)
)
# What `make` and `make install` need (a subset of the above).
BUILD_PACKAGES=(build-essential clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
	libisal-dev libsodium-dev libcunit1-dev pkg-config libjansson-dev
	libmicrohttpd-dev nettle-dev scdoc)
# (All of the above exist in Debian 12 "bookworm"; checked with apt-cache policy.)

is_present() {
	local st
	# The machine's nodejs (nodesource build) bundles npm and declares
	# "Provides: npm, Conflicts: npm", so Debian's npm package can never be
	# installed beside it: the npm command is what counts.
	if [ "$1" = npm ] && command -v npm >/dev/null 2>&1; then
		return 0
	fi
	# node_api.h: nodesource's nodejs ships it in /usr/include/node, Debian's
	# nodejs in libnode-dev; either will do.
	if [ "$1" = libnode-dev ] && [ -f /usr/include/node/node_api.h ]; then
		return 0
	fi
	st=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)
	[ "$st" = installed ]
}

missing_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		is_present "$p" || echo "$p"
	done
}

mount_bpffs() {
	if ! mountpoint -q /sys/fs/bpf 2>/dev/null; then
		mkdir -p /sys/fs/bpf
		mount -t bpf bpf /sys/fs/bpf ||
			echo "deps.sh: warning: could not mount bpffs on /sys/fs/bpf" >&2
	fi
}

case "${1:-}" in
--check-build)
	m=()
	for p in "${BUILD_PACKAGES[@]}"; do is_present "$p" || m+=("$p"); done
	if [ "${#m[@]}" -gt 0 ]; then
		echo "deps.sh: error: missing Debian package(s) needed to build: ${m[*]}" >&2
		echo "deps.sh: install them with 'make deps' (apt-get install ${m[*]})" >&2
		exit 1
	fi
	exit 0
	;;
--check)
	m=$(missing_packages | tr '\n' ' ')
	if [ -n "$m" ]; then
		echo "deps.sh: missing packages:" "$m" >&2
		exit 1
	fi
	exit 0
	;;
--install)
	mount_bpffs
	mapfile -t m < <(missing_packages)
	if [ "${#m[@]}" -eq 0 ]; then
		echo "deps.sh: all packages present"
		exit 0
	fi
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	echo "deps.sh: installing: ${m[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Wait for a concurrent apt/dpkg instead of failing on its lock.
	$SUDO apt-get -o DPkg::Lock::Timeout=600 update
	# npm last and alone: if nodejs was just installed with npm bundled, skip it.
	rest=()
	for p in "${m[@]}"; do [ "$p" = npm ] || rest+=("$p"); done
	if [ "${#rest[@]}" -gt 0 ]; then
		$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${rest[@]}"
	fi
	if ! is_present npm; then
		$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends npm
	fi
	m2=$(missing_packages | tr '\n' ' ')
	if [ -n "$m2" ]; then
		echo "deps.sh: still missing after install:" "$m2" >&2
		exit 1
	fi
	;;
*)
	echo "usage: $0 --check | --check-build | --install" >&2
	exit 2
	;;
esac
