"""The warm interpreter of `nb2pipe run`: one Python process per run that imports the
modules the pipeline's steps import, then forks one process per step.

nb2pipe writes this file to DIR/.nb2pipe/nb2pipe_zygote.py and starts it with the
Python and the environment a step would get, its stdout and stderr going to the run's
warm-interpreter.log, and one end of a socket pair as file descriptor FD:

    python3 DIR/.nb2pipe/nb2pipe_zygote.py FD

Messages are one JSON object per line. nb2pipe sends the setup first:

    {"workdir": W, "scripts": [step scripts], "also": [files whose imports to preload]}

and the zygote answers {"ready": true, "preloaded": [...], "seconds": S} once the
imports are done, or {"ready": false, "why": TEXT}. Then, per step to run:

    {"argv": [python, script, args...], "log": PATH}

answered by {"pid": N} (the step runs in process N, its own process group, output to
PATH), {"fresh": REASON} (run it in a fresh process instead) or {"error": TEXT}. At the
end of the socket the zygote exits.

A forked step must behave as `python3 script args` would: the step process is the
grandchild of the zygote (the child in between exits at once), so that it becomes a
child of nb2pipe, which marks itself a subreaper and waits for it as for any step. The
step process gets its own process group, its log as stdout and stderr, a fresh
__main__, sys.argv, sys.path[0], and random state reseeded from the OS as a new
process's would be. Only modules are imported here, never a step's other code, and
only modules installed with Python (standard library, site-packages), never a module
found in the pipeline's or the notebook's directory.
"""
import ast
import gc
import importlib
import importlib.machinery
import importlib.util
import json
import os
import re
import signal
import site
import socket
import sys
import sysconfig
import threading
import time
import traceback
import types

# Frameworks that do not survive fork (their runtime threads and device contexts are
# not fork-safe): a step that imports one runs in a fresh process, and the zygote never
# imports them.
FORK_UNSAFE = {
    "tensorflow", "tensorflow_addons", "tensorflow_hub", "tensorflow_probability", "keras",
    "tf_keras", "jax", "jaxlib", "flax", "cupy", "cupyx", "pycuda", "mxnet", "paddle",
    "tensorrt", "cudf", "cuml", "cugraph", "rmm", "horovod", "deepspeed",
}
# Modules that capture __main__ when imported (dill's pickler would then see the
# zygote's __main__, not the step's) or that do something visible when imported.
NEVER_PRELOAD = {"__main__", "dill", "this", "antigravity", "__hello__", "__phello__",
                 "nb2pipe_runtime"}
# A step whose torch code uses CUDA: a CUDA context does not survive fork.
CUDA = re.compile(r"\bcuda\b|\bgpu\b", re.IGNORECASE)

ENVIRON_CHANGES = {"update", "setdefault", "pop", "popitem", "clear", "__setitem__",
                   "__delitem__"}
PATH_CHANGES = {"insert", "__setitem__", "__delitem__", "remove", "pop", "clear", "reverse",
                "sort"}


# ---- what a step imports --------------------------------------------------------------

def _is_environ(node):
    return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
        isinstance(node, ast.Name) and node.id == "environ")


def _is_sys_path(node):
    return isinstance(node, ast.Attribute) and node.attr == "path" and isinstance(
        node.value, ast.Name) and node.value.id in ("sys", "_sys")


def _changes_import_context(statement):
    """What STATEMENT changes that decides what a later import finds, or None:
    the environment (OMP_NUM_THREADS before numpy) or the front of sys.path."""
    for node in ast.walk(statement):
        if isinstance(node, (ast.Subscript, ast.Attribute, ast.Name)) and isinstance(
                node.ctx, (ast.Store, ast.Del)):
            target = node.value if isinstance(node, ast.Subscript) else node
            if _is_environ(target):
                return "os.environ"
            if _is_sys_path(target):
                return "sys.path"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            attr, owner = node.func.attr, node.func.value
            if attr in ("putenv", "unsetenv") or (attr in ENVIRON_CHANGES and _is_environ(owner)):
                return "os.environ"
            if attr in PATH_CHANGES and _is_sys_path(owner):
                return "sys.path"
    return None


def _flatten(statements):
    """The simple statements of STATEMENTS in the order they run, compound statements
    opened (their headers first), function and class bodies left out."""
    for statement in statements:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        bodies = [getattr(statement, field) for field in ("body", "orelse", "finalbody")
                  if isinstance(getattr(statement, field, None), list)]
        bodies += [handler.body for handler in getattr(statement, "handlers", [])]
        bodies += [case.body for case in getattr(statement, "cases", [])]
        if not bodies:
            yield statement
            continue
        for header in ("test", "target", "iter", "items", "subject"):
            part = getattr(statement, header, None)
            yield from part if isinstance(part, list) else [part] if part is not None else []
        for body in bodies:
            yield from _flatten(body)


def _imports(tree, found):
    """Appends (module, names) for every import of TREE that runs at module level, in
    order. Returns None, or what changes the import context before an import (the
    step must then import in a fresh process)."""
    changed = None
    for node in _flatten(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and changed:
            return changed
        if isinstance(node, ast.Import):
            found.extend((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module != "__future__":
                found.append((node.module, tuple(alias.name for alias in node.names)))
        elif not changed:
            changed = _changes_import_context(node)
    return None


class Script:
    """What the zygote knows of one step script: the modules it imports, and why it
    must run in a fresh process (None when it can be forked)."""

    def __init__(self, path):
        self.modules = []
        self.fresh = None
        try:
            with open(path, "rb") as f:
                source = f.read()
            tree = ast.parse(source, path)
        except (OSError, SyntaxError, ValueError) as e:
            self.fresh = f"it cannot be read or parsed here ({type(e).__name__})"
            return
        change = _imports(tree, self.modules)
        if change:
            self.fresh = f"it changes {change} before an import"
        for module, _ in self.modules:
            top = module.partition(".")[0]
            if top in FORK_UNSAFE:
                self.fresh = f"it imports {top}, which does not survive fork"
                break
            if top == "torch" and CUDA.search(source.decode("utf-8", "replace")):
                self.fresh = "it may use CUDA (torch), which does not survive fork"
                break


# ---- preloading -----------------------------------------------------------------------

def _installed_roots():
    """Where the modules installed with this Python live."""
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    try:
        roots.update(site.getsitepackages())
    except AttributeError:  # some virtualenvs' site module
        pass
    if site.ENABLE_USER_SITE:
        roots.add(site.getusersitepackages())
    return tuple(os.path.join(os.path.realpath(root), "") for root in roots)


def _is_installed(top, roots):
    """Whether the top-level module TOP would be found among the installed modules."""
    if top in sys.builtin_module_names:
        return True
    try:
        spec = importlib.machinery.PathFinder.find_spec(top, sys.path)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return importlib.machinery.FrozenImporter.find_spec(top) is not None
    places = [spec.origin] if spec.origin else list(spec.submodule_search_locations or [])
    return bool(places) and all(
        place in ("built-in", "frozen") or os.path.realpath(place).startswith(roots)
        for place in places)


def _preload(module, names, roots, done):
    """Imports MODULE (and the submodules among NAMES) when it is an installed module;
    a failure is left for the step to meet."""
    top = module.partition(".")[0]
    if module in done or top in NEVER_PRELOAD or top in FORK_UNSAFE or not _is_installed(top, roots):
        return
    done.append(module)
    try:
        imported = importlib.import_module(module)
        for name in names:
            if name != "*" and not hasattr(imported, name) and importlib.util.find_spec(
                    f"{module}.{name}") is not None:
                importlib.import_module(f"{module}.{name}")
    except (Exception, SystemExit):  # noqa: BLE001 - the step imports it again and fails there
        pass


def _preload_all(scripts, roots, done):
    for script in scripts:
        for module, names in script.modules:
            _preload(module, names, roots, done)


def preload(setup):
    """Imports what the scripts import, with the paths a step imports them with: the
    runtime's imports from the step's directory and the pipeline's (the setup cell
    appends it), then, as the runtime's Step() does before the step's own imports, from
    the notebook's directory, first on sys.path (a kernel finds modules there)."""
    started = time.monotonic()
    scripts = {path: Script(path) for path in setup["scripts"]}
    also = [Script(path) for path in setup.get("also", [])]
    roots = _installed_roots()
    cwd = os.getcwd()
    pipeline_dir = None
    if setup["scripts"]:
        # what a step would find in its own directory (a step named like a module) or
        # in the pipeline's is not an installed module, and is not imported here
        first = setup["scripts"][0]
        sys.path[0] = os.path.dirname(os.path.realpath(first))
        pipeline_dir = os.path.dirname(os.path.dirname(os.path.abspath(first)))
        sys.path.append(pipeline_dir)
    done = []
    _preload_all(also, roots, done)
    try:
        os.chdir(setup["workdir"])
        sys.path.insert(0, "")
        _preload_all([s for s in scripts.values() if not s.fresh], roots, done)
    except OSError:
        pass
    finally:
        os.chdir(cwd)
        # a forked step starts with the path a fresh one starts with (and what imports
        # added to it): its setup cell and Step() add these two again
        if "" in sys.path:
            sys.path.remove("")
        if pipeline_dir in sys.path:
            del sys.path[len(sys.path) - 1 - sys.path[::-1].index(pipeline_dir)]
    unsafe = sorted(name for name in sys.modules if name.partition(".")[0] in FORK_UNSAFE)
    if unsafe:
        return scripts, {"ready": False, "why": f"importing the steps' modules loaded {unsafe[0]}, "
                         "which does not survive fork"}
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if threads:
        return scripts, {"ready": False, "why": "importing the steps' modules started threads "
                         f"({', '.join(threads)}), which a forked process would not have"}
    # what is imported now stays for every step: the collector need not scan it again,
    # and so does not copy the pages it lives in in every forked process
    gc.freeze()
    return scripts, {"ready": True, "preloaded": done,
                     "seconds": round(time.monotonic() - started, 3)}


# ---- forking a step -------------------------------------------------------------------

def _send(sock, message):
    sock.sendall(json.dumps(message).encode() + b"\n")


def _fork_step(request, sock):
    """Starts the step of REQUEST in a grandchild. Returns (None, reply) in the
    zygote; in the step's process, returns (request, None) with its output in place."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        step = _middle(request, sock, read_end, write_end)
        if step is not None:
            return step, None
    os.close(write_end)
    answer = b""
    while True:
        chunk = os.read(read_end, 4096)
        if not chunk:
            break
        answer += chunk
    os.close(read_end)
    # the process in between is reaped later (_reap): tearing down its copy of the
    # zygote's memory takes longer than nb2pipe needs to wait
    text = answer.decode("utf-8", "replace")
    if text.startswith("pid "):
        return None, {"pid": int(text[4:])}
    return None, {"error": text or "the forked process ended before the step started"}


def _middle(request, sock, read_end, write_end):
    """The process between the zygote and the step: opens the log, forks the step, puts
    it in its own process group, reports its pid and exits, so that the step is
    reparented to nb2pipe. Returns the request in the step's process."""
    try:
        os.close(read_end)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        pid = os.fork()
        if pid == 0:
            os.setpgid(0, 0)
            os.close(write_end)
            sock.close()
            _become_step(log)
            return request
        try:
            os.setpgid(pid, pid)  # both sides, so that no kill can come before it
        except OSError:
            pass
        os.write(write_end, b"pid %d" % pid)
        os.close(write_end)
        os._exit(0)
    except BaseException as e:  # noqa: BLE001 - reported to nb2pipe, which runs the step fresh
        try:
            os.write(write_end, f"{type(e).__name__}: {e}".encode())
        finally:
            os._exit(1)


def _become_step(log):
    """The state a fresh interpreter starts a step with: output into its log, and the
    random state of a new process."""
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    # `random` reseeds itself after fork (os.register_at_fork); numpy's global state
    # does not, and every step would draw the zygote's numbers
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()


def _reap(block=False):
    """Waits for the processes in between that have exited (all of them with BLOCK)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(sock):
    """Answers nb2pipe until the socket closes (returns None), or returns the request
    in a forked step's process."""
    reader = sock.makefile("rb")
    setup = json.loads(reader.readline() or b"null")
    if not setup:
        return None
    scripts, ready = preload(setup)
    if ready["ready"]:
        # the end of what the imports printed, in this log
        print(f"nb2pipe: imported {len(ready['preloaded'])} modules in {ready['seconds']:.2f} s: "
              f"{', '.join(ready['preloaded'])}", flush=True)
    else:
        print(f"nb2pipe: not forking steps: {ready['why']}", flush=True)
    _send(sock, ready)
    if not ready["ready"]:
        return None
    for line in reader:
        _reap()
        request = json.loads(line)
        script = request["argv"][1]
        known = scripts.get(script) or scripts.setdefault(script, Script(script))
        if known.fresh:
            _send(sock, {"fresh": known.fresh})
            continue
        step, reply = _fork_step(request, sock)
        if step is not None:
            reader.close()
            return step
        _send(sock, reply)
    _reap(block=True)
    return None


# ---- running a step as `python3 script` would -----------------------------------------

def _main_module(path):
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__cached__ = None
    module.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
    module.__builtins__ = __builtins__ if isinstance(__builtins__, types.ModuleType) else \
        sys.modules["builtins"]
    module.__annotations__ = {}
    return module


def run_step(request):
    argv = request["argv"]
    path = os.path.abspath(argv[1])
    sys.argv = argv[1:]
    sys.orig_argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.realpath(argv[1]))
    main = _main_module(path)
    sys.modules["__main__"] = main
    try:
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec", dont_inherit=True)
    except SyntaxError as e:
        sys.excepthook(type(e), e, None)
        raise SystemExit(1) from None
    try:
        exec(code, main.__dict__)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - reported as the interpreter reports it
        # the traceback starts at the step's code, as it would in `python3 script`
        e.__traceback__ = e.__traceback__.tb_next
        sys.excepthook(type(e), e, e.__traceback__)
        if isinstance(e, KeyboardInterrupt):
            _exit_as_interrupted()
        raise SystemExit(1) from None


def _exit_as_interrupted():
    """What Python does after an uncaught KeyboardInterrupt: exit by SIGINT."""
    import atexit
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


def main():
    sock = socket.socket(fileno=int(sys.argv[1]))
    try:
        return serve(sock)
    except (BrokenPipeError, ConnectionResetError):
        return None


def _exit_quickly():
    """The end of the zygote: the modules it imported need no tearing down (nb2pipe waits
    for this exit), only their exit handlers run (a temporary directory to remove)."""
    import atexit
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    _step = main()
    if _step is None:
        _exit_quickly()
    del main, serve
    run_step(_step)
