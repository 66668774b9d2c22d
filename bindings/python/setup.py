"""Build of the rvf Python binding: the C extension rvf._rvf over librvf.

Links the static library build/librvf.a of this source tree (compiled with
-fPIC; `make -C ../.. build/librvf.a` is run first unless RVF_NO_MAKE=1 or
RVF_LIBRVF_A names another archive) and the libraries it needs (pkg-config).
The archive's symbols stay hidden (--exclude-libs): the extension exports
only PyInit__rvf. Offline: needs only python3-dev, python3-numpy and
python3-setuptools (Debian packages).

    make python                                       # -> build/python/rvf
    /usr/bin/python3 -m pip install --no-build-isolation bindings/python
"""
import os
import shlex
import subprocess

import numpy
from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
# Libraries librvf.a calls into (see `nm -u build/librvf.a`).
PKGS = ["jansson", "libsodium", "libisal", "zlib", "nettle"]


def librvf_archive():
    archive = os.environ.get("RVF_LIBRVF_A")
    if archive:
        return os.path.abspath(archive)
    if os.environ.get("RVF_NO_MAKE") != "1" and os.path.exists(os.path.join(ROOT, "Makefile")):
        subprocess.check_call(["make", "-C", ROOT, "--no-print-directory", "build/librvf.a"])
    archive = os.path.join(ROOT, "build", "librvf.a")
    if not os.path.exists(archive):
        raise SystemExit(f"setup.py: {archive} not found (run `make build/librvf.a` in {ROOT})")
    return archive


def pkg_config_libs():
    try:
        out = subprocess.check_output(["pkg-config", "--libs"] + PKGS, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"setup.py: pkg-config --libs {' '.join(PKGS)} failed: {e}")
    return shlex.split(out)


ext = Extension(
    "rvf._rvf",
    sources=[os.path.join("src", f) for f in ("module.c", "store.c", "convert.c")],
    depends=[os.path.join("src", "rvfpy.h"), os.path.join(ROOT, "include", "rvf.h")],
    include_dirs=[os.path.join(ROOT, "include"), numpy.get_include()],
    extra_compile_args=["-std=c11", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
                        "-Wno-missing-field-initializers", "-Wno-cast-function-type"],
    extra_objects=[librvf_archive()],
    extra_link_args=["-Wl,--exclude-libs,ALL"] + pkg_config_libs() + ["-lm", "-lpthread"],
)

setup(
    name="rvf",
    version="0.1.0",
    description="Python binding of rvf: RVF vector files (numpy in, numpy out)",
    packages=["rvf"],
    ext_modules=[ext],
    python_requires=">=3.9",
    install_requires=["numpy"],
)
