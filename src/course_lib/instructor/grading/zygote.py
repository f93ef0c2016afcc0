"""Kernels forked from a process that has already imported everything: one per student.

A confined kernel that starts from nothing pays, for every notebook, for bubblewrap,
Python, torch, course_lib with every check, IPython and ipykernel (about 2 s), then
its setup cell for plotly and the rest (about 2 s more). Under ``course-grade`` the
worker of each slot starts one **zygote** instead, kept across the slot's students:

    bwrap ... python -I -m course_lib.instructor.grading.zygote SOCKET

confined like a kernel (the same read-only system, no network, its own PID
namespace), seeing only the slot's scratch folder (each kernel's private copy is
made in it, and removed when that kernel ends). It imports what every
kernel imports and then only waits. For each notebook the kernel manager
(:class:`.kernel.ConfinedKernelManager`) asks it for a kernel: it forks, and the
child

1. starts a session of its own, dies with the zygote (``PR_SET_PDEATHSIG``),
   closes every descriptor but those it was handed with ``SCM_RIGHTS`` (the guard's
   pipe, the verdict key's pipe and, as its stdout and stderr, the student's log);
2. takes the notebook's environment and working directory (a fresh private copy
   of the submission: :meth:`.kernel.ConfinedKernelManager._private_copy`) and
   the kernel's resource limits;
3. becomes the sandbox's unprivileged uid, with no capabilities left and
   ``no_new_privs``;
4. runs :func:`.guarded_kernel.main`: the guard, the verdict hook, ipykernel.

The zygote itself never runs a line of student code: it is the sandbox's root
with only ``CAP_SETUID``, ``CAP_SETGID`` and ``CAP_KILL``, and its socket lies in
a folder only root may open, so a kernel cannot ask it for anything. Each kernel
is a fresh fork of the same untouched process: no global, monkeypatch or module a
notebook changed reaches the next one (or the next student), and the grader gives
each notebook its own new work folder and an emptied ``/tmp``, and kills whatever of
the sandbox uid is left before each fork. The student's hidden seed comes with each
request's environment (:mod:`course_lib.checks.seeds` reads it in the child).

Protocol (one ``SOCK_SEQPACKET`` Unix-socket connection per kernel; one JSON message each):
``{"op": "fork", "cwd", "env", "argv", "uid", "limits": [[resource, value], ...]}``
with three descriptors (the guard's pipe, the key's pipe, the log), answered ``{"pid": N}``
(the pid inside the sandbox);
``{"op": "signal", "sig": N}`` signals the kernel's process group; when the kernel
exits the zygote sends ``{"exit": status}`` (``128 + N`` for a signal, as
bubblewrap reports it) and closes; a connection the grader closes kills the group.
"""
from __future__ import annotations

import gc
import json
import os
import selectors
import signal
import socket
import stat
import sys
import time

#: What the notebooks' kernels import sooner or later (besides course_lib's checks), imported once in the
#: zygote (torch._dynamo: the first torch optimiser of a kernel imports it, about 2 s; pyopencl and clang:
#: notebook 05's first kernel, about 0.3 s; skimage and imageio: notebook 07's images; what ipykernel
#: imports as it starts, 10 ms in every kernel). Only imports: no thread, device or file is opened here
#: that a fork would share.
PRELOAD = ("numpy", "torch", "torch.optim", "torch._dynamo", "torchvision", "torchvision.datasets",
           "scipy.special", "scipy.ndimage", "scipy.linalg", "PIL.Image", "PIL.PngImagePlugin", "PIL.JpegImagePlugin",
           "tqdm.auto", "psutil", "multiprocessing.synchronize",
           "plotly.graph_objects", "plotly.io", "plotly.io._renderers", "plotly.validator_cache", "plotly.animation",
           "nbformat", "graphviz", "IPython", "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell",
           "ipykernel.debugger", "IPython.core.debugger", "IPython.core.completerlib", "IPython.core.oinspect",
           "IPython.core.logger", "IPython.extensions.storemagic", "tornado.platform.asyncio",
           "pyopencl", "clang.cindex", "skimage.data", "skimage.io", "skimage.color", "skimage.exposure",
           "imageio.v2", "imageio.v3",
           "course_lib.notebook", "course_lib.engine", "course_lib.toy_data", "course_lib.pieces",
           "course_lib.data.images", "course_lib.data.saved_mlp",
           "course_lib.dream", "course_lib.gpu", "course_lib.gpu.bench", "course_lib.gpu.oclgrind",
           "course_lib.gpu.worker", "course_lib.figures.plotly_offline", "course_lib.figures.graph",
           "course_lib.figures.images", "course_lib.figures.style", "course_lib.figures.training",
           "course_lib.figures.gpu", "course_lib.instructor.grading.guard", "course_lib.instructor.grading.verdict")
_PR_SET_PDEATHSIG, _PR_SET_NO_NEW_PRIVS = 1, 38


# ------------------------------------------------------------------ the zygote (in the sandbox)

def _preload() -> None:
    import importlib

    from .guarded_kernel import _preload as checks

    checks()
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception as err:  # noqa: BLE001 - a missing optional module is imported (and fails) in the kernel
            print(f"zygote: not preloaded: {name} ({type(err).__name__}: {err})", file=sys.stderr, flush=True)
    os.environ.pop("COURSE_HIDDEN_SEED", None)  # read by course_lib.checks.seeds already


def _prctl(option: int, value: int) -> None:
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _become_kernel(request: dict, fds: list[int], keep_out: list[int]) -> None:
    """In the forked child: the steps of the module's docstring, then the guarded kernel (never returns)."""
    import resource

    try:
        os.setsid()
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        import fcntl

        for fd in keep_out:
            os.close(fd)
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in fds]
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        guard, key, log = high
        os.dup2(guard, 3)
        os.dup2(key, 4)
        os.dup2(log, 1)  # the student's log, as stdout and stderr
        os.dup2(log, 2)
        os.closerange(5, 1 << 16)
        env = dict(request["env"], COURSE_GUARD_FD="3", COURSE_VERDICT_KEY_FD="4")
        os.environ.clear()
        os.environ.update(env)
        for which, value in request["limits"]:
            resource.setrlimit(which, (value, value))
        uid = int(request["uid"])
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        _prctl(_PR_SET_NO_NEW_PRIVS, 1)
        if 0 in os.getresuid() or 0 in os.getresgid():
            raise PermissionError("the kernel is still root")
        os.chdir(request["cwd"])  # its private copy, which only the sandbox uid may enter
        import random

        random.seed()  # not the zygote's state, shared by every fork
        sys.argv = list(request["argv"])
        del request, env
        from .guarded_kernel import main

        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    except BaseException as err:  # noqa: BLE001 - said on stderr (the worker's log), then exit
        import traceback

        print(f"zygote: the kernel could not start: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        traceback.print_exc(limit=-8)
        code = 70
    os._exit(code)


def _status(raw: int) -> int:
    return 128 + os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.waitstatus_to_exitcode(raw)


def serve(path: str) -> None:
    """Preload, then fork a kernel for each request on the Unix socket ``path`` until stdin closes."""
    _preload()
    gc.collect()
    gc.freeze()  # the preloaded objects: never walked by a kernel's collections, nor copied on write by them
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path + ".new")
    os.chmod(path + ".new", 0o600)
    listener.listen(8)
    os.rename(path + ".new", path)  # the socket appears when it already listens
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(sys.stdin, selectors.EVENT_READ, "stdin")  # the worker closes it (or dies): stop
    children: dict[int, socket.socket] = {}   # pid -> its connection
    conns: dict[socket.socket, int | None] = {}
    while True:
        for key, _ in sel.select(timeout=0.05):
            if key.data == "exit":  # a kernel's pidfd: it exited, and is reaped below
                sel.unregister(key.fileobj)
                os.close(key.fileobj)
            elif key.data == "stdin":
                if not os.read(sys.stdin.fileno(), 1 << 10):
                    for pid in children:
                        _kill(pid)
                    return
            elif key.data == "accept":
                conn, _ = listener.accept()
                conns[conn] = None
                sel.register(conn, selectors.EVENT_READ, "conn")
            else:
                conn = key.fileobj
                try:
                    msg, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
                except OSError:
                    msg, fds = b"", []
                pid = conns.get(conn)
                if not msg:
                    sel.unregister(conn)
                    conns.pop(conn, None)
                    conn.close()
                    if pid is not None:
                        _kill(pid)
                    continue
                request = json.loads(msg.decode())
                if request.get("op") == "fork" and pid is None and len(fds) == 3:
                    keep_out = [listener.fileno(), sel.fileno(), *(c.fileno() for c in conns)]
                    child = os.fork()
                    if child == 0:
                        _become_kernel(request, fds, keep_out)
                    for fd in fds:
                        os.close(fd)
                    conns[conn], children[child] = child, conn
                    _watch_exit(sel, child)
                    conn.send(json.dumps({"pid": child}).encode())
                elif request.get("op") == "signal" and pid is not None:
                    try:
                        os.killpg(pid, int(request["sig"]))
                    except OSError:
                        pass
                else:
                    for fd in fds:
                        os.close(fd)
        while children:
            try:
                pid, raw = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = children.pop(pid, None)
            if conn is not None:
                conns[conn] = None  # its pid may be reused now: never signal it again
                try:
                    conn.send(json.dumps({"exit": _status(raw)}).encode())
                except OSError:
                    pass


def _watch_exit(sel: selectors.BaseSelector, pid: int) -> None:
    """Wake the loop the moment kernel ``pid`` exits (a pidfd, Linux 5.3+), so that its exit is
    told at once; without one the loop's 50 ms timeout finds it."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        return
    sel.register(fd, selectors.EVENT_READ, "exit")


def _kill(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
            return
        except OSError:
            pass


# ------------------------------------------------------------------ the grader's side

def fresh_tmp(root, uid: int) -> None:
    """Empty the sandbox's ``/tmp`` (``root/tmp``; before each notebook): nothing one notebook
    left there reaches the next; ``/tmp/home`` is made again for the sandbox uid.

    Folders there that belong to root stay: bubblewrap made them (0755) to mount what lies
    under the host's ``/tmp`` (the scratch folder, the sockets, a checkout in ``/tmp``), and
    removing one would take its mount away. A kernel cannot make or write in such a folder.
    """
    import shutil
    from pathlib import Path

    tmp = Path(root) / "tmp"
    tmp.mkdir(exist_ok=True)
    for entry in list(tmp.iterdir()):  # /tmp itself stays: it is bound
        info = entry.lstat()
        if stat.S_ISDIR(info.st_mode) and info.st_uid == 0:
            continue
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    (tmp / "home").mkdir()
    for path in (tmp, tmp / "home"):
        os.lchown(path, uid, uid)
    os.chmod(tmp, 0o1777)


class ZygoteKernel:
    """The kernel a zygote forked, as jupyter_client's provisioner sees a ``Popen``:
    ``poll``, ``wait``, ``send_signal``, ``kill``, ``terminate``, ``returncode``."""

    stdin = stdout = stderr = None

    def __init__(self, socket_path: str, request: dict, fds: tuple[int, int, int]):
        self.returncode: int | None = None
        self._conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._conn.connect(socket_path)
        socket.send_fds(self._conn, [json.dumps({"op": "fork", **request}).encode()], list(fds))
        reply = self._read(timeout=60)
        if reply is None or "pid" not in reply:
            self._conn.close()
            raise RuntimeError(f"the zygote did not fork a kernel ({reply})")
        self.pid = int(reply["pid"])  # inside the sandbox's PID namespace: signals go through the zygote
        self.via_zygote = True

    def _read(self, timeout: float | None) -> dict | None:
        """The zygote's next message, None when none came within ``timeout`` seconds."""
        self._conn.settimeout(timeout)
        try:
            message = self._conn.recv(1 << 16)
        except (TimeoutError, BlockingIOError, socket.timeout):
            return None
        except OSError:
            message = b""
        if not message:
            return {"exit": 255}  # the zygote is gone, and with it the kernel
        return json.loads(message.decode())

    def poll(self) -> int | None:
        if self.returncode is None:
            msg = self._read(timeout=0)
            if msg is not None and "exit" in msg:
                self.returncode = int(msg["exit"])
                self._conn.close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import subprocess

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("kernel", timeout)
            msg = self._read(timeout=0.1)
            if msg is not None and "exit" in msg:
                self.returncode = int(msg["exit"])
                self._conn.close()
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            try:
                self._conn.send(json.dumps({"op": "signal", "sig": int(sig)}).encode())
            except OSError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class Zygote:
    """A slot's zygote, started by its worker (``with Zygote(...) as z``) and stopped, with every
    kernel it forked, by :meth:`close`.

    ``root`` is the slot's scratch folder (each notebook's folder is made in it by the
    kernel manager; ``root/tmp`` is the sandbox's ``/tmp``); ``sockets`` the short folder for
    the kernels' sockets; the zygote's own socket is in ``sockets/z``, which only root may open.
    """

    def __init__(self, *, uid: int, read_only: list, env: dict[str, str], start_timeout: float = 180):
        import shutil
        import subprocess
        import tempfile
        from pathlib import Path

        import atexit

        from . import sandbox
        from .kernel import scratch_root

        self.uid = uid
        self.root = Path(tempfile.mkdtemp(prefix="course-grade-zygote-", dir=scratch_root()))
        self.sockets = Path(tempfile.mkdtemp(prefix="cg-", dir="/tmp" if os.path.isdir("/tmp") else None))
        atexit.register(self.close)  # also when the worker stops on an error
        os.chmod(self.root, 0o755)
        os.chmod(self.sockets, 0o755)
        (self.sockets / "z").mkdir(mode=0o700)
        self.socket = str(self.sockets / "z" / "zygote")
        self.fresh_tmp()
        argv = sandbox.bwrap_argv(uid=uid, workdir=self.root, work_at=self.root, tmp=self.root / "tmp",
                                  sockets=self.sockets, read_only=sandbox.read_only_paths(list(read_only)),
                                  env=env, zygote=True)
        self._rmtree = shutil.rmtree
        self.proc = subprocess.Popen([*argv, sys.executable, "-I", "-m", "course_lib.instructor.grading.zygote",
                                      self.socket], stdin=subprocess.PIPE, stdout=sys.stderr, cwd=self.root)
        deadline = time.monotonic() + start_timeout
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"the kernel zygote did not start (exit {self.proc.returncode})")
            time.sleep(0.02)

    def fresh_tmp(self) -> None:
        fresh_tmp(self.root, self.uid)

    def sweep(self) -> None:
        """Remove every kernel's folder and socket folder still here, empty ``/tmp``: done between
        two students, so that nothing of one (a kernel that died before its clean-up) meets the next."""
        for folder, keep in ((self.root, "tmp"), (self.sockets, "z")):
            for entry in folder.iterdir():
                if entry.name != keep:
                    self._rmtree(entry, ignore_errors=True)
        self.fresh_tmp()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # the zygote kills its kernels and exits
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - then by force
                self.proc.kill()
                self.proc.wait()
        for path in (self.root, self.sockets):
            self._rmtree(path, ignore_errors=True)

    def __enter__(self) -> "Zygote":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def main(argv: list[str] | None = None) -> None:
    if "" in sys.path or os.getcwd() in sys.path:
        sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
    serve((argv or sys.argv[1:])[0])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # its kernels are gone; tearing down torch and the rest would take 0.3 s


if __name__ == "__main__":
    main()
