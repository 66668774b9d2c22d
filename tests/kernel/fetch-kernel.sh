#!/usr/bin/env bash
# fetch-kernel.sh [CACHE_DIR] — makes sure a Debian x86-64 kernel image for the
# QEMU boot test is in CACHE_DIR (default build/kernel-cache) and prints its
# path. Downloads the package once with `apt-get download` (nothing is
# installed) and unpacks only /boot/vmlinuz-* with dpkg-deb. The package is
# the current dependency of linux-image-cloud-amd64 (in Debian 12:
# linux-image-6.1.0-NN-cloud-amd64, ~27 MB). Exit 1 if it cannot be obtained.
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${1:-build/kernel-cache}
mkdir -p "$cache"
have() { ls "$cache"/boot/vmlinuz-* 2>/dev/null | sort -V | tail -1; }
k=$(have || true)
if [ -n "$k" ]; then
	echo "$k"
	exit 0
fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
	{ echo "fetch-kernel: apt-get/dpkg-deb not available" >&2; exit 1; }
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -1)
if [ -z "$pkg" ]; then
	pkg=$(apt-cache search --names-only '^linux-image-[0-9.]+-[0-9]+-cloud-amd64$' 2>/dev/null |
		awk '{print $1}' | sort -V | tail -1)
fi
[ -n "$pkg" ] || { echo "fetch-kernel: no linux-image-*-cloud-amd64 package known to apt (apt-get update?)" >&2; exit 1; }
( cd "$cache" && rm -f ./*.deb && apt-get download "$pkg" ) >&2 2> >(grep -v 'unsandboxed' >&2) ||
	{ echo "fetch-kernel: apt-get download $pkg failed (no network to the Debian mirror?)" >&2; exit 1; }
deb=$(ls "$cache"/"$pkg"_*.deb | head -1)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$cache" --wildcards './boot/vmlinuz-*'
rm -f "$deb"
k=$(have || true)
[ -n "$k" ] || { echo "fetch-kernel: $deb holds no /boot/vmlinuz-*" >&2; exit 1; }
echo "$k"
