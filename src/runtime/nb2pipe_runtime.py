"""How a generated step loads its inputs and saves its outputs.

Every step script of a pipeline imports this module. A step runs in one of two ways:

- under Ploomber, which injects `upstream` (a dict of the upstream tasks' products) and
  `product` (this task's products) after the cell tagged "parameters";
- standalone: python3 steps/NAME.py [--data-dir DIR] [--param NAME=VALUE]...
  [--input NAME=PATH]... [--output NAME=PATH]... [--metrics PATH] [--workdir DIR]
  (NB2PIPE_DATA_DIR and NB2PIPE_PARAM_<NAME> in the environment work too). Values
  live in DATA_DIR/<step>/<name>.pkl unless --input/--output give other paths.

Outputs are written to a temporary name and renamed, so an interrupted step never
leaves a half-written file that a later run would trust.
"""
import argparse
import ast
import builtins
import json
import os
import pickle
import sys

SERIALIZER_SUFFIX = ".pkl"


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


class Step:
    def __init__(self, name, upstream, product, inputs, outputs, metrics, workdir, script=None):
        self.name = name
        self.inputs = dict(inputs)
        self.outputs = list(outputs)
        self.metrics = list(metrics)
        self.under_ploomber = isinstance(product, dict)
        self.params = {}
        if self.under_ploomber:
            pipeline_dir = os.getcwd()
            self.input_paths = {
                var: os.path.abspath(upstream[producer][var]) for var, producer in self.inputs.items()
            }
            self.output_paths = {var: os.path.abspath(product[var]) for var in self.outputs}
            self.metrics_path = os.path.abspath(product["nb2pipe-metrics"]) if self.metrics else None
            workdir = os.path.join(pipeline_dir, workdir)
        else:
            pipeline_dir = os.path.dirname(os.path.dirname(os.path.abspath(script)))
            args = self._parse_args(pipeline_dir)
            data_dir = os.path.abspath(args.data_dir)
            given_inputs = _pairs(args.input, "--input")
            given_outputs = _pairs(args.output, "--output")
            self.input_paths = {
                var: os.path.abspath(given_inputs.get(
                    var, os.path.join(data_dir, producer, var + SERIALIZER_SUFFIX)))
                for var, producer in self.inputs.items()
            }
            self.output_paths = {
                var: os.path.abspath(given_outputs.get(
                    var, os.path.join(data_dir, name, var + SERIALIZER_SUFFIX)))
                for var in self.outputs
            }
            self.metrics_path = os.path.abspath(
                args.metrics or os.path.join(data_dir, name, "metrics.json"))
            self.params = _pairs(args.param, "--param")
            for key, value in os.environ.items():
                if key.startswith("NB2PIPE_PARAM_"):
                    self.params.setdefault(key[len("NB2PIPE_PARAM_"):], value)
            workdir = args.workdir or os.path.join(pipeline_dir, workdir)
        # the notebook ran in its own directory: relative paths in its code mean that
        os.chdir(workdir)
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

    def load(self, var):
        path = self.input_paths[var]
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except FileNotFoundError:
            raise SystemExit(
                f"nb2pipe: step {self.name!r} needs {var!r} from step {self.inputs[var]!r}, "
                f"but {path} does not exist: run that step first") from None

    def save(self, var, value):
        path = self.output_paths[var]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            pickle.dump(value, f, protocol=4)
        os.replace(tmp, path)

    def done(self, scope):
        """Writes the step's metrics (JSON where possible, repr otherwise)."""
        if not self.metrics:
            return
        values = {}
        for var in self.metrics:
            value = scope[var]
            try:
                json.dumps(value)
                values[var] = value
            except (TypeError, ValueError):
                values[var] = repr(value)
        os.makedirs(os.path.dirname(self.metrics_path), exist_ok=True)
        tmp = f"{self.metrics_path}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(values, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.metrics_path)
