"""How a generated step loads its inputs and saves its outputs.

Every step script of a pipeline imports this module. A step runs in one of two ways:

- under Ploomber, which injects `upstream` (a dict of the upstream tasks' products) and
  `product` (this task's products) after the cell tagged "parameters";
- standalone: python3 steps/NAME.py [--data-dir DIR] [--param NAME=VALUE]...
  [--input ARTIFACT=PATH]... [--output ARTIFACT=PATH]... [--metrics PATH] [--workdir DIR]
  (NB2PIPE_DATA_DIR and NB2PIPE_PARAM_<NAME> in the environment work too). Values
  live in DATA_DIR/<step>/<artifact>.pkl unless --input/--output give other paths.

A step script does:

    _step = Step("train", upstream, product, inputs={ARTIFACT: PRODUCER, ...},
                 groups={ARTIFACT: [MEMBER, ...]}, outputs=[ARTIFACT, ...], metrics=[...],
                 uses={ARTIFACT: [CELL, ...]}, workdir="..", script=__file__)
    ... carried code ...
    _step.load(globals())
    ... the step's cells ...
    _step.save(globals())
    _step.done(globals())

An artifact is one variable, a group of variables that share objects (saved as one
pickle of a dict, so that the sharing survives), or "random-state" (the global RNG
states). A file is a plain pickle (protocol PICKLE_PROTOCOL), or a header line
`#nb2pipe-artifact 1 KIND` followed by the payload, KIND being dill or cloudpickle
(the serializer that could save the value) or absent (the variable was not bound).

Outputs are written to a temporary name and renamed, so an interrupted step never
leaves a half-written file that a later run would trust.

The guard: load() hashes the pickle of every input the step does not save, done()
pickles them again and reports those whose value changed (in place: later steps will
not see the change) on stderr and in guard.json next to the step's metrics.
NB2PIPE_GUARD=0 turns it off, NB2PIPE_STRICT=1 makes a report fail the step (exit
status 3).
"""
import argparse
import ast
import builtins
import copyreg
import hashlib
import importlib
import json
import os
import pickle
import random
import sys
import weakref

PICKLE_PROTOCOL = 5  # the one protocol nb2pipe writes with, here and in its other helpers
SERIALIZER_SUFFIX = ".pkl"
RANDOM_STATE = "random-state"
SERIALIZERS = ("pickle", "dill", "cloudpickle")  # tried in this order
HEADER = b"#nb2pipe-artifact 1 "  # + KIND + b"\n"; '#' starts no pickle
GUARD_FILE = "guard.json"
STRICT_STATUS = 3


class _Absent:
    """What an artifact holds when its variable was not bound at save."""

    def __repr__(self):
        return "ABSENT"


ABSENT = _Absent()

# types whose values cannot change in place: the guard does not look at them
_IMMUTABLE = (type(None), bool, int, float, complex, str, bytes, range, type(Ellipsis))


def _flag(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() not in ("0", "false", "no", "off")


def _coerce(default, text):
    """A --param value, read as the type of the parameter's default."""
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise SystemExit(f"nb2pipe: --param: {text!r} is not a boolean")
    if isinstance(default, int):
        # base prefixes as Python writes them (0x1f), and decimals with leading zeros
        for base in (0, 10):
            try:
                return int(text, base)
            except ValueError:
                pass
        raise SystemExit(f"nb2pipe: --param: {text!r} is not an integer")
    if isinstance(default, float):
        try:
            return float(text)
        except ValueError:
            raise SystemExit(f"nb2pipe: --param: {text!r} is not a number") from None
    if isinstance(default, str):
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _pairs(items, option):
    result = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"nb2pipe: {option} expects NAME=VALUE, got {item!r}")
        result[name] = value
    return result


# ---------------------------------------------------------------- serializers

_modules = {}


def _module(kind):
    """The serializer's module, imported on first use; None when it is not installed."""
    if kind not in _modules:
        try:
            _modules[kind] = importlib.import_module(kind)
        except ImportError:
            _modules[kind] = None
    return _modules[kind]


def _reduce_frame(frame):
    """A DataFrame pickled with its blocks consolidated: pandas consolidates them in place
    on reads such as `df.values`, and the guard must not take that for a change."""
    try:
        frame._consolidate_inplace()
    except Exception:  # noqa: BLE001 - a pandas without it: pickled as it is
        pass
    return frame.__reduce_ex__(PICKLE_PROTOCOL)


def _not_compared():
    return None


class _GuardPickler(pickle.Pickler):
    """The guard's pickler: matplotlib's objects are left out, because reading them
    (`ax.get_xlim()`) or drawing them (`fig.savefig`) updates caches inside them."""

    def reducer_override(self, obj):  # not called for str, int, list, dict, ...
        if type(obj).__module__.startswith("matplotlib."):
            return _not_compared, ()
        return NotImplemented


# A view is saved with its base when the base is at most this many times larger (or
# small anyway): saving a 10-row slice of a large array must not save the large array.
VIEW_BASE_RATIO = 4
VIEW_BASE_SMALL = 64 << 20


def _reduce_array(array):
    """A numpy view (arr[:, 1], a.T, a.ravel(), a.reshape(...)) pickles as its base and
    where it lies in it, so that views and their base saved in one file share memory
    again when loaded, as they did in the notebook; other arrays pickle as usual."""
    import numpy
    base = array
    while isinstance(base.base, numpy.ndarray):
        base = base.base
    if (base is array or array.dtype.hasobject or base.dtype.hasobject
            or not (base.flags.c_contiguous or base.flags.f_contiguous)
            or (base.nbytes > VIEW_BASE_RATIO * array.nbytes and base.nbytes > VIEW_BASE_SMALL)):
        return array.__reduce_ex__(PICKLE_PROTOCOL)
    offset = array.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    # numpy.ndarray(shape, dtype, buffer, offset, strides): loads wherever numpy does
    return (numpy.ndarray, (array.shape, array.dtype, base, offset, array.strides))


def _dump(kind, value, f, guard=False):
    if kind == "pickle":
        plotting = guard and "matplotlib" in sys.modules
        pickler = (_GuardPickler if plotting else pickle.Pickler)(f, protocol=PICKLE_PROTOCOL)
    else:
        pickler = _module(kind).Pickler(f, protocol=PICKLE_PROTOCOL)
    pandas = sys.modules.get("pandas")
    numpy = sys.modules.get("numpy")
    if pandas is not None or numpy is not None:
        # a dict (looked up in C for every object), on top of the serializer's own table
        table = dict(getattr(pickler, "dispatch_table", copyreg.dispatch_table))
        if pandas is not None:
            table[pandas.DataFrame] = _reduce_frame
        if numpy is not None:
            table[numpy.ndarray] = _reduce_array
        pickler.dispatch_table = table
    pickler.dump(value)


def _load(kind, f):
    if kind == "pickle":
        return pickle.Unpickler(f).load()
    module = _module(kind)
    if module is None:
        raise ImportError(f"it was saved with {kind}, which is not installed "
                          f"(apt-get install python3-{kind})")
    if kind == "dill":
        return module.Unpickler(f).load()
    return pickle.Unpickler(f).load()  # cloudpickle writes pickles that name its functions


_new_hash = None


def _hasher():
    """A fast hash for the guard (it detects changes, it does not resist attacks):
    xxhash when installed, else SHA-1, which OpenSSL runs with the CPU's SHA or vector
    instructions (2 GB/s against blake2b's 0.4 on the machine of docs/performance.md)."""
    global _new_hash
    if _new_hash is None:
        try:
            import xxhash
            _new_hash = xxhash.xxh3_128
        except ImportError:
            try:
                hashlib.sha1(usedforsecurity=False)
                _new_hash = lambda: hashlib.sha1(usedforsecurity=False)  # noqa: E731
            except TypeError:  # Python 3.8
                _new_hash = hashlib.sha1
    return _new_hash()


class _HashingSink:
    """A file the pickler writes into: only the hash of the bytes is kept."""

    def __init__(self):
        self.h = _hasher()

    def write(self, b):
        self.h.update(b)  # bytes, or a PickleBuffer of a large array (protocol 5)
        return memoryview(b).nbytes

    def seek(self, offset):  # starting again, as _dump_any does on a real file
        self.h = _hasher()

    def truncate(self):
        pass


def _pickled_hash(kind, value):
    """The hash of VALUE as serializer KIND writes it; None when it cannot. The guard
    compares two such hashes of one object taken in one process: pickles of one value
    made in different processes may differ (a set's order under another hash seed;
    strings shared or not, as interning left them after unpickling)."""
    sink = _HashingSink()
    try:
        _dump(kind, value, sink, guard=True)
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - the value cannot be pickled again: not checked
        return None
    return sink.h.digest()


def _read_kind(f):
    """Reads the header, if any; returns the serializer's name or "absent"."""
    if f.peek(1)[:1] != b"#":
        return "pickle"
    line = f.readline(64)
    kind = line[len(HEADER):-1].decode("ascii", "replace")
    if not line.startswith(HEADER) or not line.endswith(b"\n") or kind not in SERIALIZERS + ("absent",):
        raise ValueError(f"not a pickle nor an nb2pipe artifact (it starts with {line[:40]!r})")
    return kind


def read_artifact(path):
    """The value saved in PATH (ABSENT when its variable was not bound) and the serializer
    that wrote it."""
    with open(path, "rb") as f:
        kind = _read_kind(f)
        if kind == "absent":
            return ABSENT, kind
        return _load(kind, f), kind


def bind_artifact(ns, artifact, value, members=None):
    """Binds VALUE, read from ARTIFACT's file, in the namespace NS: the variable ARTIFACT,
    or with MEMBERS each member of the group. A name whose value is absent is unbound.
    Returns {name: object} of what it bound."""
    if members is not None:
        value = value if isinstance(value, dict) else {}
        bound = {}
        for member in members:
            if member in value:
                ns[member] = bound[member] = value[member]
            else:
                ns.pop(member, None)
        return bound
    if value is ABSENT:
        ns.pop(artifact, None)
        return {}
    ns[artifact] = value
    return {artifact: value}


def load_artifacts(ns, paths, groups=None):
    """Binds in NS the artifacts of PATHS ({artifact: path}), the random state last: what
    Step.load() does, without its messages and the guard (for nb2pipe restore's notebook)."""
    states = None
    for artifact, path in paths.items():
        value, _ = read_artifact(path)
        if artifact == RANDOM_STATE:
            states = value
        else:
            bind_artifact(ns, artifact, value, (groups or {}).get(artifact))
    if isinstance(states, dict):
        _set_rng_states(states)


# ---------------------------------------------------------------- random states

def _rng_states():
    """The global random states of the libraries the step has imported."""
    states = {"random": random.getstate()}
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            states["numpy"] = np.random.get_state()
        except Exception:  # noqa: BLE001 - best effort: a numpy without the legacy state
            pass
    torch = sys.modules.get("torch")
    if torch is not None:
        try:  # as bytes: loading the file must not need torch
            states["torch"] = bytes(torch.get_rng_state().tolist())
            if torch.cuda.is_available() and torch.cuda.is_initialized():
                states["torch.cuda"] = [bytes(s.tolist()) for s in torch.cuda.get_rng_state_all()]
        except Exception:  # noqa: BLE001 - best effort
            pass
    ops = sys.modules.get("tensorflow.python.ops.stateful_random_ops")
    generator = getattr(ops, "global_generator", None)  # None until the step made one
    if generator is not None:
        try:
            states["tensorflow"] = (int(generator.algorithm), generator.state.numpy().tolist())
        except Exception:  # noqa: BLE001 - best effort
            pass
    return states


def _set_rng_states(states):
    if "random" in states:
        random.setstate(states["random"])
    if "numpy" in states:
        import numpy
        numpy.random.set_state(states["numpy"])
    if "torch" in states or "torch.cuda" in states:
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            try:
                if "torch" in states:
                    torch.set_rng_state(torch.tensor(list(states["torch"]), dtype=torch.uint8))
                cuda = states.get("torch.cuda")
                if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
                    torch.cuda.set_rng_state_all(
                        [torch.tensor(list(s), dtype=torch.uint8) for s in cuda])
            except Exception:  # noqa: BLE001 - best effort
                pass
    if "tensorflow" in states:
        try:
            import tensorflow as tf
            algorithm, state = states["tensorflow"]
            tf.random.set_global_generator(tf.random.Generator.from_state(state, algorithm))
        except Exception:  # noqa: BLE001 - best effort
            pass


def _rng_snapshot():
    """What the random guard compares: random's and numpy's global states."""
    snapshot = {"random": random.getstate()}
    np = sys.modules.get("numpy")
    if np is not None:
        try:
            snapshot["numpy"] = np.random.get_state()
        except Exception:  # noqa: BLE001
            pass
    return snapshot


def _rng_drawn(before, after):
    """The libraries whose global state changed between two snapshots."""
    drawn = []
    if before["random"] != after["random"]:
        drawn.append("random")
    if "numpy" in before and "numpy" in after:
        a, b = before["numpy"], after["numpy"]
        if a[0] != b[0] or tuple(a[2:]) != tuple(b[2:]) or not (a[1] == b[1]).all():
            drawn.append("numpy")
    return drawn


# ---------------------------------------------------------------- messages

def _a_type(value):
    t = type(value)
    plain = t.__module__ in ("builtins", "__main__")  # __main__: a class of the notebook
    name = t.__qualname__ if plain else f"{t.__module__}.{t.__qualname__}"
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def _short(error):
    text = str(error).strip().splitlines()
    text = text[0] if text else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _names(names):
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _cells(cells):
    if not cells:
        return ""
    return f" (cell{'s' if len(cells) > 1 else ''} {', '.join(str(c) for c in cells)})"


# ---------------------------------------------------------------- the step

def import_submodule(path):
    """Imports the longest prefix of PATH that is a module (scipy.stats of
    scipy.stats.norm, matplotlib.pyplot of matplotlib.pyplot): a cell reached it through
    its package after a library had imported it in the notebook."""
    parts = path.split(".")
    for end in range(len(parts), 1, -1):
        try:
            importlib.import_module(".".join(parts[:end]))
            return
        except ModuleNotFoundError as e:
            if e.name != ".".join(parts[:end]):
                raise


def run_script(path):
    """`%run PATH` as IPython runs it: the script runs as __main__ in a namespace of its
    own, with its directory first on sys.path and sys.argv [PATH]; an exception in it is
    printed, not raised (the notebook goes on), as is a missing file; sys.exit(0) is
    quiet. Returns the names it bound, those bound before an error too, for the step's
    globals."""
    import traceback
    namespace = {"__name__": "__main__", "__file__": path, "__builtins__": builtins}
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [path]
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        with open(path, "rb") as f:
            code = compile(f.read(), path, "exec")
        exec(code, namespace)
    except FileNotFoundError as e:
        if e.filename == path:
            print(f"ERROR:root:File `{path}` not found.", file=sys.stderr)
        else:
            traceback.print_exc()
    except SystemExit as e:
        if e.code not in (None, 0):
            traceback.print_exc()
    except Exception:
        traceback.print_exc()
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
    return {k: v for k, v in namespace.items() if not k.startswith("__")}


class Step:
    def __init__(self, name, upstream, product, inputs=None, outputs=(), metrics=(),
                 workdir=".", script=None, groups=None, uses=None, seeded=False, changes=(),
                 draws=False):
        self.name = name
        self.inputs = dict(inputs or {})
        self.outputs = list(outputs)
        self.metrics = list(metrics)
        self.groups = {artifact: list(members) for artifact, members in (groups or {}).items()}
        self.uses = dict(uses or {})
        self.seeded = seeded  # an earlier cell of the notebook seeded a global generator
        # what the analysis knows the step changes in place and does not save (no later
        # step reads it), and whether it draws from a seeded generator: not reported
        self.changes = set(changes)
        self.draws = draws
        self.under_ploomber = isinstance(product, dict)
        self.params = {}
        self.guard = _flag("NB2PIPE_GUARD", True)
        self.strict = _flag("NB2PIPE_STRICT", False)
        self._loaded = {}  # artifact -> [(variable, serializer, pickle's hash, reference)]
        self._rng_after_load = None
        if self.under_ploomber:
            pipeline_dir = os.getcwd()
            self.input_paths = {
                artifact: os.path.abspath(upstream[producer][artifact])
                for artifact, producer in self.inputs.items()
            }
            self.output_paths = {a: os.path.abspath(product[a]) for a in self.outputs}
            self.metrics_path = os.path.abspath(product["nb2pipe-metrics"]) if self.metrics else None
            # the step's directory: where its metrics or outputs go (output/NAME/)
            if self.metrics_path:
                step_dir = os.path.dirname(self.metrics_path)
            elif self.output_paths:
                step_dir = os.path.dirname(next(iter(self.output_paths.values())))
            else:
                step_dir = os.path.splitext(os.path.abspath(product["nb"]))[0]
            workdir = os.path.join(pipeline_dir, workdir)
        else:
            pipeline_dir = os.path.dirname(os.path.dirname(os.path.abspath(script)))
            args = self._parse_args(pipeline_dir)
            data_dir = os.path.abspath(args.data_dir)
            given_inputs = _pairs(args.input, "--input")
            given_outputs = _pairs(args.output, "--output")
            self.input_paths = {
                artifact: os.path.abspath(given_inputs.get(
                    artifact, os.path.join(data_dir, producer, artifact + SERIALIZER_SUFFIX)))
                for artifact, producer in self.inputs.items()
            }
            self.output_paths = {
                artifact: os.path.abspath(given_outputs.get(
                    artifact, os.path.join(data_dir, name, artifact + SERIALIZER_SUFFIX)))
                for artifact in self.outputs
            }
            self.metrics_path = os.path.abspath(
                args.metrics or os.path.join(data_dir, name, "metrics.json"))
            step_dir = os.path.dirname(self.metrics_path)
            self.params = _pairs(args.param, "--param")
            for key, value in os.environ.items():
                if key.startswith("NB2PIPE_PARAM_"):
                    self.params.setdefault(key[len("NB2PIPE_PARAM_"):], value)
            workdir = args.workdir or os.path.join(pipeline_dir, workdir)
        # a report of an earlier run of this step never outlives it
        self.guard_path = os.path.join(step_dir, GUARD_FILE)
        try:
            os.remove(self.guard_path)
        except FileNotFoundError:
            pass
        # the notebook ran in its own directory: relative paths in its code mean that
        os.chdir(workdir)
        # and a kernel finds modules in the current directory (import mymodule)
        if "" not in sys.path:
            sys.path.insert(0, "")
        if not hasattr(builtins, "display"):
            builtins.display = print  # IPython's display() outside IPython

    @staticmethod
    def _parse_args(pipeline_dir):
        parser = argparse.ArgumentParser(description="Run one step of an nb2pipe pipeline.")
        parser.add_argument("--data-dir", default=os.environ.get(
            "NB2PIPE_DATA_DIR", os.path.join(pipeline_dir, "output")))
        parser.add_argument("--param", action="append", metavar="NAME=VALUE")
        parser.add_argument("--input", action="append", metavar="NAME=PATH")
        parser.add_argument("--output", action="append", metavar="NAME=PATH")
        parser.add_argument("--metrics", metavar="PATH")
        parser.add_argument("--workdir", metavar="DIR")
        return parser.parse_args()

    def param(self, name, default):
        """The parameter's value: --param, then NB2PIPE_PARAM_<NAME>, then the default."""
        if name in self.params:
            return _coerce(default, self.params[name])
        return default

    def _describe(self, artifact):
        if artifact == RANDOM_STATE:
            return "the global random state"
        return _names(self.groups.get(artifact, [artifact]))

    # ------------------------------------------------------------ load

    def load(self, ns):
        """Binds every input in NS (the script's globals): a variable, a group's members,
        and last the random state. An absent value leaves its name unbound."""
        states = None
        for artifact, producer in self.inputs.items():
            path = self.input_paths[artifact]
            try:
                value, kind = read_artifact(path)
            except FileNotFoundError:
                raise SystemExit(
                    f"nb2pipe: step {self.name!r} needs {self._describe(artifact)} from step "
                    f"{producer!r}, but {path} does not exist: run that step first") from None
            except ImportError as e:
                raise SystemExit(f"nb2pipe: step {self.name!r} cannot load "
                                 f"{self._describe(artifact)} from {path}: {e}") from None
            except Exception as e:
                if hasattr(e, "add_note"):  # Python 3.11
                    e.add_note(f"nb2pipe: while step {self.name!r} loaded "
                               f"{self._describe(artifact)} from {path}")
                raise
            if artifact == RANDOM_STATE:
                states = value
                continue
            bound = bind_artifact(ns, artifact, value, self.groups.get(artifact))
            if self.guard and artifact not in self.outputs:
                self._track(artifact, kind, bound)
        # after the carried code: a handed-over state overrides a replayed seed
        if isinstance(states, dict):
            _set_rng_states(states)
        if self.guard:
            self._rng_after_load = _rng_snapshot()

    def _track(self, artifact, kind, bound):
        """Remembers, for the guard, each object loaded and the hash of its pickle."""
        for member, obj in bound.items():
            if isinstance(obj, _IMMUTABLE):
                continue
            digest = _pickled_hash(kind, obj)
            if digest is None:
                continue
            try:
                ref = weakref.ref(obj)
            except TypeError:  # lists, dicts, tuples: held until done()
                ref = (lambda o: lambda: o)(obj)
            self._loaded.setdefault(artifact, []).append((member, kind, digest, ref))

    # ------------------------------------------------------------ save

    def save(self, ns):
        """Saves every output from NS; a variable that is not bound is saved as absent."""
        for artifact in self.outputs:
            if artifact == RANDOM_STATE:
                value = _rng_states()
            elif artifact in self.groups:
                value = {m: ns[m] for m in self.groups[artifact] if m in ns}
            else:
                value = ns.get(artifact, ABSENT)
            self._write(artifact, self.output_paths[artifact], value)

    def _write(self, artifact, path, value):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        errors = None
        try:
            with open(tmp, "wb") as f:
                if value is ABSENT:
                    f.write(HEADER + b"absent\n")
                else:
                    errors = self._dump_any(value, f)
            if errors is None:
                os.replace(tmp, path)
        finally:
            if os.path.lexists(tmp):
                os.remove(tmp)
        if errors is not None:
            raise SystemExit(self._cannot_save(artifact, value, errors))

    @staticmethod
    def _dump_any(value, f):
        """Writes VALUE with the first serializer that can; returns None, or the list of
        the serializers' errors when none could."""
        errors = []
        for kind in SERIALIZERS:
            if _module(kind) is None:
                errors.append(f"{kind}: not installed")
                continue
            f.seek(0)
            f.truncate()
            if kind != "pickle":
                f.write(HEADER + kind.encode("ascii") + b"\n")
            try:
                _dump(kind, value, f)
                return None
            except (OSError, MemoryError):
                raise  # the disk, not the value
            except Exception as e:  # noqa: BLE001 - pickling fails in many ways
                errors.append(f"{kind}: {_short(e)}")
        return errors

    def _cannot_save(self, artifact, value, errors):
        if artifact not in self.groups:
            what = f"{artifact!r} ({_a_type(value)})"
        else:
            # the members that cannot be saved alone (a list holding the culprit is one)
            culprits = []
            for member, obj in value.items():
                member_errors = self._dump_any(obj, _HashingSink())
                if member_errors is not None:
                    culprits.append(member)
                    errors = member_errors if len(culprits) == 1 else errors
            others = [m for m in self.groups[artifact] if m not in culprits]
            if not culprits:
                what = f"{_names(self.groups[artifact])} (saved together, as they share objects)"
            else:
                what = " and ".join(f"{m!r} ({_a_type(value[m])})" for m in culprits)
                if others:
                    what += f", saved with {_names(others)} (they share objects)"
        return (f"nb2pipe: step {self.name!r} cannot save {what}: it cannot be pickled "
                f"({'; '.join(errors)}). Keep the cells that create and use it in one step "
                f"(e.g. give them one block: tag), or recreate it in the step that uses it.")

    # ------------------------------------------------------------ done

    def done(self, ns):
        """Writes the step's metrics (JSON where possible, repr otherwise), then runs the
        guard."""
        if self.metrics:
            self._write_metrics(ns)
        if self.guard:
            self._run_guard(ns)

    def _write_metrics(self, ns):
        values = {}
        for var in self.metrics:
            if var not in ns:
                continue
            value = ns[var]
            try:
                json.dumps(value)
                values[var] = value
            except (TypeError, ValueError):
                values[var] = repr(value)
        self._write_json(self.metrics_path, values)

    @staticmethod
    def _write_json(path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, sort_keys=isinstance(data, dict))
                f.write("\n")
            os.replace(tmp, path)
        finally:
            if os.path.lexists(tmp):
                os.remove(tmp)

    @staticmethod
    def _changed(ns, tracked):
        """The variables whose loaded object the step changed in place."""
        changed = []
        for var, kind, digest, ref in tracked:
            obj = ref()
            # a name bound to another object now was reassigned, not changed in place
            if obj is None or var not in ns or ns[var] is not obj:
                continue
            now = _pickled_hash(kind, obj)
            if now is not None and now != digest:
                changed.append(var)
        return changed

    def _run_guard(self, ns):
        reports = []
        for artifact, tracked in self._loaded.items():
            producer = self.inputs[artifact]
            cells = list(self.uses.get(artifact, []))
            for var in self._changed(ns, tracked):
                if var in self.changes:
                    continue
                reports.append({
                    "kind": "in-place", "variable": var, "step": self.name, "producer": producer,
                    "cells": cells,
                    "message": f"step {self.name!r} changed {var!r} in place{_cells(cells)}, but "
                               f"does not save it: later steps that read {var!r} get the value "
                               f"step {producer!r} saved [guard]"})
        self._loaded = {}
        seeded = RANDOM_STATE in self.inputs or self.seeded or _flag("NB2PIPE_RANDOM_SEEDED", False)
        if (RANDOM_STATE not in self.outputs and seeded and not self.draws
                and self._rng_after_load is not None):
            drawn = _rng_drawn(self._rng_after_load, _rng_snapshot())
            if drawn:
                cells = list(self.uses.get(RANDOM_STATE, []))
                reports.append({
                    "kind": "random-state", "variable": RANDOM_STATE, "step": self.name,
                    "producer": self.inputs.get(RANDOM_STATE), "cells": cells, "libraries": drawn,
                    "message": f"step {self.name!r} drew from the global random state "
                               f"({', '.join(drawn)}){_cells(cells)}, which nb2pipe did not "
                               f"expect; later steps start from the state before it [guard]"})
        if not reports:
            return
        for report in reports:
            print(f"nb2pipe: warning: {report['message']}", file=sys.stderr)
        self._write_json(self.guard_path, reports)
        if self.strict:
            print(f"nb2pipe: step {self.name!r} fails: the guard reported "
                  f"{len(reports)} problem{'s' if len(reports) > 1 else ''} and NB2PIPE_STRICT=1 "
                  f"({self.guard_path})", file=sys.stderr)
            sys.stderr.flush()
            raise SystemExit(STRICT_STATUS)
