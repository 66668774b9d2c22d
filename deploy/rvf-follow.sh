#!/usr/bin/env bash
# rvf-follow.sh SRC DST — bring a replica's store DST up to the primary's SRC
# (docs/SCALING.md, "Replicas"). SRC is anything rsync reads
# (primary:/srv/rvf/store.rvf, rsync://…, a local path); run it from a
# systemd timer or path unit on the replica, next to the rvfd serving DST.
#
#   1. rsync --append-verify SRC DST.sync   only the primary's new tail crosses
#      the network; the whole staging copy is checksummed against SRC, and
#      re-sent if the primary was rewritten (compaction);
#   2. DST.sync extends DST byte for byte (the usual case: the file is
#      append-only): the new tail is appended to DST. rvfd never sees a
#      state that is not "DST + part of the tail"; a part-written tail is a
#      torn tail, and rvf opens the last complete commit before it.
#      Otherwise (a compaction rewrote the primary): DST.sync is copied to
#      DST.tmp and renamed over DST, so rvfd sees the old or the new file.
# Exit 0 ok (prints "append N bytes", "replace" or "current"), 1 failure,
# 2 usage. Needs rsync and cmp.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SRC DST" >&2; exit 2; }
SRC=$1 DST=$2
STAGE=$DST.sync
command -v rsync >/dev/null || { echo "error: rsync not found" >&2; exit 1; }
rsync --append-verify "$SRC" "$STAGE" || { echo "error: rsync $SRC failed" >&2; exit 1; }
new=$(stat -c %s "$STAGE")
if [ -e "$DST" ]; then
	old=$(stat -c %s "$DST")
	if [ "$new" -eq "$old" ] && cmp -s "$DST" "$STAGE"; then
		echo current
		exit 0
	fi
	if [ "$new" -gt "$old" ] && cmp -s -n "$old" "$DST" "$STAGE"; then
		tail -c +"$((old + 1))" "$STAGE" >>"$DST" || { echo "error: appending to $DST failed" >&2; exit 1; }
		echo "append $((new - old)) bytes"
		exit 0
	fi
fi
cp --preserve=mode "$STAGE" "$DST.tmp" && sync "$DST.tmp" && mv -f "$DST.tmp" "$DST" ||
	{ rm -f "$DST.tmp"; echo "error: replacing $DST failed" >&2; exit 1; }
echo replace
