"""``course-grade --scheduler``: a class graded on a Dask cluster into one PostgreSQL gradebook.

A private PostgreSQL server, a ``dask scheduler`` and two ``dask worker``
processes (each with a course checkout of its own, ``COURSE_GRADE_COURSE``)
run as separate processes on 127.0.0.1. A class of four students of notebook
01 is graded across the workers; the worker grading ``dan`` (whose first
answer cell sleeps) is SIGKILLed mid-student. Dask runs dan again on the
other worker, and every student is recorded exactly once (journal and
gradebook) with the scores of a one-machine run of the same class.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import grading_course as G
import pg_server
from course_lib.instructor.grading import remote, sandbox

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
pytest.importorskip("distributed", reason="distributed is not installed (pyproject's grading extra has it)")

STUDENTS = {"ann": "solved", "ben": "blank", "cat": "echoes_cells", "dan": "slow"}
SLOW = "import time\ntime.sleep(8)"  # dan's first answer cell: the kill lands in or just before it
CONFINED = sandbox.probe() is None
ARGS = ["--cell-timeout", "40", "--interrupt-grace", "3"] + ([] if CONFINED else ["--unconfined"])
BIN = Path(sys.executable).parent


def _populate(root: Path) -> None:
    from course_lib import nbmeta
    from course_lib.instructor.release import blank

    for student, kind in STUDENTS.items():
        if kind == "blank":
            nb = blank(root / "release" / "ps1" / G.NOTEBOOK)
        elif kind in ("solved", "slow"):
            nb = G.solved(root)
            if kind == "slow":
                first = next(c for c in nb.cells if nbmeta.is_solution(c) and c.cell_type == "code")
                first.source = SLOW + "\n" + first.source
        else:
            nb = G.hostile(root, kind)
        G.submit(root, student, nb)


# ---------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def postgres():
    yield from pg_server.server("course-pg-dask-")


# ---------------------------------------------------------------- the Dask cluster
class Cluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (no nanny: a killed worker stays dead)."""

    def __init__(self, folder: Path, checkouts: list[Path]):
        self.address = f"tcp://127.0.0.1:{pg_server.free_port()}"
        self.folder = folder
        env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "2"}
        self.scheduler = self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port",
                                                   self.address.rsplit(":", 1)[1], "--no-dashboard"], env)
        self.workers = [self._start(f"worker{i}", ["worker", self.address, "--name", f"w{i}", "--nthreads", "1",
                                                   "--no-nanny", "--no-dashboard", "--local-directory",
                                                   str(folder / f"w{i}")], {**env, "COURSE_GRADE_COURSE": str(c)})
                        for i, c in enumerate(checkouts)]
        from distributed import Client

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(len(checkouts), timeout=120)

    def _start(self, name: str, args: list[str], env: dict) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "w")
        return subprocess.Popen([str(BIN / "dask"), *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=self.folder, start_new_session=True)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.folder.glob("*.log")))

    def close(self) -> None:
        """The workers first (a worker whose scheduler is gone waits for it to come back), then the scheduler."""
        for group in (self.workers, [self.scheduler]):
            for proc in group:
                if proc.poll() is None:
                    proc.terminate()
            for proc in group:
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def _argv(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    """``pid`` runs (a zombie waiting for whoever adopted it does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _uid_runs(uid: int) -> bool:
    return any(owner == uid and _alive(pid) for pid, (owner, _) in sandbox.processes().items())


def _stages(checkouts: list[Path], student: str) -> dict[int, Path]:
    """``{slot: its root}`` of the Dask workers' slots whose root holds ``student``'s submission now."""
    return {int(stage.name.split("-")[1]): stage for c in checkouts
            for stage in (c / "grading" / "ps1").glob("remote-*/slot-*") if (stage / "submitted" / student).is_dir()}


def _grading(checkouts: list[Path], student: str) -> list[tuple[int, int, int]]:
    """``(pid, parent pid, slot)`` of each slot worker process (``worker --serve SLOT``) grading ``student``."""
    slots = _stages(checkouts, student)
    out = []
    for pid, (_, ppid) in sandbox.processes().items():
        argv = _argv(pid)
        if b"course_lib.instructor.grading.worker" in argv and b"--serve" in argv and argv[-1].isdigit() \
                and int(argv[-1]) in slots:
            out.append((pid, ppid, int(argv[-1])))
    return out


def _own(findings: list[str]) -> list[str]:
    """The findings about the student (not an edit of course_lib's own sources while the suite runs)."""
    package = str(sandbox.package_folder())
    return [f for f in findings if not (f.startswith("shared file changed") and f": {package}/" in f)]


def _course_grade(root: Path, *args: str) -> subprocess.CompletedProcess:
    """A one-machine run; other graders on this machine hold its lock for a while: wait for them."""
    deadline = time.monotonic() + 900
    while True:
        proc = G.course_grade(root, *args)
        if "another course-grade is running" not in proc.stderr or time.monotonic() > deadline:
            return proc
        time.sleep(10)


def test_class_graded_on_dask_workers_survives_a_killed_worker(postgres, tmp_path):
    from sqlalchemy import create_engine, text

    root = G.make_course(tmp_path / "course")
    _populate(root)
    one = shutil.copytree(root, tmp_path / "one_machine")
    # each host's checkout: the course without students (nothing of theirs is on a worker beforehand)
    checkouts = [shutil.copytree(root, tmp_path / f"host{i}", ignore=shutil.ignore_patterns("submitted"))
                 for i in range(2)]

    sqlite = G.course_grade(root, "submitted", "--scheduler", "tcp://127.0.0.1:9")  # workers cannot share a file
    assert sqlite.returncode == 2 and "not SQLite" in sqlite.stderr, sqlite.stderr[-2000:]

    single = _course_grade(one, "submitted", "--jobs", "2", *ARGS)
    assert single.returncode == 0, single.stderr[-3000:]

    (tmp_path / "dask").mkdir()
    cluster = Cluster(tmp_path / "dask", checkouts)
    client = None
    try:
        with open(tmp_path / "client.out", "w") as out, open(tmp_path / "client.err", "w") as err:
            client = subprocess.Popen([sys.executable, "-m", "course_lib.instructor.grading.cli", "submitted",
                                       "--scheduler", cluster.address, "--db-url", postgres, "--quiet", *ARGS],
                                      cwd=root, stdout=out, stderr=err)
        stderr = lambda: (tmp_path / "client.err").read_text()  # noqa: E731
        worker_pids = {w.pid: w for w in cluster.workers}
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not any(p in worker_pids for _, p, _ in _grading(checkouts, "dan")):
            assert client.poll() is None, stderr()[-3000:]
            time.sleep(0.2)
        victims = [(pid, ppid, slot) for pid, ppid, slot in _grading(checkouts, "dan") if ppid in worker_pids]
        assert victims, "dan was never graded on a worker\n" + cluster.logs()
        pid, ppid, slot = victims[0]
        uid = sandbox.UID_BASE + slot
        if CONFINED:  # wait for dan's confined kernel (processes of the slot's uid)
            while time.monotonic() < deadline and not _uid_runs(uid):
                time.sleep(0.1)
            assert _uid_runs(uid), "dan's kernel never started"
        time.sleep(2 if CONFINED else 6)  # in dan's sleeping cell, or on the way there
        assert _alive(pid) and slot in _stages(checkouts, "dan"), "dan's grading ended before the kill"
        os.kill(ppid, signal.SIGKILL)  # the Dask worker grading dan
        worker_pids[ppid].wait(10)
        gone = time.monotonic() + 20  # its grading process and its confined kernel die with it
        while time.monotonic() < gone and (_alive(pid) or _uid_runs(uid)):
            time.sleep(0.2)
        assert not _alive(pid), "dan's grading process outlived its killed Dask worker"
        assert not _uid_runs(uid), "sandboxed processes outlived the killed Dask worker"

        client.wait(600)
        assert client.returncode == 0, stderr()[-3000:] + "\n" + cluster.logs()
        alive = {w.pid for w in cluster.workers if w.poll() is None}
        assert not [p for p, (_, parent) in sandbox.processes().items() if parent in alive and b"--serve" in _argv(p)
                    and _alive(p)], "the slots kept warm for the run still run after it"
        assert "on the Dask cluster at" in stderr() and "2 worker(s)" in stderr(), stderr()[-2000:]

        # resume works on the client machine as on one: nobody is graded again
        again = G.course_grade(root, "submitted", "--scheduler", cluster.address, "--db-url", postgres, *ARGS)
        assert again.returncode == 0, again.stderr[-3000:]
        assert f"{len(STUDENTS)} already graded (resumed)" in again.stderr
    finally:
        if client is not None and client.poll() is None:
            client.kill()
            client.wait()
        cluster.close()

    # every student recorded once, with the one-machine run's scores, statuses and flags
    distributed, single = G.results(root), G.results(one)
    assert sorted(distributed) == sorted(STUDENTS) == sorted(single)
    for student in STUDENTS:
        d, s = distributed[student], single[student]
        assert G.scores(d) == G.scores(s), student
        assert [p["status"] for p in d["problems"]] == [p["status"] for p in s["problems"]], student
        assert _own(d["findings"]) == _own(s["findings"]) and d["events"] == s["events"], (student, d, s)
        assert not d["error"], (student, d["error"])
        assert G.gradebook_scores(root, student, postgres) == G.gradebook_scores(one, student), student
        assert (root / "autograded" / student / "ps1" / G.NOTEBOOK).is_file()
    assert any("post_run_cell" in f for f in distributed["cat"]["findings"]), distributed["cat"]["findings"]
    assert G.scores(distributed["dan"]) == G.scores(distributed["ann"])  # dan's sleep cost no point
    assert (root / "grading" / "ps1" / "logs" / "dan.log").read_text().startswith("graded on ")
    engine = create_engine(postgres)
    with engine.connect() as db:  # one submission per student in the shared gradebook, no duplicate
        rows = db.execute(text("SELECT student_id, COUNT(*) FROM submitted_assignment GROUP BY student_id"))
        assert dict(rows.all()) == {s: 1 for s in STUDENTS}
        count = db.execute(text("SELECT COUNT(*) FROM submitted_notebook")).scalar()
        assert count == len(STUDENTS)
    engine.dispose()
    # the workers' checkouts got nothing of the students; the survivor left no staging folder behind: its
    # slots stayed warm across the run's students (one slot worker graded several), then stopped at its end
    for c in checkouts:
        assert not (c / "submitted").exists() and not (c / "autograded").exists(), c
    survivor = checkouts[next(i for i, w in enumerate(cluster.workers) if w.pid != ppid)]
    assert [list(stages.iterdir()) for stages in (survivor / "grading" / "ps1").glob("remote-*")] == [[]]
    slots = [re.match(r"graded on (.+ \(slot \d+\))", (root / "grading" / "ps1" / "logs" / f"{s}.log").read_text())
             for s in STUDENTS]
    assert all(slots) and len({m.group(1) for m in slots}) < len(STUDENTS), slots  # a slot graded two students


# ---------------------------------------------------------------- the pieces, without a cluster
def test_each_worker_process_holds_a_slot_block_of_its_own():
    code = ("import sys\nfrom course_lib.instructor.grading import remote\nb = remote.slot_block()\n"
            "print(b.first, b.last, flush=True)\nsys.stdin.read()")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        (a0, a1), (b0, b1) = [tuple(int(x) for x in p.stdout.readline().split()) for p in procs]
        assert remote.FIRST_SLOT <= a0 <= a1 and remote.FIRST_SLOT <= b0 <= b1
        assert a1 < b0 or b1 < a0, "two worker processes share sandbox uids"
        held = subprocess.run([sys.executable, "-c", code], env={**os.environ, "COURSE_GRADE_SLOTS": f"{a0}-{a1}"},
                              input="", capture_output=True, text=True, timeout=120)
        assert held.returncode != 0 and "held by another process" in held.stderr, held.stderr[-2000:]
    finally:
        for p in procs:
            p.communicate("")


def test_results_and_checkouts_are_checked(tmp_path):
    with pytest.raises(ValueError, match="unsafe file name"):
        remote.write_files(tmp_path / "out", {"../../etc/evil": b"x"})
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.ipynb").write_bytes(b"{}")
    (tmp_path / "sub" / "link").symlink_to("/etc/passwd")
    assert remote.files_of(tmp_path / "sub") == {"a.ipynb": b"{}"}  # links never travel
    course = Path(__file__).resolve().parent.parent
    expect = {**remote.expectations(course, "ps1"), "config and source notebooks": "another checkout"}
    with pytest.raises(RuntimeError, match="differs from the client's .config and source notebooks"):
        remote._prepare(course, {"assignment": "ps1", "expect": expect}, block=None)


def test_a_slot_stays_warm_for_one_run_and_stops_when_idle_at_its_end(tmp_path, monkeypatch):
    from course_lib.instructor.grading import slots
    from course_lib.instructor.grading.worker import Settings

    made, closed = [], []

    class Worker:  # a SlotWorker that starts nothing
        def __init__(self, settings, slot, cwd, log_path, env=None):
            self.slot, self.cwd, self.env = slot, cwd, env
            made.append(slot)

        def stop(self):
            pass

        def close(self, timeout=30):
            closed.append(self.slot)

    class Block:
        first, last = 300, 301
        free = [300, 301]

        def stage_root(self, course, assignment):
            return course / "grading" / assignment / "remote-300-301"

        def take_free(self):
            out, self.free[:] = list(self.free), []
            return out

        def give(self, slot):
            self.free.append(slot)

    course = tmp_path / "course"
    for folder in ("source_notebooks/ps1", "release/ps1"):
        (course / folder).mkdir(parents=True)
        (course / folder / "01.ipynb").write_text("{}")
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    block = Block()
    monkeypatch.setattr(slots, "SlotWorker", Worker)
    monkeypatch.setattr(remote, "_warm", {})
    monkeypatch.setattr(remote, "_block", [block])
    monkeypatch.setattr(remote, "_ready", {(str(course), "ps1"): []})
    spec = {"assignment": "ps1", "salt": "s1", "expect": {"course_lib": "1"}}
    settings = Settings(course="x", assignment="ps1")
    stage = lambda slot: block.stage_root(course, "ps1") / f"slot-{slot}"  # noqa: E731

    first = remote._slot_worker(300, stage(300), course, spec, settings, {})
    assert remote._slot_worker(300, stage(300), course, spec, settings, {}) is first  # the same run: kept
    assert made == [300] and (stage(300) / "release" / "ps1" / "01.ipynb").is_file()
    assert (stage(300) / "grading" / "ps1" / "hidden_seed_salt").read_text() == "s1"
    (stage(300) / "submitted" / "ann" / "ps1").mkdir(parents=True)
    (stage(300) / "grading" / "ps1" / "logs" / "ann.log").write_text("log")
    remote._clear(stage(300), "ps1")  # a task's end: nothing of its student is left
    assert not (stage(300) / "submitted").exists() and not list((stage(300) / "grading" / "ps1" / "logs").iterdir())

    other = remote._slot_worker(300, stage(300), course, {**spec, "salt": "s2"}, settings, {})  # another run
    assert other is not first and closed == [300] and made == [300, 300]
    assert (stage(300) / "grading" / "ps1" / "hidden_seed_salt").read_text() == "s2"
    remote._slot_worker(301, stage(301), course, spec, settings, {})

    block.free[:] = [300]  # a task holds slot 301
    assert remote.close_warm() == 1
    assert closed == [300, 300] and not stage(300).exists() and stage(301).is_dir()
    assert list(remote._warm) == [301] and sorted(block.free) == [300]
