"""Benchmark: grading the whole problem set, plain nbgrader against course-grade.

    python scripts/bench_grading.py [--students 4] [--jobs 2]

Builds a scratch course (this repository's nbgrader_config.py and
source_notebooks/ps1) in a temporary folder, with N students who submit the
solution and the weights file notebook 03 saves. Then, each on a fresh copy:

1. serial plain nbgrader: ``nbgrader autograde ps1`` (unconfined, one student at a time);
2. the machine's ceiling: J plain ``nbgrader autograde`` processes at once, each on
   its own copy of the course with a disjoint share of the students and cores/J math
   threads (unconfined, no checks, no shared gradebook: no parallel grader can do better);
3. ``course-grade --jobs J --no-feedback`` (confined kernels, J students at a time);
4. ``course-grade --jobs J`` (feedback pages too);
5. ``course-grade --jobs J --no-feedback --no-guard``: the same as 3 without the
   run-time guard and the signed verdicts, so 3 minus 5 is what they cost.

``--breakdown`` grades one solved and one blank student (``--jobs 1``) and prints, per
notebook, where the time goes: nbgrader's work before the kernel, the kernel's start
(sandbox, Python, the guard, the preloaded checks), the setup cell (imports), the
notebook's own cells, the test cells (the floor), the gaps between cells, and what
follows the last cell (shutdown, the verdicts, saving the grades); then the tamper
scan and the feedback pages per student.

``--class`` measures the aims of issue 23: ``course-grade --jobs J --no-feedback`` on N
solved students, then on N blank ones (each the notebooks as released), the class's wall
time divided by its students, and the floor (the test cells alone, summed); each twice, in
turns: as it runs (kernels forked from each slot's zygote, demonstration cells not run)
and with ``--fresh-kernels --run-demos`` (every kernel started from nothing, every cell run:
the grader before issue 23). ``--now-only`` skips the second.

``--guard-cost R`` measures only that cost, on a busy machine too: R rounds of 3
and 5, in turns ABBA (a change in the machine's load, and the first run of a round
paying for cold caches, hit both alike), and the median of each.

Prints students per minute, the wall time per student and the speed-ups.
Aims (issue 8): course-grade at least 1.8x serial on 2 cores, under 30 s per student.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("COURSE_OFFLINE_WEIGHTS_TARGET", "0.78")  # offline weights (see tests/conftest.py)

import nbformat  # noqa: E402
import torch  # noqa: E402

from course_lib.data import load_fashion_mnist  # noqa: E402
from course_lib.engine import load_cells  # noqa: E402
from course_lib.instructor.grading import course as course_mod  # noqa: E402
from course_lib.instructor.grading import sandbox  # noqa: E402
from course_lib.instructor.release import solution_filled  # noqa: E402
from course_lib.data.saved_mlp import save_mlp  # noqa: E402

BIN = Path(sys.executable).parent


def weights(folder: Path) -> Path:
    """fashion_mlp.pt as notebook 03's solution saves it (its own make_model and train)."""
    ns = load_cells(ROOT / "source_notebooks" / "ps1" / "03_mlp.ipynb", grade_ids=("torch_model",),
                    given={"tqdm": lambda x, **k: x}, folder=ROOT / "source_notebooks" / "ps1")
    data = load_fashion_mnist(flatten=True)
    torch.manual_seed(0)
    model = ns["make_model"]()
    history = ns["train"](model, data)
    path = folder / "fashion_mlp.pt"
    save_mlp(model, path, data, history=history)
    return path


def make_course(root: Path, students: int, weights_file: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "source_notebooks" / "ps1", root / "source_notebooks" / "ps1",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.pt"))
    course_mod.ensure_assignment(root, "ps1", course_mod.db_url(root), logging.getLogger("bench"))
    for k in range(students):
        dest = root / "submitted" / f"student{k:02d}" / "ps1"
        dest.mkdir(parents=True)
        for nb in sorted((root / "release" / "ps1").glob("*.ipynb")):
            nbformat.write(solution_filled(nb, root / "source_notebooks" / "ps1" / nb.name), str(dest / nb.name))
        shutil.copy(weights_file, dest / weights_file.name)
    return root


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra)


def timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True)
    return time.perf_counter() - t0, proc


def ceiling(template: Path, tmp: Path, jobs: int) -> tuple[float, str]:
    """Wall time of ``jobs`` plain nbgrader autogrades at once on disjoint students."""
    students = sorted(p.name for p in (template / "submitted").iterdir())
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    procs = []
    t0 = time.perf_counter()
    for k in range(jobs):
        course = tmp / f"ceiling{k}"
        shutil.copytree(template, course)
        for s in [s for i, s in enumerate(students) if i % jobs != k]:  # keep every jobs-th student
            shutil.rmtree(course / "submitted" / s)
        procs.append(subprocess.Popen([str(BIN / "nbgrader"), "autograde", "ps1"], cwd=course,
                                      env=_env(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    errors = [p.communicate()[1] for p in procs]
    seconds = time.perf_counter() - t0
    bad = [e[-300:] for p, e in zip(procs, errors) if p.returncode not in (0, 1)]
    return seconds, "ok" if not bad else f"failed: {bad[0]}"


PHASES = ("nbgrader before", "kernel start", "setup cell", "own cells", "test cells", "between cells", "after")


def _stamp(text: str) -> float:
    """Seconds since the epoch of a log line's time (local) or nbclient's ISO time (UTC, 'Z')."""
    if text.endswith("Z"):
        return datetime.fromisoformat(text[:-1] + "+00:00").timestamp()
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def phases(log: str, autograded: Path) -> dict[str, dict[str, float]]:
    """``{notebook: {phase: seconds}}`` from a worker's log and the autograded notebooks' cell timings."""
    from course_lib import nbmeta

    events = [(_stamp(m.group(1)), line) for line in log.splitlines()
              if (m := re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \[", line))]
    starts = [(t, re.search(r"/([^/]+)\.ipynb", line).group(1)) for t, line in events if "Sanitizing" in line]
    out = {}
    for i, (t0, name) in enumerate(starts):
        t_end = starts[i + 1][0] if i + 1 < len(starts) else events[-1][0]
        t_exec = next((t for t, line in events if t >= t0 and "Converting notebook" in line
                       and "/autograded/" in line and f"/{name}.ipynb" in line), t0)
        path = autograded / f"{name}.ipynb"
        if not path.is_file():
            continue
        cells = [(c, c.metadata.get("execution", {})) for c in nbformat.read(path, as_version=4).cells
                 if c.cell_type == "code"]
        spans = [(c, _stamp(m["iopub.status.busy"]), _stamp(m["iopub.status.idle"])) for c, m in cells
                 if "iopub.status.busy" in m and "iopub.status.idle" in m]
        if not spans:
            continue
        first, last = spans[0][1], spans[-1][2]
        setup = spans[0][2] - spans[0][1]
        tests = sum(b - a for c, a, b in spans if nbmeta.is_autograded_test(c))
        own = sum(b - a for c, a, b in spans[1:] if not nbmeta.is_autograded_test(c))
        out[name] = {"nbgrader before": t_exec - t0, "kernel start": first - t_exec, "setup cell": setup,
                     "own cells": own, "test cells": tests, "between cells": (last - first) - setup - own - tests,
                     "after": t_end - last}
    return out


def breakdown(template: Path, tmp: Path) -> int:
    """Where the time of one solved and one blank student goes (see the module's docstring)."""
    from course_lib.instructor import tamper

    course = tmp / "breakdown"
    shutil.copytree(template, course)
    solved = sorted(p.name for p in (course / "submitted").iterdir())[0]
    for extra in sorted(p.name for p in (course / "submitted").iterdir())[1:]:
        shutil.rmtree(course / "submitted" / extra)
    shutil.copytree(course / "release" / "ps1", course / "submitted" / "blank" / "ps1")
    seconds, proc = timed([str(BIN / "course-grade"), "submitted", "--jobs", "1", "--no-feedback", "--quiet"], course)
    print(f"course-grade --jobs 1 --no-feedback, one solved and one blank student: {seconds:.1f} s "
          f"[exit {proc.returncode}]")
    for student in (solved, "blank"):
        log = (course / "grading" / "ps1" / "logs" / f"{student}.log").read_text()
        table = phases(log, course / "autograded" / student / "ps1")
        print(f"\n{student}: seconds per notebook and phase")
        print(f"{'notebook':22s}" + "".join(f"{p:>16s}" for p in PHASES) + f"{'total':>10s}")
        for name, row in table.items():
            print(f"{name:22s}" + "".join(f"{row[p]:16.2f}" for p in PHASES) + f"{sum(row.values()):10.2f}")
        sums = {p: sum(row[p] for row in table.values()) for p in PHASES}
        print(f"{'all':22s}" + "".join(f"{sums[p]:16.2f}" for p in PHASES) + f"{sum(sums.values()):10.2f}")
        t0 = time.perf_counter()
        tamper.scan_submission(course / "submitted" / student / "ps1", course / "source_notebooks" / "ps1")
        print(f"{student}: tamper scan {time.perf_counter() - t0:.2f} s; the floor (test cells alone) "
              f"{sums['test cells']:.1f} s of {sum(sums.values()):.1f} s in the notebooks")
    feedback, proc = timed([str(BIN / "course-grade"), "feedback"], course)
    print(f"feedback pages for both students (course-grade feedback): {feedback:.1f} s [exit {proc.returncode}]")
    return 0


def _floor(course: Path) -> float:
    """Seconds of the autograded test cells of every student of ``course``, summed."""
    from course_lib import nbmeta

    total = 0.0
    for path in (course / "autograded").glob("*/ps1/*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            m = cell.metadata.get("execution", {})
            if nbmeta.is_autograded_test(cell) and "iopub.status.busy" in m and "iopub.status.idle" in m:
                total += _stamp(m["iopub.status.idle"]) - _stamp(m["iopub.status.busy"])
    return total


def class_time(template: Path, tmp: Path, args) -> int:
    """Per student wall time of solved and of blank classes, now and as before issue 23."""
    blank = tmp / "blank-template"
    shutil.copytree(template, blank)
    for k, folder in enumerate(sorted((blank / "submitted").iterdir())):
        shutil.rmtree(folder)
        shutil.copytree(blank / "release" / "ps1", blank / "submitted" / f"blank{k:02d}" / "ps1")
    base = [str(BIN / "course-grade"), "submitted", "--jobs", str(args.jobs), "--no-feedback", "--quiet"]
    modes = {"now": [], "before (--fresh-kernels --run-demos)": ["--fresh-kernels", "--run-demos"]}
    if args.now_only:
        modes.pop("before (--fresh-kernels --run-demos)")
    for kind, source in (("solved", template), ("blank", blank)):
        for label, extra in modes.items():
            course = tmp / f"class-{kind}-{len(extra)}"
            shutil.copytree(source, course)
            seconds, proc = timed([*base, *extra], course)
            ok = "ok" if proc.returncode in (0, 1) else f"exit {proc.returncode}: {proc.stderr[-300:]}"
            scores = [json.loads(p.read_text()) for p in sorted((course / "grading" / "ps1" / "results").glob("*.json"))]
            totals = [sum(q["score"] for q in r["problems"]) for r in scores]
            got = ", ".join(f"{t:g}" for t in totals)
            # a solved class scores full marks, a blank one nothing: anything else is a grading fault
            want = [sum(q["points"] for q in r["problems"]) if kind == "solved" else 0 for r in scores]
            if ok == "ok" and (totals != want or len(scores) != args.students):
                lost = sorted({f"{q['notebook']}/{q['grade_id']}" for r in scores for q in r["problems"]
                               if (q["score"] != q["points"]) == (kind == "solved")})
                ok = f"WRONG SCORES ({kind}): {', '.join(lost[:6]) or 'students missing'}"
            print(f"{kind:6s} {label:38s} {seconds:7.1f} s for {args.students} students = "
                  f"{seconds / args.students:5.1f} s per student; floor (test cells) "
                  f"{_floor(course) / args.students:4.1f} s per student; scores {got} [{ok}]", flush=True)
    return 0


def guard_cost(template: Path, tmp: Path, args) -> int:
    """Alternate course-grade with and without the guard; print each run and the medians."""
    base = [str(BIN / "course-grade"), "submitted", "--jobs", str(args.jobs), "--no-feedback", "--quiet"]
    times: dict[str, list[float]] = {"guarded": [], "unguarded": []}
    for r in range(args.guard_cost):
        order = (("guarded", []), ("unguarded", ["--no-guard"]))
        for label, extra in order if r % 2 == 0 else order[::-1]:  # ABBA: the first run of a round pays more
            course = tmp / f"cost{r}{label}"
            shutil.copytree(template, course)
            seconds, proc = timed([*base, *extra], course)
            flagged = sum(bool(json.loads(p.read_text()).get("findings"))
                          for p in (course / "grading" / "ps1" / "results").glob("*.json"))
            times[label].append(seconds)
            print(f"round {r + 1}, {label}: {seconds:.1f} s for {args.students} students "
                  f"({seconds / args.students:.1f} s per student; {flagged} flagged) [exit {proc.returncode}]")
            shutil.rmtree(course, ignore_errors=True)
    g, u = statistics.median(times["guarded"]), statistics.median(times["unguarded"])
    print(f"cost of the run-time guard and the signed verdicts: median {g:.1f} s with, {u:.1f} s without: "
          f"{g - u:+.1f} s ({100 * (g / u - 1):+.1f}%), {(g - u) / args.students:+.1f} s per student")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--breakdown", action="store_true", help="where the time of one solved and one blank student goes")
    ap.add_argument("--class", dest="class_time", action="store_true",
                    help="seconds per solved and per blank student, now and as before (issue 23's aims)")
    ap.add_argument("--now-only", action="store_true", help="with --class: only as it runs now")
    ap.add_argument("--guard-cost", type=int, default=0, metavar="R",
                    help="only the guard's cost: R alternating rounds with and without it")
    args = ap.parse_args()
    print(f"== grading benchmark: {args.students} students x the whole problem set (7 notebooks) ==")
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}")
    why = sandbox.probe()
    print(f"confinement: {'bubblewrap' if why is None else 'UNAVAILABLE: ' + why}")
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        (tmp / "w").mkdir()
        w = weights(tmp / "w")
        template = make_course(tmp / "template", args.students, w)
        # the offline DeepDream classifier is trained once, outside any timing
        from course_lib.dream.models import load_classifier

        load_classifier(prefer="mnist", verbose=False)
        if args.breakdown:
            return breakdown(template, tmp)
        if args.guard_cost:
            return guard_cost(template, tmp, args)
        if args.class_time:
            return class_time(template, tmp, args)
        rows = []
        runs = [("serial plain nbgrader (autograde, unconfined)", [str(BIN / "nbgrader"), "autograde", "ps1"]),
                (f"course-grade --jobs {args.jobs} --no-feedback (confined)",
                 [str(BIN / "course-grade"), "submitted", "--jobs", str(args.jobs), "--no-feedback", "--quiet"]),
                (f"course-grade --jobs {args.jobs} (confined, with feedback)",
                 [str(BIN / "course-grade"), "submitted", "--jobs", str(args.jobs), "--quiet"]),
                (f"course-grade --jobs {args.jobs} --no-feedback --no-guard (confined, no guard, no verdicts)",
                 [str(BIN / "course-grade"), "submitted", "--jobs", str(args.jobs), "--no-feedback", "--no-guard",
                  "--quiet"])]
        for label, cmd in runs:
            course = tmp / f"run{len(rows)}"
            shutil.copytree(template, course)
            seconds, proc = timed(cmd, course)
            per = []
            results = course / "grading" / "ps1" / "results"
            for p in sorted(results.glob("*.json")) if results.is_dir() else []:
                r = json.loads(p.read_text())
                per.append(r["seconds"])
                bad = [q for q in r["problems"] if q["status"] != "passed"]
                if bad:
                    print(f"  note: {r['student']}: {len(bad)} problem(s) not passed, e.g. {bad[0]}")
            ok = "ok" if proc.returncode in (0, 1) else f"exit {proc.returncode}: {proc.stderr[-500:]}"
            rows.append((label, seconds, per, ok))
            print(f"{label}: {seconds:.1f} s for {args.students} students = "
                  f"{60 * args.students / seconds:.2f} students/min, {seconds / args.students:.1f} s per student"
                  + (f"; each student's own grading took {statistics.mean(per):.1f} s on average "
                     f"(min {min(per):.1f}, max {max(per):.1f})" if per else "") + f" [{ok}]")
            if len(rows) == 1:
                seconds, ok = ceiling(template, tmp, args.jobs)
                print(f"ceiling, {args.jobs} plain nbgrader at once on disjoint students (unconfined, no checks): "
                      f"{seconds:.1f} s = {60 * args.students / seconds:.2f} students/min, "
                      f"{seconds / args.students:.1f} s per student [{ok}]")
                best = seconds
                if seconds > rows[0][1]:
                    print("  note: slower than serial: plain nbgrader probably hit the lost wake-up of an Output-widget "
                          "cell (it waits the whole cell timeout; course-grade's GuardedExecute recovers in 1 s)")
        guarded, unguarded = rows[1], rows[3]
        print(f"cost of the run-time guard and the signed verdicts: {guarded[1] - unguarded[1]:+.1f} s wall "
              f"({100 * (guarded[1] / unguarded[1] - 1):+.0f}%), "
              f"{statistics.mean(guarded[2] or [0]) - statistics.mean(unguarded[2] or [0]):+.1f} s per student's own "
              "grading")
        serial, confined = rows[0][1], rows[1][1]
        speedup = serial / confined
        print(f"speed-up over serial nbgrader: ceiling {serial / best:.2f}x, course-grade --jobs {args.jobs} "
              f"{speedup:.2f}x ({100 * best / confined:.0f}% of the ceiling; aim >= 1.8x: "
              f"{'met' if speedup >= 1.8 else 'NOT met'}); throughput time per student "
              f"{confined / args.students:.1f} s (aim < 30 s: {'met' if confined / args.students < 30 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
