"""The setup cell's bootstrap: make the pinned ``course_lib`` importable before importing it.

A notebook cannot import course_lib to install course_lib, so the locked setup
cell of every notebook holds the source of :func:`ensure_course_lib` itself
(``course_lib.instructor.setup_cell`` copies it in with ``inspect.getsource``,
followed by a call with the version stamped by ``make release`` and the wheel's
public URL). The function therefore uses the standard library only, imports
inside its body (nothing leaks into the student's namespace but its name) and
must stay short: students scroll past it in every notebook.

Where it looks, in order (the first that applies wins):

1. ``course_lib`` installed at the pinned version: nothing to do (graders,
   a laptop set up from the student kit, a Colab session's second notebook);
2. ``course_lib-<version>-py3-none-any.whl`` in the notebook's folder, one
   folder up (the kit puts the wheel beside ``ps1/``) or in Colab's
   ``/content`` (the *Files* pane): ``pip install`` it;
3. ``url``, the wheel in the course's public student repository (or any URL
   the instructor set): ``pip install`` it;
4. otherwise it raises, saying exactly what to upload or run; when another
   version is installed it leaves it and ``course_lib.setup_notebook`` warns.

It never installs while nbgrader runs the notebook (``NBGRADER_EXECUTION``:
autograding, Validate), never waits on the network for long (pip's socket
timeout, ``timeout`` seconds, and 40 times that for the whole install), and checks afterwards that the
version it installed is the pinned one, saying so loudly when it is not. (A
kernel that had imported another course_lib keeps it until restarted;
``course_lib.setup_notebook`` then warns and says so.)
"""
from __future__ import annotations


def ensure_course_lib(version, url, timeout=30):
    """Install course_lib ``version`` unless present: wheel beside the notebook or in /content, else ``url``."""
    import importlib, os, subprocess, sys
    from importlib import metadata
    from pathlib import Path

    def installed():
        importlib.invalidate_caches()
        try:
            return metadata.version("course_lib")
        except metadata.PackageNotFoundError:
            return None

    if os.environ.get("NBGRADER_EXECUTION"):
        return  # graded or validated: the grader's course_lib runs it; nothing is read or installed
    have, wheel = installed(), f"course_lib-{version}-py3-none-any.whl"
    if have == version:
        return
    here = [d / wheel for d in (Path.cwd(), Path.cwd().parent, Path("/content")) if (d / wheel).is_file()]
    source = here[0].resolve().as_uri() if here else url
    todo = (f"upload {wheel} (from the student kit) into the Files pane (/content)" if "google.colab" in sys.modules
            else f"run `pip install {wheel}` (from the student kit, see START_HERE.md) in a terminal, restart the kernel")
    if not source:
        if have is None:
            raise ModuleNotFoundError(f"course_lib {version} is not installed: {todo}, then run this cell again.")
        return  # another version stays; course_lib.setup_notebook() says so
    print(f"Installing course_lib {version} from {source} (a minute or two the first time) ...", flush=True)
    try:
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-input", "--timeout", str(timeout),
                              "--retries", "2", f"course_lib @ {source}"], capture_output=True, text=True, timeout=40 * timeout)
        error = pip.stderr.strip()[-1500:] if pip.returncode else ""
    except subprocess.TimeoutExpired:
        error = f"pip did not finish within {40 * timeout} s"
    now = installed()
    if error or now != version:
        message = (f"could not install course_lib {version} from {source}: {error or f'that gave course_lib {now}'}."
                   f"\nInstead, {todo}, then run this cell again.")
        if now is None:
            raise ModuleNotFoundError(message)
        print("WARNING:", message)
