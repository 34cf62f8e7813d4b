"""Helpers shared by the per-deck demo-claims tests."""

import hashlib
import math
import runpy
import sys
from pathlib import Path


def load_demo(path: Path) -> dict:
    """The demo module's globals, loaded as the runner's workers do: its folder first on sys.path,
    so sibling imports (`from exercise_cnn import cnn`) work."""
    saved = list(sys.path)
    sys.path.insert(0, str(path.parent))
    try:
        return runpy.run_path(str(path), run_name="__demo__")
    finally:
        sys.path[:] = saved


def demo_runner(demos_dir: Path):
    """`load(name)` → the demo module's globals; `run(name, out_dir, **overrides)` → its results."""

    def load(name: str) -> dict:
        return load_demo(demos_dir / f"{name}.py")

    def run(name: str, out_dir: Path, **overrides) -> dict:
        out_dir.mkdir(parents=True, exist_ok=True)
        return load(name)["main"](out_dir, **overrides)

    return load, run


def finite(tree) -> bool:
    """True when every float in a nested dict/list of results is finite."""
    if isinstance(tree, dict):
        return all(finite(v) for v in tree.values())
    if isinstance(tree, (list, tuple)):
        return all(finite(v) for v in tree)
    return not isinstance(tree, float) or math.isfinite(tree)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
