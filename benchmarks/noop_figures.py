"""A warm no-op `python -m handson figures`, as a whole process, beside a bare Python start.

Run: `.venv/bin/python benchmarks/noop_figures.py [--reps 10]` after `make figures` (every demo
cached). Each repetition starts, in turn, `python -c pass` (the interpreter alone), `python -m
handson figures` (the no-op: stat every input, read the manifest, run nothing) and `python -m
handson figures --help` (argument parsing only), and prints the medians side by side with their
ratios. Goal (issue 8): the no-op ≤ 0.3 s as a whole process on the 2-core CPU. Wall times on a
shared machine are noisy: compare the columns of one run, not runs of different days.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 0.3  # issue 8: a warm no-op as a whole process
COMMANDS = {  # label -> arguments after the interpreter
    "python -c pass": ["-c", "pass"],
    "handson figures --help": ["-m", "handson", "figures", "--help"],
    "handson figures (warm no-op)": ["-m", "handson", "figures"],
}


def seconds(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    if args[-1] == "figures" and " 0 ran," not in done.stdout:
        raise SystemExit(f"not a no-op (run `make figures` first):\n{done.stdout}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10)
    reps = parser.parse_args().reps
    print(f"noop_figures: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"python {sys.version.split()[0]}; {reps} repetitions, interleaved")
    times: dict[str, list[float]] = {label: [] for label in COMMANDS}
    seconds(COMMANDS["handson figures (warm no-op)"])  # settle the stat cache and the OS file cache
    for _ in range(reps):
        for label, args in COMMANDS.items():
            times[label].append(seconds(args))
    base = statistics.median(times["python -c pass"])
    print(f"  {'command':32s} {'median s':>9s} {'min s':>7s} {'x python':>9s}")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"  {label:32s} {median:9.3f} {min(values):7.3f} {median / base:9.2f}")
    noop = statistics.median(times["handson figures (warm no-op)"])
    print(f"goal: warm no-op <= {GOAL_S} s as a whole process: {noop:.3f} s "
          f"{'PASS' if noop <= GOAL_S else 'FAIL'}; load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
