"""The kernel manager nbgrader's Execute uses under ``course-grade``.

:class:`ConfinedKernelManager` starts every kernel in a private scratch folder:
``work/`` holds a fresh copy of the student's submitted files (never another
student's, never the autograded notebooks, which hold hidden tests) and
``tmp/`` becomes ``/tmp``; a short folder ``/tmp/cg-*`` holds the connection
file and the kernel's Unix sockets (jupyter_client's ``ipc`` transport: the
kernel has no network).
With ``confine`` on, the kernel runs in bubblewrap (:mod:`.sandbox`);
otherwise it runs as the grader's user, with the same limits and copy.
The scratch folder is deleted when the kernel is cleaned up.
"""
from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, DottedObjectName, Int, List, Type, Unicode, default

from . import gpu_cache, sandbox

# Environment variables a kernel keeps from the grader (everything else is dropped:
# the grader's environment may hold database passwords).
KEEP_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "NBGRADER_EXECUTION", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "JPY_PARENT_PID", "PYDEVD_DISABLE_FILE_VALIDATION")
KEEP_PREFIXES = ("COURSE_",)


def scratch_root() -> str:
    """Where kernels' scratch folders go: ``$COURSE_GRADE_SCRATCH``, else the
    system's temporary folder (on disk, not in the sandbox's memory)."""
    return os.environ.get("COURSE_GRADE_SCRATCH") or tempfile.gettempdir()


_SCRATCH: set[Path] = set()


def kernel_env(env: dict[str, str], hidden_seed: int = -1, tmp: Path | None = None) -> dict[str, str]:
    """A kernel's environment: what it keeps of the grader's ``env`` (:data:`KEEP_ENV`), the
    student's hidden seed, and its home in ``/tmp`` (confined) or in ``tmp`` (not confined)."""
    keep = {k: v for k, v in env.items() if k in KEEP_ENV or k.startswith(KEEP_PREFIXES)}
    home = f"{tmp}/home" if tmp is not None else "/tmp/home"
    bindir = str(Path(os.sys.executable).parent)
    if hidden_seed >= 0:
        from ...checks.seeds import ENV

        keep[ENV] = str(hidden_seed)
    keep.update(HOME=home, TMPDIR=home if tmp is not None else "/tmp", MPLCONFIGDIR=f"{home}/.mpl",
                IPYTHONDIR=f"{home}/.ipython", PATH=f"{bindir}:/usr/local/bin:/usr/bin:/bin",
                PYTHONNOUSERSITE="1", PYTHONDONTWRITEBYTECODE="1")
    return keep


def remove_scratch() -> None:
    """Delete every scratch folder this process made (also for kernels that died:
    jupyter_client skips its clean-up for those)."""
    for path in list(_SCRATCH):
        shutil.rmtree(path, ignore_errors=True)
        _SCRATCH.discard(path)


atexit.register(remove_scratch)


#: Milliseconds between a socket's attempts to connect to the kernel (ZeroMQ's default: 100). The
#: grader connects as soon as the kernel is forked, before the kernel has bound its sockets, and each
#: channel then waited for ZeroMQ's next attempt: 50 to 140 ms of nothing per notebook.
RECONNECT_MS = 2


def _quick_reconnect(context):
    """``context`` (a new one, this kernel's alone), its sockets retrying a connection every
    :data:`RECONNECT_MS` ms."""
    import zmq

    context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
    return context


class ReadyClient(AsyncKernelClient):
    """jupyter_client's client, ready as soon as the kernel has answered ``kernel_info`` and IOPub
    has delivered a message (so it is connected), where jupyter_client's then also waits for 0.2 s
    of silence on IOPub, for every kernel. What is left on IOPub belongs to no cell's request and
    nbclient ignores it. Its sockets retry connecting every :data:`RECONNECT_MS` ms."""

    @default("context")
    def _context_default(self):
        return _quick_reconnect(super()._context_default())

    async def _ready(self, timeout: float | None = None) -> None:
        import time
        from queue import Empty

        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:
            asked = self.kernel_info()
            answered = heard = False
            until = deadline
            while not (answered and heard) and time.monotonic() < until:
                for channel in ([] if answered else [self.shell_channel]) + ([] if heard else [self.iopub_channel]):
                    try:
                        msg = await channel.get_msg(timeout=0.02)
                    except Empty:
                        continue
                    if channel is self.iopub_channel:
                        heard = True
                    elif msg["msg_type"] == "kernel_info_reply" and msg["parent_header"].get("msg_id") == asked:
                        self._handle_kernel_info_reply(msg)
                        answered = True
                        until = min(deadline, time.monotonic() + 0.2)  # IOPub not connected by then: ask again
                if not answered and not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
            if answered and heard:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    wait_for_ready = _ready


class ConfinedKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel sees one student's copy and nothing else."""

    client_class = DottedObjectName("course_lib.instructor.grading.kernel.ReadyClient")
    client_factory = Type(ReadyClient, klass=AsyncKernelClient)

    submission = Unicode("", config=True, help="the student's submitted folder, copied into the kernel's cwd")
    confine = Bool(True, config=True, help="run the kernel in bubblewrap (else unconfined, same limits)")
    slot = Int(0, config=True, help="worker slot: the sandbox uid is 60000 + slot")
    read_only = List(Unicode(), config=True, help="extra folders the kernel may read (offline data)")
    gpu_cache = Unicode("", config=True, help="PoCL's cache of the release's kernels, copied into the kernel's home")
    cpu_seconds = Int(sandbox.Limits.cpu_seconds, config=True)
    memory_bytes = Int(sandbox.Limits.memory_bytes, config=True)
    processes = Int(sandbox.Limits.processes, config=True)
    file_bytes = Int(sandbox.Limits.file_bytes, config=True)
    guard = Bool(True, config=True, help="run the kernel behind the run-time guard (guarded_kernel)")
    guard_log = Unicode("", config=True, help="file the guard's findings are appended to")
    hidden_seed = Int(-1, config=True, help="the student's seed for the hidden test calls (-1: none)")
    zygote = Unicode("", config=True, help="the slot's zygote socket: fork kernels from it (.zygote)")
    zygote_root = Unicode("", config=True, help="the zygote's scratch folder (each kernel's folder goes in it)")
    zygote_sockets = Unicode("", config=True, help="the zygote's socket folder (each kernel's sockets go in it)")

    _scratch: Path | None = None

    @default("context")
    def _context_default(self):
        return _quick_reconnect(super()._context_default())

    @property
    def limits(self) -> sandbox.Limits:
        return sandbox.Limits(cpu_seconds=self.cpu_seconds, memory_bytes=self.memory_bytes,
                              processes=self.processes, file_bytes=self.file_bytes)

    @property
    def forked(self) -> bool:
        """Whether this kernel is forked by the slot's zygote (confined and guarded only)."""
        return bool(self.zygote) and self.confine and self.guard

    async def _async_pre_start_kernel(self, **kw):
        self._scratch = Path(tempfile.mkdtemp(prefix="course-grade-kernel-", dir=self.zygote_root if self.forked
                                              else scratch_root()))
        _SCRATCH.add(self._scratch)
        for sub in ("work", "tmp", "tmp/home"):
            (self._scratch / sub).mkdir()
        # Unix socket paths are limited to ~107 bytes: the sockets get a short folder of their own
        self._sockets = Path(tempfile.mkdtemp(prefix="k", dir=self.zygote_sockets) if self.forked else
                             tempfile.mkdtemp(prefix="cg-", dir="/tmp" if os.path.isdir("/tmp") else None))
        _SCRATCH.add(self._sockets)
        self.transport = "ipc"
        self.ip = str(self._sockets / "k")
        self.connection_file = str(self._sockets / "kernel.json")
        return await super()._async_pre_start_kernel(**kw)

    def _private_copy(self, cwd: Path) -> None:
        """``work/`` = the files nbgrader put beside the notebook, minus notebooks,
        plus the student's own submitted files (their notebooks included): regular
        files only, copied without ever following a link (a symbolic or hard link, a
        FIFO, a device is left out and logged; :func:`.submissions.copy_regular`)."""
        from .submissions import copy_regular

        work = self._scratch / "work"
        notebooks = lambda name, is_dir: not is_dir and name.endswith(".ipynb")  # noqa: E731
        for folder, skip in ((cwd, notebooks), (Path(self.submission) if self.submission else None, None)):
            if folder is None or os.path.islink(folder) or not os.path.isdir(folder):
                continue
            for why in copy_regular(folder, work, skip=skip):
                self.log.warning("not copied for the kernel from %s: %s", folder, why)

    def _env(self, env: dict[str, str]) -> dict[str, str]:
        return kernel_env(env, self.hidden_seed, None if self.confine else self._scratch / "tmp")

    def _guarded(self, kernel_cmd: list[str], env: dict[str, str], read_only: list[Path], kw: dict) -> list[str]:
        """``python -I -m ...guarded_kernel`` in place of ``python -m ipykernel_launcher``, with a
        pipe for the guard's findings and the signed verdicts (read by a thread: findings into
        ``guard_log``, verdicts into :meth:`verdicts`) and a pipe that hands the kernel a fresh
        verdict key (:mod:`.verdict`)."""
        cmd = list(kernel_cmd)
        if "ipykernel_launcher" not in cmd or cmd.index("ipykernel_launcher") < 1:
            return cmd
        at = cmd.index("ipykernel_launcher")
        cmd[at] = "course_lib.instructor.grading.guarded_kernel"
        cmd.insert(1, "-I")
        read, write = os.pipe()
        self.verdict_key = secrets.token_bytes(32)
        key_read, key_write = os.pipe()
        os.write(key_write, self.verdict_key)
        os.close(key_write)
        env.update(COURSE_GUARD_FD=str(write), COURSE_GUARD_READ=os.pathsep.join(str(p) for p in read_only),
                   COURSE_GUARD_WRITE="/tmp" if self.confine else str(self._scratch / "tmp"),
                   COURSE_VERDICT_KEY_FD=str(key_read))
        kw["pass_fds"] = (write, key_read)
        self._guard_fds = (read, write, key_read)
        self._verdict_lines: list[str] = []
        self._reader = threading.Thread(target=self._read_guard, args=(read,), daemon=True)
        self._reader.start()
        return cmd

    def verdicts(self, timeout: float = 30) -> list[str] | None:
        """The ``VERDICT`` lines the kernel wrote (prefix removed), once its pipe closed (the
        kernel and everything it started are gone); None for a kernel without the guard."""
        reader = getattr(self, "_reader", None)
        if reader is None:
            return None
        reader.join(timeout)
        return list(self._verdict_lines)

    def _read_guard(self, fd: int) -> None:
        from .guard import PREFIX
        from .verdict import PREFIX as VERDICT

        with os.fdopen(fd, "rb") as pipe:
            for raw in pipe:
                line = raw.decode("utf-8", "replace").strip()
                if line.startswith(VERDICT) and len(self._verdict_lines) < 10_000:
                    self._verdict_lines.append(line[len(VERDICT):][:300])
                elif line.startswith(PREFIX) and self.guard_log:
                    with open(self.guard_log, "a", encoding="utf-8") as log:
                        log.write(line[len(PREFIX):][:500] + "\n")

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        cwd = Path(kw.pop("cwd", None) or os.getcwd())
        self._private_copy(cwd)
        env = self._env(kw.pop("env", None) or dict(os.environ))
        read_only = sandbox.read_only_paths([Path(p) for p in self.read_only])
        if self.guard:
            kernel_cmd = self._guarded(kernel_cmd, env, read_only, kw)
        if self.forked:
            return await self._fork(kernel_cmd, env)
        limits = self.limits
        gpu_cache.seed(self._scratch / "tmp" / "home", self.gpu_cache)
        if self.confine:
            uid = sandbox.UID_BASE + self.slot
            sandbox.chown_tree(self._scratch, uid)
            sandbox.chown_tree(self._sockets, uid)
            os.chmod(self._scratch, 0o755)
            argv = sandbox.bwrap_argv(uid=uid, workdir=self._scratch / "work", work_at=cwd,
                                      tmp=self._scratch / "tmp", sockets=self._sockets,
                                      read_only=read_only, env=env)
            kernel_cmd = [*argv, *kernel_cmd]
            kw["cwd"] = str(self._scratch)
            kw["env"] = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        else:
            kw["cwd"] = str(self._scratch / "work")
            kw["env"] = env
        kw["preexec_fn"] = limits.apply
        try:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        finally:
            if getattr(self, "_guard_fds", None):
                for fd in self._guard_fds[1:]:  # the kernel holds the write end and the key now
                    os.close(fd)
                self._guard_fds = None

    async def _fork(self, kernel_cmd: list[str], env: dict[str, str]) -> None:
        """Ask the slot's zygote for this kernel (:mod:`.zygote`) instead of starting one."""
        from . import zygote

        uid = sandbox.UID_BASE + self.slot
        # the previous notebook's kernel is gone; anything of its uid still running is a stray that
        # could reach this kernel (same uid, same PID namespace): killed before the fork
        sandbox.wait_uid_gone(uid, wait=0)
        sandbox.wait_uid_gone(uid, wait=5)
        sandbox.chown_tree(self._scratch, uid)
        sandbox.chown_tree(self._sockets, uid)
        zygote.fresh_tmp(self.zygote_root, uid)
        gpu_cache.seed(Path(self.zygote_root) / "tmp" / "home", self.gpu_cache, uid)
        module = kernel_cmd.index("course_lib.instructor.grading.guarded_kernel")
        request = {"cwd": str(self._scratch / "work"), "env": env, "uid": uid,
                   "argv": ["guarded_kernel", *kernel_cmd[module + 1:]],
                   "limits": [[which, value] for which, value in self.limits.pairs()]}
        _, write, key_read = self._guard_fds
        try:
            process = zygote.ZygoteKernel(self.zygote, request, (write, key_read, 2))  # 2: the student's log
        finally:
            for fd in self._guard_fds[1:]:  # the kernel holds the write end and the key now
                os.close(fd)
            self._guard_fds = None
        provisioner = self.provisioner
        provisioner.process, provisioner.pid, provisioner.pgid = process, process.pid, None
        provisioner.cwd = str(self._scratch / "work")
        self._reconcile_connection_info(provisioner.connection_info)

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        """Wait for the kernel to be gone, looking every 10 ms (jupyter_client: 100 ms, once per notebook)."""
        await super()._async_wait(pollinterval=min(pollinterval, 0.01))

    async def _async_interrupt_kernel(self) -> None:
        """Interrupt by message on the control channel (ipykernel then sends
        SIGINT to itself): a signal to the process group would reach bubblewrap
        first, and bubblewrap dies of it, taking the kernel along."""
        if not self.confine:
            return await super()._async_interrupt_kernel()
        self._connect_control_socket()
        self.session.send(self._control_socket, self.session.msg("interrupt_request", content={}))

    interrupt_kernel = _async_interrupt_kernel

    def kill_strays(self) -> int:
        """SIGKILL every process of this sandbox's uid except the kernel itself
        (what a fork bomb left spinning after its cell was interrupted)."""
        if not self.confine:
            return 0
        uid, killed = sandbox.UID_BASE + self.slot, 0
        procs = sandbox.processes()
        for pid, (owner, ppid) in procs.items():
            if owner == uid and procs.get(ppid, (None,))[0] == uid:  # a child of a sandboxed process
                try:
                    os.kill(pid, 9)
                    killed += 1
                except OSError:
                    pass
        return killed

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._scratch is not None and not restart:
            for path in (self._scratch, self._sockets):
                shutil.rmtree(path, ignore_errors=True)
                _SCRATCH.discard(path)
            self._scratch = None
