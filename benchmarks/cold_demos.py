"""Compilations and CPU seconds of demos run cold (empty JAX compile cache), one process each.

Run: `.venv/bin/python benchmarks/cold_demos.py [NAME ...] [--json FILE]` (default: every demo
that calls `fit`). Each demo runs in its own python process, as `make figures`' workers run
it, with a new empty persistent compilation cache; JAX's monitoring events count what it did:
  traced     functions traced to a jaxpr (jit cache misses in this process)
  compiled   XLA compilations (backend compile calls; a persistent-cache hit counts too)
  cache hit  of those, the ones served by the persistent cache (same program compiled before)
  compile s  CPU seconds (all threads: XLA compiles in its own) in tracing, lowering and XLA
             compilation
             (outermost events only: a jit traced inside another counts once)
  cpu s      the process's CPU seconds for `main` (user + system, all threads), robust to a
             busy machine where wall seconds are not
  wall s     seconds for `main`
Counts do not depend on the machine's load; compare seconds only within one run.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS = {  # jax.monitoring duration event -> column
    "/jax/core/compile/jaxpr_trace_duration": "traced",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lowered",
    "/jax/core/compile/backend_compile_duration": "compiled",
}


def fit_demos() -> list[Path]:
    """The demos whose source calls fit(...)."""
    return sorted(p for p in (ROOT / "demos").glob("*/[!_]*.py") if "fit(" in p.read_text())


def measure(path: Path, out_dir: Path) -> dict:
    """The body of one process: run the demo's main, return counts and seconds."""
    import runpy

    import jax
    from jax import monitoring

    from handson.demo import enable_compile_cache

    enable_compile_cache(out_dir / "jax_cache")
    counts = {column: 0 for column in EVENTS.values()} | {"cache_hits": 0}
    seconds = {"compile_s": 0.0}
    started = []  # process CPU time at the start of each open event (they nest)

    def on_start(event, value, **kwargs):  # jax records the start time of an event as a scalar
        if event in EVENTS:
            started.append(time.process_time())

    def on_duration(event, duration, **kwargs):
        if event in EVENTS:
            counts[EVENTS[event]] += 1
            start = started.pop()
            if not started:
                seconds["compile_s"] += time.process_time() - start

    def on_event(event, **kwargs):
        if event == "/jax/compilation_cache/cache_hits":
            counts["cache_hits"] += 1

    monitoring.register_scalar_listener(on_start)
    monitoring.register_event_duration_secs_listener(on_duration)
    monitoring.register_event_listener(on_event)
    sys.path.insert(0, str(path.parent))
    namespace = runpy.run_path(str(path), run_name="__demo__")
    (out_dir / "out").mkdir()
    cpu, wall = time.process_time(), time.perf_counter()
    results = namespace["main"](out_dir / "out")
    jax.block_until_ready(jax.tree.leaves(results))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {**counts, "compile_s": round(seconds["compile_s"], 2), "cpu_s": round(cpu, 2),
            "wall_s": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="demo names (default: every demo that calls fit)")
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        with tempfile.TemporaryDirectory(prefix="cold_demo_") as tmp:
            print(json.dumps(measure(args.worker, Path(tmp))))
        return
    paths = ([next((ROOT / "demos").glob(f"*/{name}.py")) for name in args.names]
             if args.names else fit_demos())
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", MPLBACKEND="agg")
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    print(f"cold_demos: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    columns = ["traced", "lowered", "compiled", "cache_hits", "compile_s", "cpu_s", "wall_s"]
    print(f"  {'demo':24s} " + " ".join(f"{c:>10s}" for c in columns))
    table, totals = {}, dict.fromkeys(columns, 0)
    for path in paths:
        done = subprocess.run([sys.executable, __file__, "--worker", str(path)], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{path.stem} failed:\n{done.stderr[-3000:]}")
        row = table[path.stem] = json.loads(done.stdout.strip().splitlines()[-1])
        totals = {c: totals[c] + row[c] for c in columns}
        print(f"  {path.stem:24s} " + " ".join(f"{row[c]:>10}" for c in columns), flush=True)
    print(f"  {'total':24s} " + " ".join(f"{round(totals[c], 2):>10}" for c in columns))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if args.json:
        args.json.write_text(json.dumps({"demos": table, "total": totals}, indent=2))


if __name__ == "__main__":
    main()
