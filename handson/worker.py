"""A long-lived process that runs demos one after another: `python -m handson.worker`.

Importing jax + flax + optax + matplotlib costs ~3 s per process, so a worker pays it once
and then runs many demos. Protocol: one JSON object per line. The runner writes requests
on stdin; the worker answers on its original stdout, which it keeps for itself: fd 1 is
pointed at stderr at start-up and, during a demo, fds 1 and 2 go to the demo's log file,
so nothing a demo (or XLA) prints can corrupt the protocol.

request:  {"id", "path", "out_dir", "log", "imports": [dotted names], "uses_jax", "jax_cache"}
answers:  {"event": "ready"} once; then per request {"event": "start", "id"} when the demo
          starts (imports done; the time limit counts from here) and
          {"event": "done", "id", "ok", "duration_s", "device", "results"} or
          {"event": "done", "id", "ok": false, "reason", "traceback"}.
"""

import contextlib
import importlib
import json
import os
import runpy
import sys
import time
import traceback
from pathlib import Path


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


def run_demo(path: Path, out_dir: Path, uses_jax: bool) -> dict:
    """Load the demo as `__demo__`, call `main(out_dir)`, return the answer to send."""
    demo_dir = str(path.parent)
    saved_path = list(sys.path)
    # Sibling imports (`import _helpers`) work as with `python demos/<deck>/<name>.py`.
    sys.path.insert(0, demo_dir)
    start = time.perf_counter()
    try:
        with _matplotlib_state():
            namespace = runpy.run_path(str(path), run_name="__demo__")
            if not callable(namespace.get("main")):
                raise TypeError(f"{path.name} has no main(out_dir) function")
            results = namespace["main"](out_dir)
        if not isinstance(results, dict):
            raise TypeError(f"main() returned {type(results).__name__}, expected a dict")
        results = to_plain(results)  # waits for JAX's asynchronous results: part of the time
        duration = time.perf_counter() - start
    except (Exception, SystemExit) as error:
        return _failure(error)
    finally:
        sys.path[:] = saved_path
        # Demos in different decks may have same-named helper modules: forget them.
        for name, module in list(sys.modules.items()):
            if (getattr(module, "__file__", None) or "").startswith(demo_dir + os.sep):
                del sys.modules[name]
    return {"ok": True, "duration_s": round(duration, 3),
            "device": _device() if uses_jax else "none", "results": results}


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
    """The traceback from the demo's own frames down (the worker and runpy are noise)."""
    tb = error.__traceback__
    while tb and (tb.tb_frame.f_code.co_filename in (__file__, runpy.__file__)
                  or tb.tb_frame.f_code.co_filename.endswith("runpy>")):
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


def _preimport(names: list[str]) -> None:
    """Import the demo's libraries before its clock starts: durations then measure the demo."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # `from a import Class` gives a.Class; real errors resurface in the demo
            pass


def main() -> None:
    # The protocol gets private copies of fds 0 and 1; the demo sees /dev/null and stderr,
    # so neither input() nor print() can touch it.
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)

    def send(message: dict) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    os.environ.setdefault("MPLBACKEND", "agg")
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
                send({"event": "start", "id": request["id"]})
                answer = run_demo(Path(request["path"]), Path(request["out_dir"]), request["uses_jax"])
        send({"event": "done", "id": request["id"], **answer})


if __name__ == "__main__":
    main()
