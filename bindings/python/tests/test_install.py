"""`pip install --no-build-isolation bindings/python` works offline (into a
scratch virtual environment that sees Debian's numpy), and the installed
module runs the README example."""
import os
import re
import subprocess
import sys

from conftest import ROOT


def test_pip_install_no_build_isolation(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    py = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "RVF_NO_MAKE")}
    env["PIP_NO_INDEX"] = "1"  # offline: nothing may come from a package index
    r = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", "--no-cache-dir",
                        os.path.join(ROOT, "bindings", "python")],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    with open(os.path.join(ROOT, "bindings", "python", "README.md")) as f:
        example = re.findall(r"```python\n(.*?)```", f.read(), re.S)[0]
    r = subprocess.run([py, "-c", "import rvf, sys; print(rvf.__file__)\n" + example], env=env,
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(venv)), r.stdout  # the installed copy, not build/python
