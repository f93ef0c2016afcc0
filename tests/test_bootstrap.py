"""The setup cell finds course_lib: the generated cell, run as a script in a fresh venv.

Each test gets a new venv (Python and pip only) and runs the setup cell that
``course_lib.instructor.setup_cell`` generates, unchanged apart from its
arguments, in a working folder laid out as the student kit (``kit/ps1/`` with
the wheel in ``kit/``) or as Colab's ``/content``. The wheels here are tiny
stand-ins for course_lib (its version, and a ``setup_notebook`` that prints it),
so pip installs them in a second and the tests are about the bootstrap's
decisions: what it installs, from where, and what it says when it cannot.
The real wheel goes through the same cell in tests/test_fresh_env.py.
"""
from __future__ import annotations

import base64
import hashlib
import http.server
import socket
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import pytest

import freshenv
from course_lib.instructor.setup_cell import setup_cell_source

PINNED = "0.1.0"
COLAB = "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')\n"
FAKE_INIT = '''__version__ = "{version}"
def setup_notebook(seed=0, version=None):
    print(f"course_lib {{__version__}} ready (notebook wants {{version}})")
'''


def fake_wheel(folder: Path, version: str) -> Path:
    """A course_lib wheel with no dependencies: ``__version__`` and a ``setup_notebook``."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"course_lib-{version}.dist-info"
    files = {
        "course_lib/__init__.py": FAKE_INIT.format(version=version),
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: course_lib\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join(record + [f"{dist}/RECORD,,"]) + "\n"
    path = folder / f"course_lib-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


@pytest.fixture
def venv(tmp_path: Path) -> dict:
    python, _ = freshenv.new_venv(tmp_path / "venv")
    kit = tmp_path / "kit"
    (kit / "ps1").mkdir(parents=True)
    return {"python": python, "env": freshenv.clean_env(tmp_path / "venv"), "kit": kit, "tmp": tmp_path}


def run_cell(venv: dict, cwd: Path, url: str = "", version: str = PINNED, prelude: str = "",
             extra_env: dict | None = None, timeout: int | None = None) -> subprocess.CompletedProcess:
    cell = setup_cell_source(version=version, url=url)
    if timeout is not None:   # the same cell with a shorter network timeout
        call = f"ensure_course_lib({version!r}, {url!r})"
        assert call in cell
        cell = cell.replace(call, f"ensure_course_lib({version!r}, {url!r}, timeout={timeout})")
    return subprocess.run([str(venv["python"]), "-c", prelude + cell], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**venv["env"], **(extra_env or {})})


def installed(venv: dict) -> str | None:
    out = subprocess.run([str(venv["python"]), "-c", "import importlib.metadata as m; print(m.version('course_lib'))"],
                         capture_output=True, text=True, env=venv["env"], timeout=60)
    return out.stdout.strip() if out.returncode == 0 else None


class Server:
    """Serves a folder on 127.0.0.1 (the public student repository's stand-in)."""

    def __init__(self, folder: Path):
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(folder), **k)  # noqa: E731
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_nothing_anywhere_on_a_laptop_says_what_to_run(venv):
    out = run_cell(venv, venv["kit"] / "ps1")
    assert out.returncode != 0 and "ModuleNotFoundError" in out.stderr
    assert f"course_lib {PINNED} is not installed" in out.stderr
    assert f"pip install course_lib-{PINNED}-py3-none-any.whl" in out.stderr, out.stderr
    assert installed(venv) is None


def test_nothing_anywhere_on_colab_asks_for_the_upload(venv):
    content = venv["tmp"] / "content"
    content.mkdir()
    out = run_cell(venv, content, prelude=COLAB)
    assert out.returncode != 0
    assert f"upload course_lib-{PINNED}-py3-none-any.whl" in out.stderr and "/content" in out.stderr, out.stderr


def test_the_kit_wheel_one_folder_up_is_installed_then_left_alone(venv):
    fake_wheel(venv["kit"], PINNED)
    fake_wheel(venv["kit"], "0.0.9")                      # an older kit's wheel beside it is ignored
    out = run_cell(venv, venv["kit"] / "ps1")
    assert out.returncode == 0, out.stderr
    assert f"Installing course_lib {PINNED} from file://" in out.stdout
    assert f"course_lib {PINNED} ready" in out.stdout and installed(venv) == PINNED
    again = run_cell(venv, venv["kit"] / "ps1")             # installed at the pinned version: nothing to do
    assert again.returncode == 0 and "Installing" not in again.stdout and f"course_lib {PINNED} ready" in again.stdout


def test_colab_installs_the_wheel_uploaded_into_content(venv):
    content = venv["tmp"] / "content"
    fake_wheel(content, PINNED)
    out = run_cell(venv, content, url="https://127.0.0.1:9/never-used.whl", prelude=COLAB)
    assert out.returncode == 0, out.stderr
    assert f"from file://{content}" in out.stdout and installed(venv) == PINNED


def test_the_wheel_from_the_public_url_when_none_is_here(venv):
    server = Server(fake_wheel(venv["tmp"] / "public", PINNED).parent)
    try:
        url = f"{server.url}/course_lib-{PINNED}-py3-none-any.whl"
        out = run_cell(venv, venv["kit"] / "ps1", url=url, prelude=COLAB)
    finally:
        server.close()
    assert out.returncode == 0, out.stderr
    assert f"Installing course_lib {PINNED} from {url}" in out.stdout and installed(venv) == PINNED


def test_a_url_that_gives_another_version_is_said_loudly(venv):
    server = Server(fake_wheel(venv["tmp"] / "public", "0.2.0").parent)
    try:
        out = run_cell(venv, venv["kit"] / "ps1", url=f"{server.url}/course_lib-0.2.0-py3-none-any.whl")
    finally:
        server.close()
    assert out.returncode == 0, out.stderr
    assert f"WARNING: could not install course_lib {PINNED}" in out.stdout and "gave course_lib 0.2.0" in out.stdout
    assert "notebook wants 0.1.0" in out.stdout   # ... and setup_notebook is told the pinned version


def test_a_stalled_server_does_not_hang_the_cell(venv):
    """A server that accepts the connection and never answers: pip's socket timeout ends it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/course_lib-{PINNED}-py3-none-any.whl"
    try:
        start = time.monotonic()
        out = run_cell(venv, venv["kit"] / "ps1", url=url, timeout=2)
        elapsed = time.monotonic() - start
    finally:
        listener.close()
    assert out.returncode != 0 and f"could not install course_lib {PINNED} from {url}" in out.stderr, out.stderr
    assert "pip install course_lib-0.1.0-py3-none-any.whl" in out.stderr   # ... and what to do instead
    assert elapsed < 60, f"the cell took {elapsed:.0f} s against a stalled server"
    assert installed(venv) is None


def test_another_installed_version_is_kept_when_the_pinned_one_is_nowhere(venv):
    """Nothing silently different: the older course_lib stays, setup_notebook gets the pinned version to warn."""
    old = fake_wheel(venv["tmp"] / "old", "0.0.9")
    subprocess.run([str(venv["python"]), "-m", "pip", "install", "-q", str(old)], check=True, env=venv["env"])
    out = run_cell(venv, venv["kit"] / "ps1")
    assert out.returncode == 0, out.stderr
    assert "Installing" not in out.stdout and "course_lib 0.0.9 ready (notebook wants 0.1.0)" in out.stdout
    assert installed(venv) == "0.0.9"


def test_while_nbgrader_runs_the_notebook_nothing_is_installed(venv):
    fake_wheel(venv["kit"], PINNED)
    out = run_cell(venv, venv["kit"] / "ps1", extra_env={"NBGRADER_EXECUTION": "autograde"})
    assert "Installing" not in out.stdout and installed(venv) is None
    assert "No module named 'course_lib'" in out.stderr
