"""The Python examples of README.md and bindings/python/README.md run."""
import os
import re
import subprocess
import sys

import pytest

from conftest import BUILD_PY, ROOT

READMES = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "bindings", "python", "README.md")]


def examples():
    out = []
    for path in READMES:
        with open(path) as f:
            text = f.read()
        for i, block in enumerate(re.findall(r"```python\n(.*?)```", text, re.S)):
            out.append(pytest.param(block, id=f"{os.path.relpath(path, ROOT)}#{i}"))
    return out


def test_both_readmes_have_an_example():
    ids = {p.id.split("#")[0] for p in examples()}
    assert ids == {"README.md", "bindings/python/README.md"}


@pytest.mark.parametrize("code", examples())
def test_readme_example_runs(code, tmp_path):
    env = dict(os.environ)
    if os.environ.get("RVF_PY_INSTALLED") != "1":
        env["PYTHONPATH"] = BUILD_PY + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip(), "the example prints its results"
