"""The run-time guard of a graded kernel: CPython audit hooks (PEP 578).

:mod:`.guarded_kernel` installs :func:`install` before IPython starts and before
any student line runs. An audit hook cannot be removed once added, and the
guard keeps its state in the hook's closure (no module global, and the
garbage collector's object lists are refused), so student code cannot switch it
off. It does two things.

**Refuses** what no answer in this problem set needs, when the code that asks
is the student's (the innermost frame that is either ``course_lib``'s or not
part of the installed environment decides: ``course_lib``'s own worker
processes and files stay allowed, and so does what a library does while it
is being imported):

- replacing a function's ``__code__`` (any function), or the defaults of, or
  attributes on, ``course_lib``'s functions and classes;
- walking the garbage collector's object lists (``gc.get_objects``,
  ``get_referrers``, ``get_referents``), tracing or profiling hooks;
- ``ctypes``; starting programs or processes; sending signals; sockets;
- opening a file, or an SQLite database, outside the student's copy, ``/tmp``
  and the read-only environment, and the process's own memory, file
  descriptors and environment under ``/proc``;
- a frame (``sys._getframe``, a traceback's ``tb_frame``) from which the frames of
  the course's code are reachable (a check's locals hold the expected values),
  or that belongs to, or leads to, the student's own generator or coroutine (which
  a check may resume); a generator's or coroutine's frame; the defaults of
  ``course_lib``'s functions (:func:`.verdict.run` keeps its references there).

**Restores** what a test cell relies on, before every cell, before a test cell's
body and before its verdict is signed (:mod:`.verdict`) (IPython runs
each cell with ``exec``): the names bound in ``course_lib``'s modules, the
built-ins, numpy's and torch's main namespaces, IPython's and ipykernel's
classes (how a failing cell is reported), the IPython shell's error display
and event callbacks, ``sys.modules`` entries of those modules, and
``sys.excepthook``/``sys.displayhook``. A test cell therefore calls the checks
as they were before any student code ran, reported by an unpatched kernel.

Each refusal or restoration is a finding: one line ``GUARD <what>`` written to
the grader's pipe (``COURSE_GUARD_FD``) and, for a refusal, the
``PermissionError`` the student's code gets. A repeated finding is written
once.
"""
from __future__ import annotations

import os
import sys

#: Modules whose callables, classes and UPPER_CASE constants are restored before each exec.
PROTECTED = ("builtins", "numpy", "numpy.linalg", "numpy.random", "torch", "torch.nn", "torch.nn.functional",
             "math", "IPython.core.interactiveshell", "IPython.core.events", "IPython.core.displayhook",
             "IPython.core.ultratb", "IPython.core.formatters", "ipykernel.ipkernel", "ipykernel.kernelbase",
             "ipykernel.zmqshell", "ipykernel.iostream", "ipykernel.displayhook", "jupyter_client.session")
#: Third-party libraries whose own code may rebind their names (torch wraps functions lazily): a
#: change to a Python function of the installed environment is accepted there, anything else undone.
LIBRARIES = ("numpy", "numpy.linalg", "numpy.random", "torch", "torch.nn", "torch.nn.functional")
#: Instance attributes of the IPython shell that decide how a cell's error is shown and reported.
SHELL_ATTRS = ("custom_exceptions", "CustomTB", "showtraceback", "_showtraceback", "showsyntaxerror",
               "run_cell", "run_cell_async", "run_code", "run_ast_nodes", "should_run_async", "excepthook",
               "InteractiveTB", "SyntaxTB", "displayhook", "display_pub", "display_formatter", "compile",
               "ast_transformers", "input_transformers_post", "input_transformers_cleanup", "events", "kernel")
KERNEL_ATTRS = ("do_execute", "execute_request", "send_response", "session", "shell", "_publish_execute_input")
PROCESS_EVENTS = {"subprocess.Popen", "os.system", "os.exec", "os.fork", "os.forkpty", "os.posix_spawn",
                  "os.spawn", "os.kill", "os.killpg", "signal.pthread_kill", "os.startfile", "pty.spawn"}
SOCKET_EVENTS = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo"}
INTROSPECTION_EVENTS = {"gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.settrace",
                        "sys.setprofile", "sys._current_frames", "sys._current_exceptions", "sys.monitoring"}
PREFIX = "GUARD "
#: Attributes that hand out a running generator's or coroutine's frame.
SUSPENDED_FRAMES = {"gi_frame", "cr_frame", "ag_frame", "gi_yieldfrom", "cr_await", "ag_await"}
#: ``co_flags`` of generators, coroutines and async generators.
CO_SUSPENDABLE = 0x20 | 0x80 | 0x100 | 0x200
#: Files under ``/proc/<pid>/`` that expose the process's memory, descriptors or environment.
PROC_PRIVATE = ("mem", "pagemap", "environ", "fd", "fdinfo", "map_files", "task", "syscall", "auxv")
#: Built-ins IPython itself sets and resets around every cell (its builtin trap).
IPYTHON_BUILTINS = {"exit", "quit", "input", "get_ipython", "display", "help", "copyright", "credits", "license",
                    "__IPYTHON__", "_", "__", "___"}


def _roots(paths) -> tuple[str, ...]:
    return tuple(sorted({os.path.realpath(p).rstrip("/") + "/" for p in paths if p}))


def install(read_roots: list[str], write_roots: list[str], channel_fd: int | None,
            package_dir: str) -> None:
    """Install the guard (once per process).

    ``read_roots``: folders the kernel may open files in (the environment, data);
    ``write_roots``: folders it may write in (its copy, ``/tmp``); ``channel_fd``:
    where findings go; ``package_dir``: ``course_lib``'s folder (its code decides
    for itself)."""
    import types

    modules = sys.modules                       # the real table, even if sys.modules is rebound
    package = os.path.realpath(package_dir).rstrip("/") + "/"
    trusted = _roots([sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.__file__)]) + (package,)
    readable = _roots(read_roots) + trusted + ("/usr/", "/etc/", "/proc/", "/sys/", "/dev/")
    writable = _roots(write_roots) + ("/dev/null/", "/dev/shm/")
    import _thread

    state = {"seen": set(), "snapshot": None, "shell": None}
    # threads inside one of the guard's own frame walks, whose reads of frames raise audit events
    # too: those are not judged again. Nothing else is skipped: a student's object that the guard
    # touches (its __str__, a property) runs under the guard like any other student code.
    walking, thread = set(), _thread.get_ident
    # every stack's bottom: the kernel's main, under it the zygote's loop when the kernel was forked
    bottom = tuple(os.path.join(package, "instructor", "grading", f) for f in ("guarded_kernel.py", "zygote.py"))
    function_type, code_setters = types.FunctionType, {"__code__", "__defaults__", "__kwdefaults__", "__globals__"}
    write = os.write
    realpath, join, getcwd = os.path.realpath, os.path.join, os.getcwd

    def report(what: str) -> None:
        if what in state["seen"] or len(state["seen"]) > 200:
            return
        state["seen"].add(what)
        if channel_fd is not None:
            try:
                write(channel_fd, (PREFIX + what.replace("\n", " ")[:500] + "\n").encode("utf-8", "replace"))
            except OSError:
                pass

    def decider() -> tuple[str | None, str]:
        """("student" | "course_lib" | None, where): the innermost frame that decides."""
        me = thread()
        walking.add(me)
        try:
            frame = sys._getframe(3)  # decider <- refuse <- hook <- the audited call's caller
            generated = None  # the innermost frame of code made at run time ("<string>", a template)
            while frame is not None:
                name = frame.f_code.co_filename
                if name.startswith(package):
                    return "course_lib", ""
                if name.startswith("<frozen importlib"):
                    return None, ""  # a library's own import-time work (matplotlib runs fc-list), not the student's
                if name.startswith("<") and not name.startswith("<frozen"):
                    # generated code decides as the frames that ran it: a library's import of a module it
                    # generates (torch's remote-module template) is the library's; a student's exec is the student's
                    generated = generated or f"{name} line {frame.f_lineno}"
                elif not name.startswith(trusted) and not name.startswith("<frozen"):
                    return "student", f"{os.path.basename(name)} line {frame.f_lineno}"
                frame = frame.f_back
            return ("student", generated) if generated else (None, "")
        finally:
            walking.discard(me)

    def python_library_function(fn) -> bool:
        """A Python function (or method) whose code lives in the installed environment."""
        code = getattr(getattr(fn, "__func__", fn), "__code__", None)
        return code is not None and code.co_filename.startswith(trusted)

    def library_code(fn) -> bool:
        """A callable defined by the installed environment (or in C), not by the student."""
        code = getattr(getattr(fn, "__func__", fn), "__code__", None)
        return code is None or code.co_filename.startswith(trusted)

    def refuse(what: str) -> None:
        who, where = decider()
        if who != "student":
            return
        report(f"refused {what} ({where})")
        raise PermissionError(f"refused by the grading guard: {what} (no answer needs it)")

    def leads_to_course(frame=None, tb=None) -> bool:
        """Can ``frame`` reach (through ``f_back``) a frame of course_lib, or is it, or does it
        reach, a generator or coroutine of the student's (resumed later, it reaches its resumer)?"""
        me = thread()
        walking.add(me)
        try:
            f = tb.tb_frame if tb is not None else frame
            while f is not None:
                code = f.f_code
                name = code.co_filename
                if name.startswith(package) and name not in bottom:
                    return True
                if code.co_flags & CO_SUSPENDABLE and not name.startswith(trusted) and not name.startswith("<frozen"):
                    return True
                f = f.f_back
            return False
        finally:
            walking.discard(me)

    def proc_private(path) -> bool:
        if isinstance(path, int) or path is None:
            return False
        try:
            p = os.fsdecode(path)
            p = realpath(p if p.startswith("/") else join(getcwd(), p))
        except (TypeError, ValueError, OSError):
            return False
        parts = p.split("/")
        return len(parts) > 3 and parts[1] == "proc" and parts[3] in PROC_PRIVATE

    def outside(path, roots) -> bool:
        if isinstance(path, int) or path is None:
            return False
        try:
            p = os.fsdecode(path)
            if not p.startswith("/"):
                p = join(getcwd(), p)
            p = realpath(p)
        except (TypeError, ValueError, OSError):
            return True
        return not (p + "/").startswith(roots)

    def owned(obj) -> bool:
        mod = getattr(obj, "__module__", None) if isinstance(obj, (type, function_type)) else None
        return isinstance(mod, str) and mod.startswith("course_lib")

    def watched(name: str, value, module: str) -> bool:
        if module == "builtins" and name in IPYTHON_BUILTINS:
            return False
        """What a module's namespace must keep: its modules, course_lib's functions and classes
        (and, outside course_lib, every callable), UPPER_CASE constants. course_lib's own caches
        (instances, counters) may change."""
        if isinstance(value, types.ModuleType) or (name.isupper() and value is not None):
            return True
        if not module.startswith("course_lib"):
            return callable(value)
        return isinstance(value, (type, function_type)) and str(getattr(value, "__module__", "")).startswith(
            "course_lib")

    def add_modules(snap: dict) -> None:
        """Snapshot every protected module not snapshotted yet (course_lib imports some lazily)."""
        names = [n for n in list(modules) if n.startswith("course_lib")] + [n for n in PROTECTED if n in modules]
        for name in names:
            mod = modules.get(name)
            if name in snap["modules"] or not isinstance(mod, types.ModuleType):
                continue
            snap["modules"][name] = mod
            d = mod.__dict__
            snap["dicts"][id(d)] = (d, {k: v for k, v in list(d.items()) if watched(k, v, name)}, name)
            if not name.startswith(("course_lib", "IPython", "ipykernel", "jupyter_client")):
                continue  # numpy's and torch's classes: too many, and C types cannot be patched anyway
            for v in list(d.values()):
                if isinstance(v, type) and getattr(v, "__module__", None) == name:
                    snap["dicts"][id(v)] = (v, {a: b for a, b in v.__dict__.items() if callable(b) or
                                                isinstance(b, (staticmethod, classmethod, property))},
                                            f"{name}.{v.__name__}")

    def take_snapshot() -> dict:
        snap = {"modules": {}, "dicts": {}, "sys": {}}
        add_modules(snap)
        snap["sys"] = {k: getattr(sys, k) for k in ("meta_path", "path_hooks")}  # IPython swaps the hooks per cell
        return snap

    def shell_snapshot() -> dict | None:
        ishell = modules.get("IPython.core.interactiveshell")
        inst = getattr(getattr(ishell, "InteractiveShell", None), "_instance", None) if ishell else None
        if inst is None:
            return None
        kernel = inst.__dict__.get("kernel")
        events = inst.__dict__.get("events")
        return {"shell": inst, "attrs": {a: inst.__dict__[a] for a in SHELL_ATTRS if a in inst.__dict__},
                "kernel": kernel, "kattrs": {a: kernel.__dict__[a] for a in KERNEL_ATTRS
                                             if kernel is not None and a in kernel.__dict__},
                "events": events, "callbacks": {k: list(v) for k, v in getattr(events, "callbacks", {}).items()}}

    def restore() -> None:
        snap = state["snapshot"]
        changed = []
        if sys.modules is not modules:
            sys.modules = modules
            changed.append("sys.modules (rebound)")
        for name, mod in snap["modules"].items():
            if modules.get(name) is not mod:
                modules[name] = mod
                changed.append(f"sys.modules[{name!r}]")
        for _key, (owner, saved, label) in snap["dicts"].items():
            if isinstance(owner, dict):
                lenient = label in LIBRARIES
                for k, v in saved.items():
                    now = owner.get(k, owner)
                    if now is v:
                        continue
                    if lenient and python_library_function(now):
                        saved[k] = now  # the library wrapped its own function (torch wraps manual_seed)
                        continue
                    owner[k] = v
                    changed.append(f"{label}.{k}")
            else:
                cd = owner.__dict__
                for k, v in saved.items():
                    if cd.get(k, cd) is not v:
                        type.__setattr__(owner, k, v)
                        changed.append(f"{label}.{k}")
        for k, v in snap["sys"].items():
            if getattr(sys, k) is not v:
                setattr(sys, k, v)
                changed.append(f"sys.{k}")
        sh = state["shell"]
        if sh is not None:
            d = sh["shell"].__dict__
            for a, v in sh["attrs"].items():
                if d.get(a, d) is not v:
                    d[a] = v
                    changed.append(f"the IPython shell's {a}")
            for a in set(d) & set(SHELL_ATTRS) - set(sh["attrs"]):
                del d[a]
                changed.append(f"the IPython shell's {a}")
            if sh["kernel"] is not None:
                kd = sh["kernel"].__dict__
                for a in set(kd) & set(KERNEL_ATTRS):
                    if a not in sh["kattrs"] or kd[a] is not sh["kattrs"][a]:
                        if a in sh["kattrs"]:
                            kd[a] = sh["kattrs"][a]
                        else:
                            del kd[a]
                        changed.append(f"the kernel's {a}")
            callbacks = getattr(sh["events"], "callbacks", None)
            if isinstance(callbacks, dict):
                for k, v in sh["callbacks"].items():
                    now = callbacks.get(k)
                    if not isinstance(now, list):
                        callbacks[k] = list(v)
                        changed.append(f"IPython's {k} event callbacks")
                        continue
                    mine = [cb for cb in now if not any(cb is old for old in v) and not library_code(cb)]
                    gone = [cb for cb in v if not any(cb is cur for cur in now)]
                    if mine or gone:
                        callbacks[k] = [cb for cb in now if not any(cb is m for m in mine)] + gone
                        changed.append(f"IPython's {k} event callbacks")
                    sh["callbacks"][k] = list(callbacks[k])  # a library's own new callback (matplotlib) stays
        for what in changed:
            report(f"restored {what}, which the student's code had changed")

    def hook(event: str, args) -> None:
        if walking and thread() in walking:
            return
        if event == "exec":
            code = args[0] if args else None
            name = getattr(code, "co_filename", "") if code is not None else ""
            if state["snapshot"] is None:
                # the first cell (the locked setup cell): the shell is set up, no student code ran yet
                if not name or name.startswith(trusted) or name.startswith("<frozen"):
                    return
                state["snapshot"] = take_snapshot()
            if state["shell"] is None:
                state["shell"] = shell_snapshot()
            # once per cell (IPython execs each top-level statement: a cell's statements share its file)
            # and before a test cell's body (verdict.run), not for every exec a library does
            new_cell = name != state.get("cell") and not name.startswith(trusted) and not name.startswith("<")
            if new_cell or name.startswith("<test cell "):
                state["cell"] = name
                restore()
                add_modules(state["snapshot"])
        elif event == "object.__setattr__":
            obj, name = args[0], args[1]
            if name == "__code__" or (name in code_setters and owned(obj)) or (
                    isinstance(obj, type) and owned(obj)):
                refuse(f"setting {name} of {getattr(obj, '__qualname__', type(obj).__name__)}")
        elif event in INTROSPECTION_EVENTS:
            refuse(event)
        elif event == "sys._getframe":
            if args and leads_to_course(args[0]):
                refuse("a frame from which the course's code or a generator is reachable")
        elif event == "object.__getattr__":
            name = args[1] if len(args) > 1 else ""
            if name == "tb_frame":
                if leads_to_course(tb=args[0]):
                    refuse("a traceback's frame from which the course's code or a generator is reachable")
            elif name in SUSPENDED_FRAMES:
                refuse(f"a generator's or coroutine's frame ({name})")
            elif name in ("__defaults__", "__kwdefaults__") and owned(args[0]):
                refuse(f"reading {name} of {getattr(args[0], '__qualname__', '?')}")
        elif event == "course_lib.verdict":
            if len(args) > 1 and args[1] in ("pass", "fail") and state["snapshot"] is not None:
                restore()
        elif event.startswith("ctypes."):
            refuse("ctypes")
        elif event in PROCESS_EVENTS:
            refuse(f"{event}{tuple(str(a)[:80] for a in args[:2])}")
        elif event in SOCKET_EVENTS:
            refuse(f"{event}{tuple(str(a)[:80] for a in args[1:2])}")
        elif event == "open":
            path, mode = args[0], args[1]
            if proc_private(path):
                refuse(f"opening {os.fsdecode(path) if not isinstance(path, int) else path!s}")
            writing = isinstance(mode, str) and any(c in mode for c in "wax+")
            if writing and outside(path, writable) or outside(path, readable + writable):
                refuse(f"opening {os.fsdecode(path) if not isinstance(path, int) else path!s}"
                       f"{' for writing' if writing else ''}")
        elif event == "sqlite3.connect":
            if outside(args[0], writable):
                refuse(f"an SQLite database {args[0]!s}")

    sys.addaudithook(hook)
