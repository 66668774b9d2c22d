#!/usr/bin/env python3
"""mkinitramfs.py — write a newc ("070701") cpio archive for a Linux initramfs.

    mkinitramfs.py OUT.cpio INIT_BINARY

The archive holds /dev, /dev/console (char 5:1, so PID 1 gets a console
before any mount), /proc and /init (INIT_BINARY, mode 0755). No compression:
the kernel accepts a plain newc archive. cpio(1) is not needed (and not
installed on the build machine).
"""
import os
import stat
import sys


def _entry(name, mode, data=b"", ino=1, rdev=(0, 0), nlink=1):
    name_b = name.encode() + b"\0"
    fields = [
        ino, mode, 0, 0, nlink, 0, len(data),  # ino mode uid gid nlink mtime size
        0, 0, rdev[0], rdev[1],                 # devmajor devminor rdevmajor rdevminor
        len(name_b), 0,                         # namesize check
    ]
    hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
    out = hdr + name_b
    out += b"\0" * (-len(out) % 4)
    out += data
    out += b"\0" * (-len(out) % 4)
    return out


def build(init_path):
    with open(init_path, "rb") as f:
        init = f.read()
    parts = [
        _entry("dev", stat.S_IFDIR | 0o755, ino=1, nlink=2),
        _entry("dev/console", stat.S_IFCHR | 0o600, ino=2, rdev=(5, 1)),
        _entry("proc", stat.S_IFDIR | 0o555, ino=3, nlink=2),
        _entry("init", stat.S_IFREG | 0o755, init, ino=4),
        _entry("TRAILER!!!", 0, ino=0, nlink=1),
    ]
    blob = b"".join(parts)
    blob += b"\0" * (-len(blob) % 512)
    return blob


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    blob = build(argv[2])
    tmp = argv[1] + ".tmp"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
