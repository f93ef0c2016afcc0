"""What a Dask worker runs for ``course-grade --scheduler``: one student, in a slot kept warm for the run.

:func:`grade_task` gets the task's spec from :mod:`.distributed`: the run's
:class:`~.worker.Settings`, the student's submitted files (bytes), the
course's hidden-seed salt, and what the client grades with (course_lib's
version and a digest of its code, nbgrader's version, a digest of
``nbgrader_config.py`` and the source notebooks). It refuses to grade when
this worker's checkout differs, or when kernels should be confined and
cannot be here. Otherwise it takes one of this process's sandbox slots and
grades the student there as a one-machine run does (:class:`.slots.SlotWorker`):
each slot keeps a private course root (the checkout's config, source and
release notebooks, the salt; in the checkout's ``grading/<assignment>/remote-FIRST-LAST/slot-N/``,
where a one-machine run keeps its scratch) and its worker process, with nbgrader
imported and the slot's kernel zygote started, across the tasks of one run,
instead of starting them for every student (about 4.5 CPU-seconds each). The task
writes its student's files into the slot's root, and returns the worker's result,
the autograded files, the run-time guard's logs and the log; nothing of the
student stays there once the task ends. The gradebook is the shared one in
the settings (PostgreSQL). When its run ends the client stops every idle slot's
worker and removes its root (:func:`close_warm`, through ``Client.run``); after a
kill, the next process that takes the block removes what is left.

The checkout is ``$COURSE_GRADE_COURSE`` on the worker, else the client's
``--worker-course``, else the client's own course path.

Sandbox slots: each worker process holds a block of slots of its own (uids
``60000 + slot``), taken with ``flock`` on
``/tmp/course-grade-slots-FIRST-LAST.lock``: ``$COURSE_GRADE_SLOTS``
(``FIRST-LAST``) where set, else the first free block of :data:`BLOCK`
slots from :data:`FIRST_SLOT` on, clear of a one-machine ``course-grade``
(slots below 256, under ``/tmp/course-grade.lock``). Two workers on one host
never share a uid, and a process that takes a block first kills what a
killed predecessor left running in it.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import queue
import shutil
import socket
import stat
import tempfile
import threading
import time
from pathlib import Path

from . import sandbox

FIRST_SLOT = 256   # slots 0-255 belong to one-machine course-grade runs
BLOCK = 32         # slots per worker process: more threads than this wait for a slot
BLOCKS = 100       # uids up to 60000 + 256 + 3200, below nobody (65534)


# ------------------------------------------------------------------ files as bytes
def files_of(folder: Path) -> dict[str, bytes]:
    """``{relative path: bytes}`` of the regular files under ``folder`` (links never followed)."""
    out: dict[str, bytes] = {}
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d)) and d != "__pycache__"]
        for name in names:
            path = Path(root) / name
            if stat.S_ISREG(os.lstat(path).st_mode):
                out[path.relative_to(folder).as_posix()] = path.read_bytes()
    return dict(sorted(out.items()))


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` (from :func:`files_of`) under ``folder``; an unsafe name is refused."""
    from .submissions import path_problem

    folder.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        parts = rel.split("/")
        if rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or path_problem(rel):
            raise ValueError(f"unsafe file name in a grading result: {rel!r}")
        dest = folder.joinpath(*parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)


def _digest(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for rel, data in sorted(files.items()):
        h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


def course_digest(course: Path, assignment: str) -> str:
    """What decides a grade in a checkout: ``nbgrader_config.py`` and the source notebooks."""
    files = {f"source/{k}": v for k, v in files_of(course / "source_notebooks" / assignment).items()}
    files["nbgrader_config.py"] = (course / "nbgrader_config.py").read_bytes()
    return _digest(files)


_CODE: list[str] = []


def code_digest() -> str:
    """Digest of this process's course_lib sources (taken once: what it imported)."""
    if not _CODE:
        package = sandbox.package_folder() / "course_lib"
        _CODE.append(_digest({k: v for k, v in files_of(package).items() if k.endswith(".py")}))
    return _CODE[0]


def expectations(course: Path, assignment: str) -> dict[str, str]:
    """What the client grades with; every worker must grade with the same."""
    import nbgrader

    from ... import __version__

    return {"course_lib": __version__, "nbgrader": nbgrader.__version__, "course_lib code": code_digest(),
            "config and source notebooks": course_digest(course, assignment)}


# ------------------------------------------------------------------ this process's sandbox slots
class SlotBlock:
    """A block of sandbox slots held by this process (``flock``) for as long as it lives."""

    def __init__(self) -> None:
        wanted = os.environ.get("COURSE_GRADE_SLOTS")
        ranges = [tuple(int(x) for x in wanted.split("-", 1))] if wanted else \
            [(FIRST_SLOT + k * BLOCK, FIRST_SLOT + (k + 1) * BLOCK - 1) for k in range(BLOCKS)]
        for first, last in ranges:
            if not (0 <= first <= last and sandbox.UID_BASE + last < 65534):
                raise ValueError(f"COURSE_GRADE_SLOTS={wanted}: slots must lie in 0..{65533 - sandbox.UID_BASE}")
            handle = open(Path(tempfile.gettempdir()) / f"course-grade-slots-{first}-{last}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            self._lock, self.first, self.last = handle, first, last
            break
        else:
            raise RuntimeError("no free block of sandbox slots on this host"
                               + (f" (COURSE_GRADE_SLOTS={wanted} is held by another process)" if wanted else ""))
        self._clean()
        # the slot given back last is taken first: its worker and zygote are warm (:func:`_slot_worker`)
        self._free: queue.LifoQueue[int] = queue.LifoQueue()
        for slot in range(self.last, self.first - 1, -1):
            self._free.put(slot)

    def _clean(self) -> None:
        """What a killed process that held this block left: processes, socket folders."""
        uids = range(sandbox.UID_BASE + self.first, sandbox.UID_BASE + self.last + 1)
        for uid in {owner for owner, _ in sandbox.processes().values() if owner in uids}:
            sandbox.wait_uid_gone(uid, wait=0)
        for stale in Path(tempfile.gettempdir()).glob("cg-*"):
            try:
                if stale.stat().st_uid in uids:
                    shutil.rmtree(stale, ignore_errors=True)
            except OSError:
                pass

    def stage_root(self, course: Path, assignment: str) -> Path:
        """This block's staging folder in ``course`` (what a killed holder left there is removed)."""
        return course / "grading" / assignment / f"remote-{self.first}-{self.last}"

    def take(self) -> int:
        return self._free.get()

    def give(self, slot: int) -> None:
        self._free.put(slot)

    def take_free(self) -> list[int]:
        """Every slot that no task holds now (none is waited for)."""
        out = []
        while True:
            try:
                out.append(self._free.get_nowait())
            except queue.Empty:
                return out


_setup_lock = threading.Lock()
_block: list[SlotBlock] = []
_warm: dict[int, tuple[str, object]] = {}  # slot -> (the run its root and worker serve, its SlotWorker)
_ready: dict[tuple[str, str], list[str]] = {}  # (checkout, assignment) -> the read-only folders of its kernels


def slot_block() -> SlotBlock:
    with _setup_lock:
        if not _block:
            _block.append(SlotBlock())
        return _block[0]


def _threads() -> int:
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return 1


def checkout(spec: dict) -> Path:
    return Path(os.environ.get("COURSE_GRADE_COURSE") or spec.get("worker_course") or spec["course"]).resolve()


def _prepare(course: Path, spec: dict, block: SlotBlock) -> list[str]:
    """Check this host against the client and empty the block's staging folder, once per checkout,
    assignment and process; the folders kernels read."""
    with _setup_lock:
        if (str(course), spec["assignment"]) in _ready:
            return _ready[str(course), spec["assignment"]]
        from . import course as course_mod
        from .run import _prewarm, _read_only_data

        where = f"{socket.gethostname()}:{course}"
        if not (course / "nbgrader_config.py").is_file():
            raise FileNotFoundError(f"{where} is not a course checkout (no nbgrader_config.py): start the worker "
                                    "with COURSE_GRADE_COURSE=/path/to/checkout, or pass --worker-course")
        here = expectations(course, spec["assignment"])
        differ = [k for k, v in spec["expect"].items() if here.get(k) != v]
        if differ:
            raise RuntimeError(f"the checkout at {where} differs from the client's ({', '.join(differ)}): "
                               "update it (git pull, then restart the worker) so every host grades alike")
        course_mod.alembic_on_path()
        _prewarm(course / "source_notebooks" / spec["assignment"])
        stages = block.stage_root(course, spec["assignment"])
        shutil.rmtree(stages, ignore_errors=True)
        stages.mkdir(mode=0o700, parents=True)
        _ready[str(course), spec["assignment"]] = [str(p) for p in _read_only_data()]
        return _ready[str(course), spec["assignment"]]


def _stage(stage: Path, course: Path, spec: dict) -> None:
    """A slot's private course root: the checkout's config, source and release notebooks, the salt."""
    a = spec["assignment"]
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(mode=0o700, parents=True)
    shutil.copy(course / "nbgrader_config.py", stage / "nbgrader_config.py")
    for folder in ("source_notebooks", "release"):
        if (course / folder / a).is_dir():
            shutil.copytree(course / folder / a, stage / folder / a, symlinks=True)
    (stage / "grading" / a / "logs").mkdir(parents=True)
    (stage / "grading" / a / "hidden_seed_salt").write_text(spec["salt"], encoding="utf-8")
    (stage / "scratch").mkdir()


def _clear(stage: Path, assignment: str) -> None:
    """Every student's files out of a slot's root: submissions, autograded notebooks, guard logs, logs."""
    for folder in (stage / "submitted", stage / "autograded", stage / "grading" / assignment / "guard"):
        shutil.rmtree(folder, ignore_errors=True)
    for log in (stage / "grading" / assignment / "logs").glob("*.log"):
        log.unlink(missing_ok=True)


def _slot_worker(slot: int, stage: Path, course: Path, spec: dict, settings, env: dict[str, str]):
    """Slot ``slot``'s worker, kept across this process's tasks while they come from the same run (the same
    settings, salt and expectations); a task of another run gets a new root and worker."""
    from .slots import SlotWorker

    run = json.dumps([settings.to_json(), spec["salt"], spec["expect"], str(course)], sort_keys=True)
    held = _warm.get(slot)
    if held is not None and held[0] == run:
        return held[1]
    if held is not None:
        held[1].close()
    _stage(stage, course, spec)
    worker = SlotWorker(settings, slot, stage, stage / "slot.log", env=env)
    _warm[slot] = (run, worker)
    return worker


def close_warm() -> int:
    """Stop the worker (and zygote) of every slot no task holds now, and remove its root; the client runs
    this on every Dask worker when its run ends. Returns how many workers were stopped."""
    from .slots import close_all

    if not _block:
        return 0
    block = _block[0]
    slots = block.take_free()
    try:
        workers = [held[1] for held in (_warm.pop(slot, None) for slot in slots) if held is not None]
        close_all(workers)
        for course, assignment in list(_ready):
            for slot in slots:
                shutil.rmtree(block.stage_root(Path(course), assignment) / f"slot-{slot}", ignore_errors=True)
        return len(workers)
    finally:
        for slot in slots:
            block.give(slot)


def grade_task(spec: dict) -> dict:
    """Grade ``spec["student"]`` on this worker; see the module's docstring."""
    from .worker import Settings

    started = time.monotonic()
    course = checkout(spec)
    block = slot_block()
    read_only = _prepare(course, spec, block)
    settings = Settings(**{**spec["settings"], "read_only": read_only})
    if settings.confine and sandbox.probe() is not None:
        raise RuntimeError(f"{socket.gethostname()} cannot confine kernels ({sandbox.probe()}): fix it, or grade "
                           "with --unconfined (trusted submissions only)")
    student, a = spec["student"], spec["assignment"]
    slot = block.take()
    stage = block.stage_root(course, a) / f"slot-{slot}"
    try:
        settings.course = str(stage)
        env = dict(os.environ, COURSE_GRADE_SCRATCH=str(stage / "scratch"))
        threads = str(max(1, (os.cpu_count() or 1) // _threads()))
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, threads)
        worker = _slot_worker(slot, stage, course, spec, settings, env)
        _clear(stage, a)
        write_files(stage / "submitted" / student / a, spec["files"])
        log_path = stage / "grading" / a / "logs" / f"{student}.log"
        try:
            result, error = worker.grade(student, log_path, spec["timeout"])
        finally:
            if settings.confine:
                sandbox.wait_uid_gone(sandbox.UID_BASE + slot)
        guard = stage / "grading" / a / "guard" / student
        return {
            "student": student, "worker": result, "error": error.replace(str(log_path), "{log}"),
            "autograded": files_of(stage / "autograded" / student / a),
            "guard": {p.stem: p.read_text(errors="replace") for p in sorted(guard.glob("*.log"))},
            "log": log_path.read_text(errors="replace") if log_path.is_file() else "",
            "host": socket.gethostname(), "slot": slot, "confined": settings.confine,
            "seconds": round(time.monotonic() - started, 2),
        }
    finally:
        _clear(stage, a)
        block.give(slot)
