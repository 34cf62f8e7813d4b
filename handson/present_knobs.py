"""Knobs: the keyword arguments of a demo's `main` that a speaker may change live.

A demo declares them in one module constant, a dict literal read by parsing (never by
importing the demo, as the runner reads TIME_LIMIT):

    KNOBS = {
        "epochs": {"type": "int", "min": 1, "max": 100, "warm": 1},
        "learning_rate": {"type": "float", "min": 1e-4, "max": 1.0, "log": True, "warm_extra": [1e-2]},
        "hidden_units": {"type": "choice", "values": [[1, 2, 3, 8], [2, 4, 8, 16]]},
    }

Each key names a keyword argument of `main` whose default (a literal or a module constant
holding one) lies in the allowed values. `log: True` shows a float on a log scale; `warm` is
the value the live server uses when it compiles the demo in the background (a short run that
compiles what the full one does), else the default; `warm_extra` lists more values to compile
that way, one short run each (a learning rate is baked into the XLA program, so each new value
compiles). Standard library only.
"""

import ast
import copy
import json
import math
import os
from pathlib import Path

TYPES = ("int", "float", "choice")  # what a knob may be
FIELDS = {"type", "min", "max", "log", "values", "warm", "warm_extra", "label"}  # what a knob's dict may hold


class KnobError(Exception):
    """A KNOBS declaration that is not valid: `demo.py:LINE: reason`."""


class BadValue(Exception):
    """A live request's knob value that is not allowed (the server answers 400 with the text)."""


def read(path: Path) -> dict[str, dict]:
    """The demo's knobs, each {"type", "min", "max", "log", "values", "warm", "default", "label"}.

    {} when it declares none; KnobError (file and line) when the declaration is wrong.
    Parsed again only when the file changed.
    """
    st = os.stat(path)
    signature = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if signature not in _read:
        if len(_read) > 256:
            _read.clear()
        try:
            _read[signature] = _parse(Path(path).read_bytes(), path)
        except (KnobError, SyntaxError) as error:
            _read[signature] = error
    found = _read[signature]
    if isinstance(found, Exception):
        raise found
    return copy.deepcopy(found)


_read: dict = {}  # (path, stat signature) -> knobs or the error


def _parse(source: bytes, path: Path) -> dict[str, dict]:
    tree = ast.parse(source, filename=str(path))
    constants = _constants(tree)
    node = next((n for n in tree.body if isinstance(n, ast.Assign) and len(n.targets) == 1
                 and isinstance(n.targets[0], ast.Name) and n.targets[0].id == "KNOBS"), None)
    if node is None:
        return {}
    where = f"{Path(path).name}:{node.lineno}"
    try:
        declared = ast.literal_eval(node.value)
    except ValueError:
        raise KnobError(f"{where}: KNOBS must be a dict literal") from None
    if not isinstance(declared, dict):
        raise KnobError(f"{where}: KNOBS must be a dict literal")
    defaults = _main_defaults(tree, constants, where)
    return {name: _knob(name, spec, defaults, where) for name, spec in declared.items()}


def _knob(name, spec, defaults: dict, where: str) -> dict:
    if not isinstance(spec, dict):
        raise KnobError(f"{where}: knob {name!r} must be a dict like {{'type': 'int', 'min': 1, 'max': 10}}")
    unknown = set(spec) - FIELDS
    if unknown:
        raise KnobError(f"{where}: knob {name!r} has unknown field(s) {', '.join(sorted(unknown))} "
                        f"(allowed: {', '.join(sorted(FIELDS))})")
    if name not in defaults:
        raise KnobError(f"{where}: knob {name!r} is not a keyword argument of main() with a default")
    kind = spec.get("type")
    if kind not in TYPES:
        raise KnobError(f"{where}: knob {name!r} has type {kind!r}; expected one of {', '.join(TYPES)}")
    knob = {"type": kind, "label": spec.get("label") or name.replace("_", " ")}
    if kind == "choice":
        values = spec.get("values")
        if not isinstance(values, (list, tuple)) or not values:
            raise KnobError(f"{where}: choice knob {name!r} needs a non-empty list of 'values'")
        knob["values"] = [_plain(v) for v in values]
    else:
        low, high = spec.get("min"), spec.get("max")
        number = int if kind == "int" else (int, float)
        if not all(isinstance(v, number) and not isinstance(v, bool) for v in (low, high)) or not low < high:
            raise KnobError(f"{where}: {kind} knob {name!r} needs numbers 'min' < 'max', got {low!r} and {high!r}")
        log = bool(spec.get("log", False))
        if log and low <= 0:
            raise KnobError(f"{where}: knob {name!r} is on a log scale, so 'min' must be > 0")
        knob.update(min=low, max=high, log=log)
    extra = spec.get("warm_extra", [])
    if not isinstance(extra, (list, tuple)):
        raise KnobError(f"{where}: knob {name!r}: 'warm_extra' must be a list of values")
    try:
        knob["default"] = check(name, knob, defaults[name])
    except BadValue as error:
        raise KnobError(f"{where}: the default of main(): {error}") from None
    try:
        knob["warm"] = check(name, knob, spec.get("warm", defaults[name]))
        knob["warm_extra"] = [check(name, knob, value) for value in extra]
    except BadValue as error:
        raise KnobError(f"{where}: a warm value: {error}") from None
    return knob


def check(name: str, knob: dict, value):
    """`value` as the type the knob takes, or BadValue naming the knob and what is allowed."""
    value = _plain(value)
    if knob["type"] == "choice":
        if value not in knob["values"]:
            raise BadValue(f"{name}={json.dumps(value)} is not allowed: {allowed(knob)}")
        return value
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if knob["type"] == "int":
        if numeric and float(value).is_integer():
            value = int(value)
        elif not isinstance(value, int) or isinstance(value, bool):
            raise BadValue(f"{name}={json.dumps(value)} is not an integer: {allowed(knob)}")
    elif not numeric or not math.isfinite(value):
        raise BadValue(f"{name}={json.dumps(value)} is not a number: {allowed(knob)}")
    else:
        value = float(value)
    if not knob["min"] <= value <= knob["max"]:
        raise BadValue(f"{name}={value:g} is out of range: {allowed(knob)}")
    return value


def allowed(knob: dict) -> str:
    """What a knob accepts, in words: 'an integer from 1 to 100'."""
    if knob["type"] == "choice":
        return "one of " + ", ".join(json.dumps(v) for v in knob["values"])
    kind = "an integer" if knob["type"] == "int" else "a number"
    scale = " (log scale)" if knob.get("log") else ""
    return f"{kind} from {knob['min']:g} to {knob['max']:g}{scale}"


def values(name: str, knobs: dict[str, dict], given) -> dict:
    """Checked keyword arguments for `main` from a request's {knob: value}; BadValue otherwise."""
    if given is None:
        return {}
    if not isinstance(given, dict):
        raise BadValue("knobs must be an object {name: value}")
    unknown = [k for k in given if k not in knobs]
    if unknown:
        offered = ", ".join(knobs) if knobs else "none"
        raise BadValue(f"{name} has no knob {', '.join(map(repr, unknown))} (its knobs: {offered})")
    return {k: check(k, knobs[k], v) for k, v in given.items()}


def _plain(value):
    """Tuples as lists: JSON has only lists, and a request's value must compare equal."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _constants(tree: ast.Module) -> dict:
    """Module-level `NAME = <literal>` assignments."""
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return found


def _main_defaults(tree: ast.Module, constants: dict, where: str) -> dict:
    """main()'s keyword arguments with their defaults (literals, or constants holding one)."""
    main = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main"), None)
    if main is None:
        raise KnobError(f"{where}: KNOBS needs a main() function")
    args = main.args
    pairs = list(zip(args.args[len(args.args) - len(args.defaults):], args.defaults))
    pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
    defaults = {}
    for arg, node in pairs:
        if isinstance(node, ast.Name) and node.id in constants:
            defaults[arg.arg] = constants[node.id]
        else:
            try:
                defaults[arg.arg] = ast.literal_eval(node)
            except ValueError:
                pass  # a computed default: not usable as a knob
    return defaults
