"""Claims tests read what the slides show: the published results of `make figures`.

`results("train_cnn")` is the demo's returned dict as recorded in slides/_generated/manifest.json,
and `outputs("train_cnn")` its output folder. Both fail the test, saying "run make figures", when
the demo never ran or its record is stale (its source, a module it imports, the style or a
library version changed since). Nothing is rerun here: the numbers tested are the numbers shown.
"""

from functools import cache
from pathlib import Path

import pytest

from handson import runner


@cache
def _record(name: str) -> tuple[dict, Path, str | None]:
    return runner.published(name)


def _fresh(name: str) -> tuple[dict, Path]:
    entry, out_dir, stale = _record(name)
    if stale is not None:
        pytest.fail(f"published results of {name} are stale ({stale}): run make figures")
    return entry, out_dir


def results(name: str) -> dict:
    """The numbers demo `name` returned in the published run."""
    return _fresh(name)[0]["results"]


def outputs(name: str) -> Path:
    """The folder holding demo `name`'s published outputs (slides/_generated/<deck>/<name>)."""
    return _fresh(name)[1]


def entry(name: str) -> dict:
    """The whole manifest entry (results, outputs with checksums, duration, device, versions)."""
    return _fresh(name)[0]


def checksums(name: str) -> dict[str, str]:
    """sha256 of each file demo `name` wrote in the published run (the runner's result.json,
    which it writes beside them, left out): what a byte-for-byte rerun must reproduce."""
    return {rel: sha for rel, sha in entry(name)["outputs"].items() if rel != "result.json"}
