#!/usr/bin/env bash
# build.sh OUTDIR — builds the test initramfs: OUTDIR/init (static) and
# OUTDIR/initramfs.cpio (newc, written by mkinitramfs.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
gcc -static -Os -s -Wall -Wextra -Werror -o "$out/init" "$here/init.c"
python3 "$here/mkinitramfs.py" "$out/initramfs.cpio" "$out/init"
