"""A long-lived process that runs demos one after another: `python -m handson.worker`.

Importing jax + flax + optax + matplotlib costs ~3 s per process, so a worker pays it once
and then runs many demos. Protocol: one JSON object per line. The runner writes requests
on stdin; the worker answers on its original stdout, which it keeps for itself: fd 1 is
pointed at stderr at start-up and, during a demo, fds 1 and 2 go to the demo's log file,
so nothing a demo (or XLA) prints can corrupt the protocol.

Started as `python -m handson.worker ROOT PACKAGE DEMOS` with ENVIRONMENT set: modules under
PACKAGE and DEMOS are hashed as they load (handson/watch.py), so the runner keys each demo on the
code this process executed. This file and what it imports shape every output (result.json,
the environment): they are part of every demo's cache key.

request:  {"id", "path", "out_dir", "log", "imports": [dotted names], "uses_jax", "jax_cache"}
          and, for live runs (handson/present_pool.py), optional "kwargs" for main and
          "progress": true; without "path" it only imports (a warm-up).
answers:  {"event": "ready"} once; then per request {"event": "start", "id"} when the demo
          starts (imports done; the time limit counts from here), with "progress" a
          {"event": "progress", "id", "fields"} per `handson.progress.report(**fields)`, and
          {"event": "done", "id", "ok", "duration_s", "device", "results", "caption", "executed",
          "read"}
          or {"event": "done", "id", "ok": false, "reason", "traceback", "executed", "read"}.
          `executed`: {path: sha256} of every project module this process compiled (and the
          demo); `read`: {path: sha256} of other project files the demo opened (the style).
"""

import contextlib
import faulthandler
import importlib
import json
import os
import signal
import sys
import time
import traceback
import types
from pathlib import Path

from handson.watch import Watch

# Set in every worker's environment: byte-stable figures, no GUI, stable hashing of str.
ENVIRONMENT = {"SOURCE_DATE_EPOCH": "0", "MPLBACKEND": "agg", "PYTHONHASHSEED": "0"}
RESULT = "result.json"  # the returned dict, written beside the demo's outputs


def to_plain(value, where: str = "results"):
    """JSON-able copy of a demo's results: numpy/jax scalars and arrays become python values."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): to_plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "tolist"):  # numpy and jax arrays and scalars
        return to_plain(value.tolist(), where)
    if hasattr(value, "__float__"):
        return float(value)
    raise TypeError(f"{where} is a {type(value).__name__}, which is not JSON")


def run_demo(path: Path, out_dir: Path, uses_jax: bool, watch: Watch, jax_cache: str | None = None,
             kwargs: dict | None = None) -> dict:
    """Load the demo as `__demo__`, call `main(out_dir, **kwargs)`, write result.json; the answer to send."""
    demo_dir = str(path.parent)
    saved_path = list(sys.path)
    # Sibling imports (`import _helpers`) work as with `python demos/<deck>/<name>.py`.
    sys.path.insert(0, demo_dir)
    module = types.ModuleType("__demo__")
    module.__file__ = str(path)
    previous = sys.modules.get("__demo__")
    start = time.perf_counter()
    watch.begin(str(out_dir), jax_cache)
    try:
        with _matplotlib_state():
            sys.modules["__demo__"] = module  # (as runpy does: dataclasses look it up)
            exec(watch.execute(str(path)), module.__dict__)
            if not callable(module.__dict__.get("main")):
                raise TypeError(f"{path.name} has no main(out_dir) function")
            results = module.main(out_dir, **(kwargs or {}))
        if not isinstance(results, dict):
            raise TypeError(f"main() returned {type(results).__name__}, expected a dict")
        results = to_plain(results)  # waits for JAX's asynchronous results: part of the time
        duration = time.perf_counter() - start
    except (Exception, SystemExit) as error:
        answer = _failure(error)
    else:
        answer = None
    finally:
        watch.end()
        sys.path[:] = saved_path
        if previous is None:
            sys.modules.pop("__demo__", None)
        else:
            sys.modules["__demo__"] = previous
        # Demos in different decks may have same-named helper modules: forget them.
        for name, mod in list(sys.modules.items()):
            if (getattr(mod, "__file__", None) or "").startswith(demo_dir + os.sep):
                del sys.modules[name]
    if watch.violations:  # even if the demo caught the PermissionError
        first = watch.violations[0]
        return {"ok": False, "reason": first.splitlines()[0].replace("demo wrote", "wrote"),
                "traceback": "\n".join(watch.violations)}
    if answer is not None:
        return answer
    if (out_dir / RESULT).exists():
        return {"ok": False, "reason": f"main() wrote {RESULT}, which holds its returned dict",
                "traceback": f"{RESULT} in out_dir is the runner's"}
    (out_dir / RESULT).write_text(dumps(results), encoding="utf-8")
    doc = (module.__doc__ or "").strip()
    return {"ok": True, "duration_s": round(duration, 3), "device": _device() if uses_jax else "none",
            "results": results, "caption": doc.splitlines()[0].strip() if doc else ""}


def dumps(data: dict) -> str:
    """result.json's layout: stable bytes for stable data."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


@contextlib.contextmanager
def _matplotlib_state():
    """Undo any rcParams change a demo makes, so the next demo starts from the same state."""
    if "matplotlib" in sys.modules:
        with sys.modules["matplotlib"].rc_context():
            yield
    else:
        yield


def _failure(error: BaseException) -> dict:
    message = str(error).strip().splitlines()
    reason = f"{type(error).__name__}: {message[0]}" if message else type(error).__name__
    return {"ok": False, "reason": reason, "traceback": _demo_traceback(error)}


def _demo_traceback(error: BaseException) -> str:
    """The traceback from the demo's own frames down (the worker's frames are noise)."""
    tb = error.__traceback__
    while tb and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb or error.__traceback__))


def _device() -> str:
    import jax

    device = jax.devices()[0]
    kind = device.device_kind
    return device.platform if kind.lower() == device.platform else f"{device.platform} ({kind})"


@contextlib.contextmanager
def _output_to(log: Path):
    """Send fds 1 and 2 (python prints and C-level output alike) to `log`."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


@contextlib.contextmanager
def _progress(send, request: dict):
    """Pass the demo's progress reports (fit's epochs) to the runner, if it asked for them."""
    if not request.get("progress"):
        yield
        return
    from handson import progress

    with progress.listen(lambda fields: send({"event": "progress", "id": request["id"],
                                              "fields": to_plain(fields)})):
        yield


def _preimport(names: list[str]) -> None:
    """Import the demo's libraries before its clock starts: durations then measure the demo."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # `from a import Class` gives a.Class; real errors resurface in the demo
            pass


def _die_with_parent() -> None:
    """Linux: be killed when the runner dies, even by SIGKILL (no orphaned workers)."""
    runner = int(os.environ.get("HANDSON_RUNNER_PID") or 0)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if runner and os.getppid() != runner:  # it died before prctl took effect
        os._exit(1)


def main(root: str, project_dirs: list[str]) -> None:
    # The protocol gets private copies of fds 0 and 1; the demo sees /dev/null and stderr,
    # so neither input() nor print() can touch it.
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    faulthandler.enable()  # a segfault prints the Python stack to fd 2: the demo's log
    _die_with_parent()

    def send(message: dict) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    watch = Watch(root, project_dirs)
    watch.install()
    compile_cache_on = False
    send({"event": "ready"})
    for line in requests:
        request = json.loads(line)
        with _output_to(Path(request["log"])):
            _preimport(request["imports"])
            try:
                if request["uses_jax"] and not compile_cache_on:
                    from handson.demo import enable_compile_cache

                    enable_compile_cache(Path(request["jax_cache"]))
                    compile_cache_on = True
            except Exception as error:
                answer = _failure(error)
            else:
                if request.get("path") is None:  # a warm-up: the imports only
                    answer = {"ok": True}
                else:
                    send({"event": "start", "id": request["id"]})
                    with _progress(send, request):
                        answer = run_demo(Path(request["path"]), Path(request["out_dir"]),
                                          request["uses_jax"], watch, request.get("jax_cache"),
                                          request.get("kwargs"))
        send({"event": "done", "id": request["id"], **answer,
              "executed": watch.executed, "read": watch.read})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
