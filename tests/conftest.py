"""Shared fixture: a throwaway project (runner code + fake demos) for the runner's tests."""

import io
import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from rich.console import Console

from handson import runner
from handson.demo import enable_compile_cache
from handson.paths import PROJECT, Layout

VERSIONS = {"jax": "0.10.2", "jaxlib": "0.10.2", "flax": "0.12.8", "optax": "0.2.8",
            "numpy": "2.4.6", "matplotlib": "3.11.2"}

# Demo and training tests compile the same programs as `make figures`: reuse its cache.
enable_compile_cache()

# A test run started in the background by a non-interactive shell (`make test &`) inherits
# SIGINT ignored, and so would every process the tests start, which the Ctrl-C tests interrupt.
# A Python handler here is reset to the default in each child, so their Ctrl-C works again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


class Project:
    """A temp project: a copy of the handson package (workers import it from the project they
    run in), demos/ with a style, and the rest of its Layout (slides/_generated, build)."""

    def __init__(self, root: Path):
        root.mkdir(parents=True)
        self.layout = Layout(root)
        self.root = self.layout.root
        shutil.copytree(PROJECT.package, self.layout.package,
                        ignore=shutil.ignore_patterns("__pycache__", "assets"))
        self.layout.demos.mkdir()
        self.layout.style.write_text("font.size: 16\n")
        self.manifest_path = self.layout.manifest

    def write(self, rel: str, source: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip())
        return path

    def out(self, demo_id: str) -> Path:
        return self.layout.generated / demo_id

    def run(self, *names: str, **options) -> tuple[int, str]:
        """runner.run on this project, in process; returns (exit code, console text)."""
        buffer = io.StringIO()
        options.setdefault("versions", VERSIONS)
        options.setdefault("backend", "cpu")
        code = runner.run(list(names), layout=self.layout, console=Console(file=buffer, width=200),
                          **options)
        return code, buffer.getvalue()

    def start(self, *args: str) -> subprocess.Popen:
        """`python -m handson figures ARGS` in this project, as a process (installed versions)."""
        return subprocess.Popen([sys.executable, "-m", "handson", "figures", *args], cwd=self.root,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def cli(self, *args: str) -> tuple[int, str]:
        """The same, run to the end: (exit code, output)."""
        process = self.start(*args)
        output = process.communicate(timeout=300)[0]
        return process.returncode, output

    @staticmethod
    def status(output: str, demo_id: str) -> str:
        """What the runner printed for one demo: 'cached', 'ran 0.0 s (new)', 'failed (...)'."""
        for line in output.splitlines():
            if line.split() and line.split()[0] == demo_id:
                return line[len(demo_id):].strip()
        raise AssertionError(f"no line for {demo_id} in:\n{output}")

    @property
    def manifest(self) -> dict:
        return json.loads(self.manifest_path.read_text())


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path / "project")
