"""Copy the JavaScript the offline book serves into book/vendor/.

The book must render with no network, so it serves its own copies of:

- MathJax 3 (npm package ``mathjax``, installed by ``npm ci`` in ``book/``):
  ``tex-chtml.js`` and what it loads on demand - the TeX extensions that
  ``autoload`` pulls in, the CommonHTML web fonts, the menu, and the
  accessibility extensions (``a11y/`` with the speech rule engine ``sre/``)
  so that assistive output can be switched on from the MathJax menu;
- plotly.js, the copy that ships inside the installed Python ``plotly``
  package, so the figures in the book and the figures students make always
  agree on the version;
- axe-core (npm package ``axe-core``), the accessibility engine that the
  browser tests inject into every page of the built book
  (``tests/test_accessibility_book.py``). It is a test tool, not part of the
  book: ``_config.yml`` excludes ``axe-core`` from the static files, so the
  built book does not carry it.

Sphinx copies ``book/vendor/`` to ``_build/html/_static/`` (``html_static_path``
in ``_config.yml``). Run by ``scripts/setup.sh`` after ``npm ci``; safe to run
again (the destination is rebuilt from scratch).

Usage: ``python scripts/vendor_assets.py``
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
VENDOR = BOOK / "vendor"
MATHJAX_ES5 = BOOK / "node_modules" / "mathjax" / "es5"

# Paths inside mathjax/es5 that tex-chtml.js needs or may load at run time.
MATHJAX_PARTS = [
    "tex-chtml.js",  # the combined component: TeX input, CommonHTML output, menu
    "input/tex/extensions",  # loaded on demand by the autoload/require packages
    "output/chtml/fonts/woff-v2",  # web fonts; tex-chtml.js finds them relative to itself
    "ui",  # menu and lazy typesetting
    "a11y",  # assistive MathML, explorer, semantic enrichment
    "sre",  # speech rule engine and its locale maps, used by a11y
]
OPTIONAL_MATHJAX_PARTS = {"a11y", "sre", "ui"}


def fail(message: str) -> None:
    print(f"vendor_assets: {message}", file=sys.stderr)
    sys.exit(1)


def copy_mathjax() -> str:
    if not MATHJAX_ES5.is_dir():
        fail(
            f"{MATHJAX_ES5.relative_to(ROOT)} not found. "
            "Install the book's npm packages first: (cd book && npm ci)"
        )
    version = json.loads((MATHJAX_ES5.parent / "package.json").read_text())["version"]
    if not version.startswith("3."):
        fail(f"expected MathJax 3.x in book/node_modules, found {version}")
    dest = VENDOR / "mathjax"
    for part in MATHJAX_PARTS:
        src = MATHJAX_ES5 / part
        if not src.exists():
            if part in OPTIONAL_MATHJAX_PARTS:
                print(f"vendor_assets: note: mathjax/es5/{part} not in this MathJax, skipped")
                continue
            fail(f"mathjax/es5/{part} is missing from MathJax {version}")
        target = dest / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target)
        else:
            shutil.copy2(src, target)
    return version


def copy_plotly() -> str:
    try:
        import plotly
    except ImportError:
        fail("the Python package plotly is not installed in this environment")
    src = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not src.is_file():
        fail(f"{src} not found in the installed plotly {plotly.__version__}")
    dest = VENDOR / "plotly" / "plotly.min.js"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)
    return plotly.__version__


def copy_axe() -> str:
    src = BOOK / "node_modules" / "axe-core"
    if not (src / "axe.min.js").is_file():
        fail("book/node_modules/axe-core/axe.min.js not found. "
             "Install the book's npm packages first: (cd book && npm ci)")
    version = json.loads((src / "package.json").read_text())["version"]
    dest = VENDOR / "axe-core"
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("axe.min.js", "LICENSE"):
        shutil.copy2(src / name, dest / name)
    return version


def size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    VENDOR.mkdir(parents=True)
    mathjax_version = copy_mathjax()
    plotly_version = copy_plotly()
    axe_version = copy_axe()
    print(
        f"vendor_assets: MathJax {mathjax_version}, plotly.js from plotly "
        f"{plotly_version} and axe-core {axe_version} copied into {VENDOR.relative_to(ROOT)}/ "
        f"({size_mb(VENDOR):.1f} MB)"
    )


if __name__ == "__main__":
    main()
