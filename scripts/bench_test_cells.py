"""Benchmark: the wall time of every autograded test cell, run as the grader runs it.

    .venv/bin/python scripts/bench_test_cells.py                     # every notebook
    .venv/bin/python scripts/bench_test_cells.py '07_*'              # some of them
    .venv/bin/python scripts/bench_test_cells.py '07_*' --profile test_octaves --profile test_layer

For each source notebook of ps1, with its solutions filled in (the solution
cells without their BEGIN/END SOLUTION lines) and its hidden tests in (as
``nbgrader autograde`` restores them), in a fresh Jupyter kernel started in a
temporary copy of the notebook's folder:

- the cells run one by one, in order, as ``course-grade`` runs them: the
  demonstration cells (tagged ``demo``, :func:`course_lib.nbmeta.demo_ids`) are
  skipped unless ``--with-demos``; ``NBGRADER_EXECUTION=autograde``; the kernel's
  home is a new, empty folder (no PoCL kernel cache from earlier runs; the
  course's data and model caches are named by ``COURSE_DATA_ROOT``,
  ``COURSE_MODEL_CACHE`` and ``COURSE_DATA_DIR``, as the grader names them),
  unless ``--keep-home``; the math libraries get ``--threads`` threads (default
  0: left alone, so torch uses every core, as under ``nbgrader autograde``;
  ``course-grade`` gives each kernel cores / ``--jobs``, 1 with its default
  ``--jobs``); ``--hidden-seed`` sets ``COURSE_HIDDEN_SEED`` as for one
  student;
- every autograded test cell (``grade: true``, not a solution) is timed: the
  wall clock around its execution in the kernel, and (with psutil) the CPU
  time of the kernel and the processes it started (the GPU checks' worker
  processes) in that time; a cell is marked ``SLOW`` when its wall time is over
  ``--limit`` seconds (default 1), ``ERROR`` when it raised. Other work on the
  machine makes both longer (two torch threads on two busy cores wait for each
  other): ``--repeat N`` runs every notebook N times and reports each cell's
  shortest and median wall time and its least CPU time, the shortest being the
  nearest to a quiet machine;
- a cell that makes a file the student submits beside the notebook (notebook
  03 trains and saves ``fashion_mlp.pt`` when ``should_train`` says so, which
  it never does while grading) runs as on the student's machine, untimed, so
  that the test after it grades a file as the grader would; as in
  ``bench_checks.py``, ``COURSE_OFFLINE_WEIGHTS_TARGET`` defaults to 0.78
  (offline the weights are trained on 1,115 images);
- ``--profile GRADE_ID`` runs that test cell under cProfile instead (its time
  then includes the profiler's overhead) and prints the ``--top`` entries by
  cumulative time after the table.

Prints numbers; asserts nothing (a benchmark, not a test).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from course_lib import nbmeta  # noqa: E402

SOURCE_DIR = ROOT / "source_notebooks" / "ps1"
#: A cell holding this makes files the student submits; grading never runs its training (see the module).
STUDENT_RUN = "should_train("
LITTER = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", ".DS_Store")

_PROFILED = '''
import cProfile as _bench_cprofile, io as _bench_io, pstats as _bench_pstats
_bench_profile = _bench_cprofile.Profile()
_bench_profile.enable()
try:
    exec(compile({source!r}, "<test cell {grade_id}>", "exec"))
finally:
    _bench_profile.disable()
    _bench_out = _bench_io.StringIO()
    _bench_pstats.Stats(_bench_profile, stream=_bench_out).sort_stats("cumulative").print_stats({top})
    print("@@PROFILE@@" + _bench_out.getvalue())
'''


def solution_filled_source(path: Path) -> nbformat.NotebookNode:
    """The source notebook with every solution cell's delimiters removed: the solved
    notebook, hidden tests in."""
    nb = nbmeta.read(path)
    for cell in nb.cells:
        if nbmeta.is_solution(cell):
            cell.source = nbmeta.without_solution_delimiters(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _tree_cpu(pid: int | None) -> float:
    """CPU seconds (user + system) of process ``pid`` and its descendants so far; nan without psutil."""
    try:
        import psutil
    except ImportError:
        return float("nan")
    if pid is None:
        return float("nan")
    total = 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return float("nan")
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system + (times.children_user + times.children_system if proc is root else 0)
        except psutil.Error:
            pass
    return total


def _kernel_pid(client: NotebookClient) -> int | None:
    provisioner = getattr(client.km, "provisioner", None)
    return getattr(provisioner, "pid", None) or getattr(getattr(provisioner, "process", None), "pid", None)


def kernel_env(args: argparse.Namespace, home: Path) -> dict[str, str]:
    """The kernel's environment: the grader's variables, a fresh home unless ``--keep-home``."""
    env = dict(os.environ, NBGRADER_EXECUTION="autograde")
    env.setdefault("COURSE_OFFLINE_WEIGHTS_TARGET", "0.78")
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    if args.hidden_seed is not None:
        env["COURSE_HIDDEN_SEED"] = str(args.hidden_seed)
    if not args.keep_home:
        from course_lib.data import default_root
        from course_lib.data.images import ENV_DATA_DIR, find_shared_data

        folder, _ = find_shared_data("fashion_mnist_2k")
        caches = {ENV_DATA_DIR: os.environ.get(ENV_DATA_DIR) or (str(folder.parent) if folder else None),
                  "COURSE_DATA_ROOT": str(default_root()),
                  "COURSE_MODEL_CACHE": os.environ.get("COURSE_MODEL_CACHE") or str(default_root().parent / "models")}
        env.update({k: str(Path(v).resolve()) for k, v in caches.items() if v and Path(v).is_dir()})
        home.mkdir(parents=True, exist_ok=True)
        env["HOME"] = str(home)
    return env


def _run_code(client: NotebookClient, code: str) -> None:
    """Run ``code`` in the notebook's kernel, outside the notebook."""
    cell = nbformat.v4.new_code_cell(code)
    client.execute_cell(cell, 0)
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    if errors:
        raise RuntimeError(f"bench_test_cells: {errors[0].get('ename')}: {errors[0].get('evalue')}")


def _stdout(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


Row = tuple[str, float, float, str]


def time_notebook(path: Path, args: argparse.Namespace) -> tuple[list[Row], dict[str, str], float]:
    """([(grade_id, wall seconds, CPU seconds, status)], {grade_id: profile text}, seconds for the notebook)."""
    nb = solution_filled_source(path)
    demos = set() if args.with_demos else set(nbmeta.demo_ids(nb))
    rows: list[Row] = []
    profiles: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cells-") as tmp:
        workdir = Path(tmp) / path.parent.name
        shutil.copytree(path.parent, workdir, ignore=LITTER)
        env = kernel_env(args, Path(tmp) / "home")
        client = NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(workdir)}})
        started = time.perf_counter()
        with client.setup_kernel(env=env):
            pid = _kernel_pid(client)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or nbmeta.grade_id(cell) in demos:
                    continue
                test = nbmeta.is_autograded_test(cell)
                grade_id = nbmeta.grade_id(cell) or f"cell {index}"
                profiled = test and grade_id in args.profile
                if profiled:
                    original = cell.source
                    cell.source = _PROFILED.format(source=original, grade_id=grade_id, top=args.top)
                if not test and STUDENT_RUN in cell.source:     # as the student ran it: not graded, not timed
                    _run_code(client, "import os as _bench_os\n"
                                      "_bench_grading = _bench_os.environ.pop('NBGRADER_EXECUTION', None)")
                    client.execute_cell(cell, index)
                    _run_code(client, "if _bench_grading: _bench_os.environ['NBGRADER_EXECUTION'] = _bench_grading")
                    continue
                cpu = _tree_cpu(pid) if test else 0.0
                start = time.perf_counter()
                client.execute_cell(cell, index)
                seconds = time.perf_counter() - start
                if not test:
                    continue
                errored = any(o.get("output_type") == "error" for o in cell.get("outputs", []))
                status = "ERROR" if errored else ("SLOW" if seconds > args.limit else "ok")
                if profiled:
                    text = _stdout(cell)
                    profiles[grade_id] = text.split("@@PROFILE@@", 1)[-1]
                    cell.source = original
                    status += " (profiled)"
                if errored:
                    error = next(o for o in cell.outputs if o.get("output_type") == "error")
                    status += f": {error.get('ename')}: {str(error.get('evalue'))[:120]}"
                rows.append((grade_id, seconds, _tree_cpu(pid) - cpu, status))
        total = time.perf_counter() - started
    return rows, profiles, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("glob", nargs="?", default="*.ipynb", help="which source notebooks (default: all)")
    parser.add_argument("--limit", type=float, default=1.0, help="seconds over which a cell is marked SLOW")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each notebook this many times, each in a new kernel, and report the "
                             "shortest and the median time of each cell (default 1)")
    parser.add_argument("--threads", type=int, default=0,
                        help="OMP/MKL threads of the kernel (default 0: left alone, all cores)")
    parser.add_argument("--keep-home", action="store_true",
                        help="run the kernel with this HOME (its PoCL kernel cache) instead of a fresh one")
    parser.add_argument("--hidden-seed", type=int, default=None, help="COURSE_HIDDEN_SEED, as for one student")
    parser.add_argument("--with-demos", action="store_true", help="run the demonstration cells too")
    parser.add_argument("--profile", action="append", default=[], metavar="GRADE_ID",
                        help="run this test cell under cProfile and print the profile (repeatable)")
    parser.add_argument("--top", type=int, default=30, help="profile lines to print")
    parser.add_argument("--json", type=Path, default=None, help="also write every run's rows to this JSON file")
    args = parser.parse_args()
    sources = sorted(SOURCE_DIR.glob(args.glob if args.glob.endswith(".ipynb") else args.glob + ".ipynb"))
    if not sources:
        parser.error(f"no source notebook matches {args.glob!r}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.2f}, Python {sys.version.split()[0]}; "
          f"kernel threads: {args.threads or 'default'}; demo cells {'run' if args.with_demos else 'skipped'}; "
          f"home: {'kept' if args.keep_home else 'fresh'}; "
          f"hidden seed: {args.hidden_seed if args.hidden_seed is not None else 'unset (the defaults)'}; "
          f"runs per notebook: {args.repeat}\n")
    many = args.repeat > 1
    print(f"{'notebook':<22} {'test cell':<24} {'wall s':>8} {'median':>8} {'CPU s':>7}  status" if many else
          f"{'notebook':<22} {'test cell':<24} {'wall s':>8} {'CPU s':>7}  status")
    slow, out, all_profiles = 0, [], {}
    for path in sources:
        runs: dict[str, list[Row]] = {}
        totals = []
        for run in range(args.repeat):
            rows, profiles, total = time_notebook(path, args)
            all_profiles.update(profiles)
            totals.append(total)
            for row in rows:
                runs.setdefault(row[0], []).append(row)
                out.append({"notebook": path.stem, "cell": row[0], "run": run, "seconds": round(row[1], 4),
                            "cpu_seconds": round(row[2], 3), "status": row[3]})
        for grade_id, rows in runs.items():
            walls = sorted(r[1] for r in rows)
            best = walls[0]
            cpu = min(r[2] for r in rows)
            errors = [r[3] for r in rows if r[3].startswith("ERROR")]
            status = errors[0] if errors else ("SLOW" if best > args.limit else "ok") + \
                (" (profiled)" if any("profiled" in r[3] for r in rows) else "")
            slow += best > args.limit
            median = statistics.median(walls)
            print(f"{path.stem:<22} {grade_id:<24} {best:8.3f} {median:8.3f} {cpu:7.2f}  {status}" if many else
                  f"{path.stem:<22} {grade_id:<24} {best:8.3f} {cpu:7.2f}  {status}", flush=True)
        print(f"{path.stem:<22} {'(whole notebook)':<24} {min(totals):8.3f}", flush=True)
    end_load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\ntest cells over {args.limit:g} s{' (shortest run)' if many else ''}: {slow} "
          f"(load average at the end: {end_load:.2f})")
    for grade_id, text in all_profiles.items():
        print(f"\n===== cProfile of {grade_id} (cumulative) =====\n{text.strip()}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0

if __name__ == "__main__":
    sys.exit(main())
