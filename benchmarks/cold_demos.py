"""Compilations and CPU seconds of demos run cold (empty JAX compile cache), one process each.

Run: `.venv/bin/python benchmarks/cold_demos.py [NAME ...] [--all] [--shared-cache] [--top N]
[--json FILE]` (default: every demo that calls `fit`; `--all`: every demo). Each demo runs in its
own python process, as `make figures`' workers run it, with a new empty persistent compilation
cache (`--shared-cache`: one cache for the whole run, empty at its start, as `make figures`
shares one between its workers); JAX's monitoring events count what it did:
  traced     functions traced to a jaxpr (jit cache misses in this process)
  lowered    jaxprs lowered to an XLA program
  compiled   XLA compilations (backend compile calls; a persistent-cache hit counts too)
  cache_hits of those, the ones served by the persistent cache (same program compiled before)
  compile_s  CPU seconds (all threads: XLA compiles in its own) in tracing, lowering and XLA
             compilation; outermost events only (a jit traced inside another counts once)
  cpu_s      the process's CPU seconds for `main` (user + system, all threads), robust to a
             busy machine where wall seconds are not
  wall_s     seconds for `main`
`--top N` then lists the N functions that cost the most compile CPU seconds over all demos.
Counts do not depend on the machine's load; compare seconds only within one run.
"""

import argparse
import collections
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
COLUMNS = ["traced", "lowered", "compiled", "cache_hits", "compile_s", "cpu_s", "wall_s"]


def demos(every: bool) -> list[Path]:
    """Every demo, or those whose source calls fit(...)."""
    return sorted(p for p in (ROOT / "demos").glob("*/[!_]*.py") if every or "fit(" in p.read_text())


def measure(path: Path, out_dir: Path, cache: Path) -> dict:
    """The body of one process: run the demo's main, return counts and seconds."""
    import runpy

    import jax
    from jax import monitoring

    from handson.demo import enable_compile_cache

    enable_compile_cache(cache)
    counts = dict.fromkeys([*EVENTS.values(), "cache_hits"], 0)
    per_function = collections.defaultdict(float)  # "event function" -> compile CPU seconds
    started = []  # process CPU time at the start of each open event (they nest)

    def on_start(event, value, **kwargs):  # jax records the start time of an event as a scalar
        if event in EVENTS:
            started.append(time.process_time())

    def on_duration(event, duration, fun_name="?", **kwargs):
        if event in EVENTS:
            counts[EVENTS[event]] += 1
            start = started.pop()
            if not started:
                per_function[f"{EVENTS[event]} {fun_name}"] += time.process_time() - start

    def on_event(event, **kwargs):
        if event == "/jax/compilation_cache/cache_hits":
            counts["cache_hits"] += 1

    monitoring.register_scalar_listener(on_start)
    monitoring.register_event_duration_secs_listener(on_duration)
    monitoring.register_event_listener(on_event)
    sys.path.insert(0, str(path.parent))  # sibling imports, as the workers allow
    namespace = runpy.run_path(str(path), run_name="__demo__")
    cpu, wall = time.process_time(), time.perf_counter()
    results = namespace["main"](out_dir)
    jax.block_until_ready(jax.tree.leaves(results))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {**counts, "compile_s": round(sum(per_function.values()), 2), "cpu_s": round(cpu, 2),
            "wall_s": round(wall, 2), "functions": per_function}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="demo names (default: every demo that calls fit)")
    parser.add_argument("--all", action="store_true", help="every demo")
    parser.add_argument("--shared-cache", action="store_true", help="one compile cache for the run")
    parser.add_argument("--top", type=int, default=0, help="list the N costliest functions to compile")
    parser.add_argument("--json", type=Path, help="also write the table as JSON")
    parser.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        with tempfile.TemporaryDirectory(prefix="cold_demo_") as out:
            print(json.dumps(measure(args.worker[0], Path(out), args.worker[1])))
        return
    paths = ([next((ROOT / "demos").glob(f"*/{name}.py")) for name in args.names]
             if args.names else demos(args.all))
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", MPLBACKEND="agg")
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    print(f"cold_demos: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"{'one compile cache for the run' if args.shared_cache else 'an empty compile cache per demo'}")
    print(f"  {'demo':24s} " + " ".join(f"{c:>10s}" for c in COLUMNS))
    table, totals, functions = {}, dict.fromkeys(COLUMNS, 0), collections.Counter()
    with tempfile.TemporaryDirectory(prefix="cold_demos_") as tmp:
        for path in paths:
            cache = Path(tmp) / ("jax_cache" if args.shared_cache else f"jax_cache_{path.stem}")
            done = subprocess.run([sys.executable, __file__, "--worker", str(path), str(cache)],
                                  cwd=ROOT, env=env, capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"{path.stem} failed:\n{done.stderr[-3000:]}")
            row = table[path.stem] = json.loads(done.stdout.strip().splitlines()[-1])
            functions.update(row.pop("functions"))
            totals = {c: totals[c] + row[c] for c in COLUMNS}
            print(f"  {path.stem:24s} " + " ".join(f"{row[c]:>10}" for c in COLUMNS), flush=True)
    print(f"  {'total':24s} " + " ".join(f"{round(totals[c], 2):>10}" for c in COLUMNS))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if args.top:
        print(f"\nthe {args.top} costliest compilations over all demos (step, function: CPU s)")
        for name, seconds in functions.most_common(args.top):
            print(f"  {name:60s} {seconds:8.2f}")
    if args.json:
        args.json.write_text(json.dumps({"demos": table, "total": totals, "functions": functions}, indent=2))


if __name__ == "__main__":
    main()
