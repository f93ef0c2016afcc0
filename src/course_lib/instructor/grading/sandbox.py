"""Confinement of one kernel: bubblewrap plus resource limits.

The confined process sees, read-only, the system's ``/usr`` and a few files of
``/etc``, the Python installation and environment that run the grader, the
folder ``course_lib`` is imported from and the offline data; read-write, only
its own scratch folders (a private copy of one student's submission as the
working directory, ``/tmp``, the kernel's socket folder). It runs in new PID,
network, IPC and UTS namespaces (no network at all: the kernel talks to the
grader over Unix sockets), as an unprivileged uid (``60000 + slot``) with no
capabilities, under ``setrlimit`` limits on CPU seconds (``RLIMIT_CPU``),
address space (``RLIMIT_AS``), processes and threads of that uid
(``RLIMIT_NPROC``), file size (``RLIMIT_FSIZE``) and open files.

Where bubblewrap cannot run (macOS, no ``bwrap``, a kernel without
namespaces) :func:`probe` says why, and the grader runs unconfined, loudly.
"""
from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

UID_BASE = 60000


@dataclass(frozen=True)
class Limits:
    """Resource limits of one kernel (each child process inherits them)."""

    cpu_seconds: int = 900          # RLIMIT_CPU: SIGXCPU/SIGKILL beyond it
    memory_bytes: int = 6 << 30     # RLIMIT_AS: an allocation beyond it raises MemoryError
    processes: int = 256            # RLIMIT_NPROC: processes + threads of the sandbox uid
    file_bytes: int = 1 << 30       # RLIMIT_FSIZE: largest file it may write
    open_files: int = 1024          # RLIMIT_NOFILE

    def pairs(self) -> list[tuple[int, int]]:
        """``(resource, value)`` for each limit."""
        return [(resource.RLIMIT_CPU, self.cpu_seconds), (resource.RLIMIT_AS, self.memory_bytes),
                (resource.RLIMIT_NPROC, self.processes), (resource.RLIMIT_FSIZE, self.file_bytes),
                (resource.RLIMIT_NOFILE, self.open_files), (resource.RLIMIT_CORE, 0)]

    def apply(self) -> None:
        """setrlimit in the calling process (use as a ``preexec_fn``)."""
        for which, value in self.pairs():
            resource.setrlimit(which, (value, value))


def _prefixes() -> list[Path]:
    """The folders the grader's Python needs: its installation and the venv."""
    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(sys.exec_prefix), Path(sys.base_exec_prefix)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib", "include"):
        p = sysconfig.get_paths().get(key)
        if p:
            paths.add(Path(p))
    return _outermost(paths)


def package_folder() -> Path:
    """The folder ``course_lib`` is imported from (``src/`` in an editable install)."""
    import course_lib

    return Path(course_lib.__file__).resolve().parent.parent


def _outermost(paths) -> list[Path]:
    out: list[Path] = []
    for p in sorted({Path(p).resolve() for p in paths if Path(p).exists()}, key=lambda p: len(p.parts)):
        if not any(p == q or q in p.parents for q in out):
            out.append(p)
    return out


ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "fonts", "localtime",
             "nsswitch.conf", "passwd", "group", "ssl/certs", "OpenCL", "mime.types")


def bwrap_argv(*, uid: int, workdir: Path, work_at: Path, tmp: Path, sockets: Path,
               read_only: list[Path], env: dict[str, str], zygote: bool = False) -> list[str]:
    """The ``bwrap ... --`` prefix for a command confined as described above.

    ``workdir`` (a private copy) appears at ``work_at`` and becomes the working
    directory; ``tmp`` appears at ``/tmp``; ``sockets`` at its own path. With
    ``zygote``, the command stays the sandbox's root with ``CAP_SETUID``, ``CAP_SETGID``
    and ``CAP_KILL`` only (:mod:`.zygote`: it turns each kernel it forks into ``uid``).
    """
    caps = ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]  # for setpriv below (or the zygote)
    argv = ["bwrap", "--die-with-parent", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox",
            *caps, *(["--cap-add", "CAP_KILL"] if zygote else []),
            "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        p = Path("/") / name
        if p.is_symlink():
            argv += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            argv += ["--ro-bind", str(p), str(p)]
    for name in ETC_FILES:
        p = Path("/etc") / name
        if p.exists():
            argv += ["--ro-bind", str(p), str(p)]
    argv += ["--proc", "/proc", "--dev", "/dev", "--bind", str(tmp), "/tmp"]
    binds = _outermost(read_only)
    # bwrap makes missing parent folders 0700, which the unprivileged uid cannot enter
    parents = sorted({str(a) for p in [*binds, sockets, work_at] for a in Path(p).parents if str(a) != "/"},
                     key=lambda a: (a.count("/"), a))
    for a in parents:
        if not Path(a).is_symlink() and a not in ("/usr", "/etc", "/tmp", "/proc", "/dev"):
            argv += ["--perms", "0755", "--dir", a]
    for p in binds:
        argv += ["--ro-bind", str(p), str(p)]
    argv += ["--bind", str(sockets), str(sockets),
             "--bind", str(workdir), str(work_at), "--chdir", str(work_at),
             "--clearenv"]
    for key, value in sorted(env.items()):
        argv += ["--setenv", key, value]
    if zygote:
        return [*argv, "--"]
    argv += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return argv


def read_only_paths(extra: list[Path] = ()) -> list[Path]:
    """Everything a kernel reads: Python, the venv, course_lib's folder, ``extra``."""
    return _outermost([*_prefixes(), package_folder(), *extra])


def processes() -> dict[int, tuple[int, int]]:
    """``{pid: (real uid, parent pid)}`` of every process (Linux ``/proc``)."""
    out = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            out[int(entry)] = (int(fields["Uid"].split()[0]), int(fields["PPid"]))
    return out


def wait_uid_gone(uid: int, wait: float = 10.0) -> None:
    """Wait until no process of ``uid`` is left (a bubblewrap PID namespace dies
    with its parent), SIGKILLing what remains after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        left = [pid for pid, (owner, _) in processes().items() if owner == uid]
        if not left:
            return
        if time.monotonic() > deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            return
        time.sleep(0.05)


def chown_tree(path: Path, uid: int) -> None:
    """Give ``path`` and everything under it to ``uid`` (the sandbox user)."""
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(root, name), uid, uid)
    os.lchown(path, uid, uid)


@functools.lru_cache(maxsize=1)
def probe() -> str | None:
    """None when kernels can be confined here, else the reason they cannot."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap needs Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    if os.geteuid() != 0:
        return ("the grader is not root: bubblewrap cannot switch the kernel to an unprivileged uid "
                "(run course-grade as root, e.g. in a container or with sudo)")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="course-grade-probe-") as d:
        d = Path(d)
        for sub in ("work", "tmp", "sock"):
            (d / sub).mkdir()
        chown_tree(d, UID_BASE)
        argv = bwrap_argv(uid=UID_BASE, workdir=d / "work", work_at=d / "work", tmp=d / "tmp",
                          sockets=d / "sock", read_only=read_only_paths(), env={"PATH": "/usr/bin"})
        code = "import os, socket; assert os.getuid() == %d; print('ok')" % UID_BASE
        try:
            out = subprocess.run([*argv, sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"bubblewrap did not start: {err}"
        if out.returncode != 0 or out.stdout.strip() != "ok":
            return f"bubblewrap failed here (exit {out.returncode}): {(out.stderr or out.stdout).strip()[-300:]}"
    return None
