"""A throw-away PostgreSQL server on 127.0.0.1 for the tests that grade into PostgreSQL
(Debian's package, which ``scripts/setup.sh`` installs; run as ``postgres`` when the tests run
as root, since PostgreSQL refuses root)."""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    hits = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(hits[-1]).parent if hits else None


def server(prefix: str = "course-pg-") -> Iterator[str]:
    """Start a cluster, yield its SQLAlchemy URL, stop it (use as a pytest fixture's body)."""
    bindir = _bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (scripts/setup.sh installs Debian's postgresql)")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    try:
        pw = pwd.getpwnam("postgres") if as_user else None
    except KeyError:
        pytest.skip("no postgres user to run the server as (Debian's postgresql package makes it)")
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if pw:
        os.chown(folder, pw.pw_uid, pw.pw_gid)
    port = free_port()
    run = lambda *a: subprocess.run([*as_user, *a], capture_output=True, text=True, timeout=120)  # noqa: E731
    init = run(str(bindir / "initdb"), "-D", str(folder / "data"), "--auth=trust", "-U", "postgres")
    assert init.returncode == 0, init.stderr
    start = run(str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-l", str(folder / "log"), "-w", "-o",
                f"-c listen_addresses=127.0.0.1 -p {port} -k {folder}", "start")
    assert start.returncode == 0, start.stderr + (folder / "log").read_text()
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)
