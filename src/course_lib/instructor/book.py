"""Build the workbook's Jupyter Book, offline, for students or for instructors.

    python -m course_lib.instructor.book --audience student      # `make book`
    python -m course_lib.instructor.book --audience instructor   # `make book-instructor`
    python -m course_lib.instructor.book --audience student --out /tmp/book

- **student** (default output ``_build/html``): the book as ``_config.yml`` and
  ``_toc.yml`` describe it. Problem pages are the student notebooks of
  ``release/ps1/``; ``source_notebooks/`` is excluded.
- **instructor** (default output ``_build/instructor/html``): the same book with
  every ``release/ps1/`` page replaced by its ``source_notebooks/ps1/``
  counterpart, so the model answers to the written questions appear. It is
  built from a generated config and toc under ``_build/instructor/``; no second
  toc is ever kept at the book root.

The build runs ``jupyter-book build`` with ``-W --keep-going``: any Sphinx
warning fails it (non-zero exit). It needs ``book/vendor/`` (MathJax and
plotly.js, filled by ``scripts/setup.sh``) and checks afterwards that no page
loads anything from another host and, for students, that no solution text
reached the HTML.
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterable, Iterator

import yaml

STUDENT_DIR = "release/ps1/"
INSTRUCTOR_DIR = "source_notebooks/ps1/"
#: Files that must be in book/vendor/ (relative to it) before a build.
VENDOR_FILES = ("mathjax/tex-chtml.js", "plotly/plotly.min.js")
#: Text that only instructor notebooks hold (nbgrader solution and hidden-test regions).
SOLUTION_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                    "BEGIN MARK SCHEME", "END MARK SCHEME")
#: (tag, attribute) pairs through which a browser fetches something on page load.
FETCHING_ATTRS = {
    ("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"),
    ("object", "data"), ("embed", "src"), ("source", "src"), ("video", "src"),
    ("audio", "src"), ("track", "src"), ("input", "src"),
}
_LOCAL_HOSTS = re.compile(r"^(https?:)?//(127\.0\.0\.1|localhost)([:/]|$)", re.IGNORECASE)


class BookError(RuntimeError):
    """A build that cannot start or whose result breaks a promise of the book."""


# --------------------------------------------------------------------------- paths

def book_root(start: Path | None = None) -> Path:
    """The book root: the nearest folder holding ``_config.yml`` and ``_toc.yml``,
    looking from ``start`` (default: the working directory), then from this file."""
    for origin in (Path(start or Path.cwd()), Path(__file__)):
        for folder in [origin.resolve(), *origin.resolve().parents]:
            if (folder / "_config.yml").is_file() and (folder / "_toc.yml").is_file():
                return folder
    raise BookError(f"no folder with _config.yml and _toc.yml above {Path.cwd()} or {__file__}")


def default_out(root: Path, audience: str) -> Path:
    return root / "_build" / ("html" if audience == "student" else "instructor/html")


# --------------------------------------------------------------------- preconditions

def check_vendor(root: Path) -> None:
    """Fail clearly when the offline assets are missing."""
    missing = [f for f in VENDOR_FILES if not (root / "book" / "vendor" / f).is_file()]
    if missing:
        raise BookError(
            "book/vendor/ is missing or incomplete (no "
            + ", ".join(f"book/vendor/{f}" for f in missing)
            + "): run scripts/setup.sh first. It installs the book's npm packages "
            "and copies MathJax and plotly.js into book/vendor/ so the book builds "
            "and renders with no network."
        )


def toc_files(toc: dict) -> Iterator[str]:
    """Every document named in a sphinx-external-toc structure (root first)."""
    if "root" in toc:
        yield toc["root"]

    def walk(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            if "file" in node:
                yield node["file"]
            for key in ("parts", "chapters", "sections", "subtrees", "entries"):
                for child in node.get(key, []) or []:
                    yield from walk(child)
        elif isinstance(node, list):
            for child in node:
                yield from walk(child)

    yield from walk({k: v for k, v in toc.items() if k != "root"})


def resolve_doc(root: Path, doc: str) -> Path | None:
    for suffix in ("", ".md", ".ipynb", ".rst"):
        path = root / f"{doc}{suffix}"
        if path.is_file():
            return path
    return None


def check_toc_documents(root: Path, toc: dict, toc_name: str) -> None:
    missing = [doc for doc in toc_files(toc) if resolve_doc(root, doc) is None]
    if not missing:
        return
    hints = []
    if any(doc.startswith(STUDENT_DIR) for doc in missing):
        hints.append("the student notebooks are generated from source_notebooks/ps1/ "
                     "by `make release`")
    if any(doc.startswith(INSTRUCTOR_DIR) for doc in missing):
        hints.append("the instructor notebooks live in source_notebooks/ps1/")
    raise BookError(
        f"{toc_name} lists documents that do not exist: "
        + ", ".join(missing)
        + (" (" + "; ".join(hints) + ")" if hints else "")
    )


# ------------------------------------------------------------- instructor variant

def instructor_toc(toc: dict) -> dict:
    """``toc`` with every ``release/ps1/`` document swapped for ``source_notebooks/ps1/``."""
    def swap(node: object) -> object:
        if isinstance(node, dict):
            return {k: (v.replace(STUDENT_DIR, INSTRUCTOR_DIR, 1)
                        if k in ("file", "root") and isinstance(v, str) and v.startswith(STUDENT_DIR)
                        else swap(v))
                    for k, v in node.items()}
        if isinstance(node, list):
            return [swap(child) for child in node]
        return node

    return swap(toc)  # type: ignore[return-value]


def instructor_config(config: dict) -> dict:
    """``config`` that lets source_notebooks/ in and keeps the student notebooks out."""
    config = dict(config)
    excluded = [p for p in config.get("exclude_patterns", [])
                if p.rstrip("/") != INSTRUCTOR_DIR.split("/")[0]]
    config["exclude_patterns"] = excluded + ["release"]
    config["title"] = f"{config.get('title', 'Book')} (instructor edition)"
    sphinx = dict(config.get("sphinx") or {})
    sphinx["config"] = {**dict(sphinx.get("config") or {}), "course_audience": "instructor"}
    config["sphinx"] = sphinx
    return config


def write_yaml(path: Path, data: dict, header: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    return path


# ----------------------------------------------------------------- after a build

class _FetchCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (tag, name) in FETCHING_ATTRS and value:
                self.refs.append((tag, name, value.strip()))
            elif tag in ("img", "source") and name == "srcset" and value:
                for candidate in value.split(","):
                    self.refs.append((tag, name, candidate.strip().split(" ")[0]))


def is_external(url: str) -> bool:
    """True for a URL that leaves this machine: ``http(s)://`` or ``//`` to another host."""
    lowered = url.lower()
    if not (lowered.startswith(("http://", "https://", "//"))):
        return False
    return not _LOCAL_HOSTS.match(url)


def external_refs(html_dir: Path) -> list[str]:
    """``file: <tag attr=url>`` for each external fetch in the HTML under ``html_dir``."""
    found = []
    for page in sorted(html_dir.rglob("*.html")):
        parser = _FetchCollector()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        for tag, attr, url in parser.refs:
            if is_external(url):
                found.append(f"{page.relative_to(html_dir)}: <{tag} {attr}={url}>")
    return found


def solution_leaks(html_dir: Path, root: Path) -> list[str]:
    """Files of a student build that hold solution text or come from source_notebooks."""
    leaks = []
    for path in sorted(p for p in html_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(html_dir)
        if INSTRUCTOR_DIR.split("/")[0] in rel.parts:
            leaks.append(f"{rel}: copied from source_notebooks/")
            continue
        if path.suffix not in (".html", ".ipynb", ".md", ".js", ".txt", ".py", ".json"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for marker in SOLUTION_MARKERS:
            if marker in text:
                leaks.append(f"{rel}: contains {marker!r}")
                break
    return leaks


def verify(html_dir: Path, root: Path, audience: str) -> None:
    problems = [f"external request: {r}" for r in external_refs(html_dir)]
    if audience == "student":
        problems += [f"solution text in the student book: {leak}"
                     for leak in solution_leaks(html_dir, root)]
    if problems:
        raise BookError("the built book breaks its promises:\n  " + "\n  ".join(problems))


# ------------------------------------------------------------------------ build

def run_jupyter_book(root: Path, path_output: Path, config: Path | None, toc: Path | None) -> None:
    cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
           "build", str(root), "--path-output", str(path_output),
           "--builder", "html", "-W", "--keep-going",
           # a fresh environment every time: warnings of unchanged pages are
           # reported again, so -W sees them (a full build takes seconds)
           "--all"]
    if config is not None:
        cmd += ["--config", str(config)]
    if toc is not None:
        cmd += ["--toc", str(toc)]
    result = subprocess.run(cmd, cwd=root)
    if result.returncode != 0:
        raise BookError(
            f"jupyter-book build failed (exit {result.returncode}); warnings count as "
            "errors here, see the messages above"
        )


def build(audience: str = "student", out: Path | None = None, root: Path | None = None,
          config: Path | None = None) -> Path:
    """Build the book for ``audience`` into ``out``; return the HTML folder.

    ``config`` is a ``_config.yml`` to use instead of the book root's (paths in
    it stay relative to the book root), e.g. to preview the book with another
    ``repository.url``."""
    if audience not in ("student", "instructor"):
        raise BookError(f"audience must be 'student' or 'instructor', not {audience!r}")
    root = book_root(root)
    out = Path(out).resolve() if out is not None else default_out(root, audience)
    check_vendor(root)

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    config_file = Path(config).resolve() if config is not None else None
    toc_file = None
    if audience == "instructor":
        work = root / "_build" / "instructor"
        header = ("# Generated by course_lib.instructor.book for the instructor build; "
                  "do not edit, do not commit.\n")
        toc = instructor_toc(toc)
        toc_file = write_yaml(work / "_toc.yml", toc, header)
        base = yaml.safe_load((config_file or root / "_config.yml").read_text(encoding="utf-8"))
        config_file = write_yaml(work / "_config.yml", instructor_config(base), header)
    check_toc_documents(root, toc, "the instructor toc" if toc_file else "_toc.yml")

    # jupyter-book writes its HTML to <path-output>/_build/html. Use that
    # directly when it is `out`; otherwise build beside `out` and move it there.
    if out.name == "html" and out.parent.name == "_build":
        path_output = out.parent.parent
    else:
        path_output = out.parent / f".jb-{out.name}"
    built = path_output / "_build" / "html"
    if built != out and out.exists() and any(out.iterdir()) and not (out / ".buildinfo").is_file():
        raise BookError(f"{out} exists and is not an earlier HTML build of a book; "
                        "choose an empty or new folder for --out")

    start = time.perf_counter()
    run_jupyter_book(root, path_output, config_file, toc_file)
    if built != out:
        if out.exists():
            shutil.rmtree(out)  # checked above: empty or an earlier HTML build
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(built), str(out))
    verify(out, root, audience)
    elapsed = time.perf_counter() - start
    print(f"\nBuilt the {audience} book in {elapsed:.1f} s: {out / 'index.html'}")
    return out


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.instructor.book",
        description="Build the workbook's Jupyter Book offline (Sphinx warnings are errors).",
    )
    parser.add_argument("--audience", choices=("student", "instructor"), default="student",
                        help="student: release/ps1 notebooks (default); "
                             "instructor: source_notebooks/ps1 with the model answers")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the HTML (default: _build/html for students, "
                             "_build/instructor/html for instructors)")
    parser.add_argument("--root", type=Path, default=None,
                        help="book root (default: the folder holding _config.yml and _toc.yml)")
    parser.add_argument("--config", type=Path, default=None,
                        help="a _config.yml to build with instead of the book root's "
                             "(e.g. to preview another repository.url)")
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        build(args.audience, args.out, args.root, args.config)
    except BookError as exc:
        print(f"book: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
