#!/usr/bin/env bash
# Set up everything the workbook needs on a fresh Linux machine:
#   - the graphviz binary (`dot`), from the system's package manager;
#   - a Python virtual environment in .venv with course_lib and its extras;
#   - the JavaScript assets the offline book serves (MathJax), from npm.
# Safe to run again: each step is skipped when already up to date.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv

say() { printf '\n== %s\n' "$*"; }

# --- system packages -------------------------------------------------------
# graphviz (`dot`) is needed; chromium only runs the book's browser tests, which
# skip, saying why, where it cannot be installed.
apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
    elif command -v sudo >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
        sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@"
    else
        return 1
    fi
}
# bubblewrap confines student kernels under course-grade (without it grading runs,
# loudly unconfined); PostgreSQL is the gradebook for concurrent graders and its
# tests start a private server (they skip, saying why, without it).
need_apt=()
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need_apt+=(chromium)
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql)
if ((${#need_apt[@]})); then
    say "installing system packages: ${need_apt[*]}"
    apt_install "${need_apt[@]}" ||
        for pkg in "${need_apt[@]}"; do apt_install "$pkg" || echo "could not install $pkg" >&2; done
fi
if ! command -v dot >/dev/null 2>&1; then
    echo "Please install graphviz (e.g. 'sudo apt install graphviz' or 'brew install graphviz')" >&2
    exit 1
fi
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
    echo "note: no chromium here; the book's browser tests will be skipped" >&2
command -v bwrap >/dev/null 2>&1 ||
    echo "note: no bubblewrap here; course-grade will grade UNCONFINED and its confinement tests will be skipped" >&2

# --- Python environment ----------------------------------------------------
stamp="$VENV/.course-stamp"
# course_lib's version lives in its __init__.py (pyproject.toml reads it): a bump reinstalls,
# so the installed metadata says the version the notebooks are stamped with.
want="$({ cat pyproject.toml; grep -m1 '^__version__' src/course_lib/__init__.py; } | sha256sum | cut -c1-16)"
if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing course_lib and its extras into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
    "$VENV/bin/python" -m pip install -q -e ".[all]"
    echo "$want" > "$stamp"
fi

# --- book assets (offline MathJax etc.) -------------------------------------
if [ -f book/package.json ]; then
    lock="$(cat book/package.json book/package-lock.json scripts/vendor_assets.py pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)"
    if [ "$(cat book/vendor/.stamp 2>/dev/null)" != "$lock" ]; then
        say "installing the book's JavaScript assets with npm"
        command -v npm >/dev/null 2>&1 || { echo "npm is needed for the book's offline assets" >&2; exit 1; }
        (cd book && npm ci --no-audit --no-fund --loglevel=error)
        "$VENV/bin/python" scripts/vendor_assets.py
        echo "$lock" > book/vendor/.stamp
    fi
fi
say "environment ready: $($VENV/bin/python --version), $(dot -V 2>&1)"
