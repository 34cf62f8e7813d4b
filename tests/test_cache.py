"""Staleness by content: what reruns a demo, what does not, and the no-op run's cost."""

import re
import subprocess
import sys
import time

import pytest

from handson import cache

USES_LIB = '''
    """Uses the fake library."""
    from handson.fakelib import double


    def main(out_dir):
        (out_dir / "out.txt").write_text("uses")
        return {"x": double(1)}
'''
PLAIN = '''
    """Plain demo, imports nothing of the project."""


    def main(out_dir):
        (out_dir / "plain.txt").write_text("plain")
        return {"y": 1.5}
'''


@pytest.fixture
def demos(project):
    """Two demos: `uses` imports handson.fakelib (which imports handson.deeper); `plain` does not."""
    project.write("handson/fakelib.py", "from handson import deeper\n\ndef double(x):\n    return deeper.TWO * x\n")
    project.write("handson/deeper.py", "TWO = 2\n")
    project.write("handson/unused.py", "UNUSED = 1\n")
    project.write("demos/01_basics/uses.py", USES_LIB)
    project.write("demos/02_more/plain.py", PLAIN)
    code, output = project.run()
    assert code == 0, output
    assert reason(project.status(output, "01_basics/uses")) == "new"
    assert reason(project.status(output, "02_more/plain")) == "new"
    return project


def rerun(project, **options) -> dict[str, str]:
    code, output = project.run(**options)
    assert code == 0, output
    return {demo: project.status(output, demo) for demo in ("01_basics/uses", "02_more/plain")}


def reason(status: str) -> str:
    match = re.fullmatch(r"ran [0-9.]+ s \((.*)\)", status)
    assert match, status
    return match.group(1)


def test_second_run_is_cached_and_leaves_manifest_untouched(demos):
    before = demos.manifest_path.read_bytes()
    mtime = demos.manifest_path.stat().st_mtime_ns
    assert rerun(demos) == {"01_basics/uses": "cached", "02_more/plain": "cached"}
    assert demos.manifest_path.read_bytes() == before
    assert demos.manifest_path.stat().st_mtime_ns == mtime  # not even rewritten


def test_editing_a_demo_reruns_only_it(demos):
    demos.write("demos/01_basics/uses.py", USES_LIB.replace('"uses"', '"edited"'))
    status = rerun(demos)
    assert reason(status["01_basics/uses"]) == "source changed"
    assert status["02_more/plain"] == "cached"
    assert (demos.out("01_basics/uses") / "out.txt").read_text() == "edited"


def test_editing_a_transitively_imported_module_reruns_its_users(demos):
    demos.write("handson/deeper.py", "TWO = 2.0  # edited\n")
    status = rerun(demos)
    assert reason(status["01_basics/uses"]) == "handson/deeper.py changed"
    assert status["02_more/plain"] == "cached"
    assert set(demos.manifest["demos"]["01_basics/uses"]["inputs"]["modules"]) == {
        "handson/__init__.py", "handson/fakelib.py", "handson/deeper.py"}


def test_unrelated_edits_rerun_nothing(demos):
    demos.write("handson/unused.py", "UNUSED = 2\n")  # a module no demo imports
    demos.write("demos/01_basics/_notes.py", "X = 1\n")  # underscore: not a demo, not imported
    assert rerun(demos) == {"01_basics/uses": "cached", "02_more/plain": "cached"}


def test_sibling_helper_module_is_an_input(project):
    project.write("demos/01_basics/_helpers.py", "VALUE = 3\n")
    project.write("demos/01_basics/sib.py", '''
        """Uses a helper next to it."""
        import _helpers


        def main(out_dir):
            (out_dir / "v.txt").write_text(str(_helpers.VALUE))
            return {"v": _helpers.VALUE}
    ''')
    assert project.run()[0] == 0
    project.write("demos/01_basics/_helpers.py", "VALUE = 4\n")
    code, output = project.run()
    assert code == 0, output
    assert reason(project.status(output, "01_basics/sib")) == "demos/01_basics/_helpers.py changed"
    assert project.manifest["demos"]["01_basics/sib"]["results"] == {"v": 4}


def test_version_change_reruns_with_the_versions_in_the_reason(demos):
    from conftest import VERSIONS

    status = rerun(demos, versions=VERSIONS | {"jax": "0.12.0"})
    assert reason(status["01_basics/uses"]) == reason(status["02_more/plain"]) == "jax 0.10.2→0.12.0"
    assert demos.manifest["demos"]["02_more/plain"]["versions"]["jax"] == "0.12.0"


def test_backend_change_reruns(demos):
    assert reason(rerun(demos, backend="cuda")["02_more/plain"]) == "backend cpu→cuda"


def test_style_change_reruns(demos):
    (demos.root / "demos" / "style.mplstyle").write_text("font.size: 18\n")
    assert {reason(s) for s in rerun(demos).values()} == {"style changed"}


def test_missing_output_reruns(demos):
    (demos.out("02_more/plain") / "plain.txt").unlink()
    status = rerun(demos)
    assert reason(status["02_more/plain"]) == "output missing: plain.txt"
    assert status["01_basics/uses"] == "cached"
    assert (demos.out("02_more/plain") / "plain.txt").exists()


def test_force_reruns_everything(demos):
    assert {reason(s) for s in rerun(demos, force=True).values()} == {"forced"}


def test_names_select_demos(demos):
    demos.write("demos/02_more/plain.py", PLAIN.replace("1.5", "2.5"))
    code, output = demos.run("uses")  # by name: plain is stale but not asked for
    assert code == 0 and "plain" not in output
    code, output = demos.run("02_more/plain")  # by id
    assert reason(demos.status(output, "02_more/plain")) == "source changed"


def test_bad_names_are_errors(demos):
    assert demos.run("nope")[0] == 2
    demos.write("demos/02_more/uses.py", PLAIN)  # same name as 01_basics/uses
    code, output = demos.run()
    assert code == 2 and "used twice" in output


def test_removed_demo_loses_entry_and_outputs(demos):
    (demos.root / "demos" / "02_more" / "plain.py").unlink()
    code, output = demos.run()
    assert code == 0 and "removed 02_more/plain" in output
    assert set(demos.manifest["demos"]) == {"01_basics/uses"}
    assert not demos.out("02_more/plain").exists()


def test_noop_run_imports_no_jax_and_is_fast(project):
    """The real CLI, twice, in fresh processes: the second has nothing to do."""
    project.write("demos/01_basics/uses_jax.py", '''
        """A JAX demo (the no-op run must still not import JAX)."""
        import jax.numpy as jnp


        def main(out_dir):
            (out_dir / "s.txt").write_text("s")
            return {"s": float(jnp.sum(jnp.ones(3)))}
    ''')
    command = [sys.executable, "-X", "importtime", "-m", "handson", "figures"]
    first = subprocess.run(command, cwd=project.root, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout + first.stderr
    before = project.manifest_path.read_bytes()

    start = time.perf_counter()
    second = subprocess.run(command, cwd=project.root, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 ran, 1 cached" in second.stdout
    imported = {line.rsplit("|", 1)[1].strip() for line in second.stderr.splitlines() if "|" in line}
    assert "handson.runner" in imported  # importtime did list the modules
    assert not {m for m in imported if m.split(".")[0] in ("jax", "numpy", "matplotlib")}
    assert project.manifest_path.read_bytes() == before
    assert seconds < 1.0


def test_scanner_resolves_project_imports(tmp_path):
    root = tmp_path
    for rel, text in {
        "handson/__init__.py": "",
        "handson/figures.py": "import matplotlib\nfrom . import paths\n",
        "handson/paths.py": "from pathlib import Path\n",
        "handson/demo.py": "def enable():\n    import jax  # only inside a function\n",
        "demos/01_a/d.py": "from handson import figures\nimport handson.demo\nfrom flax import nnx\n",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    imports = cache.Scanner(root, root / "demos").scan(root / "demos/01_a/d.py")
    assert set(imports.modules) == {"handson/__init__.py", "handson/figures.py", "handson/paths.py",
                                    "handson/demo.py"}
    # Module-level external imports only: jax inside a function is not loaded with the demo.
    assert {"matplotlib", "pathlib", "flax", "flax.nnx"} <= imports.external
    assert not {m for m in imports.external if m.startswith("jax")}


def test_backend_detection(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    monkeypatch.delenv("JAX_PLATFORMS", raising=False)
    assert cache.detect_backend() == "cpu"
    (tmp_path / "jax_cuda12_plugin-0.10.2.dist-info").mkdir()
    assert cache.detect_backend() == "cuda"
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    assert cache.detect_backend() == "cpu"


def test_time_limit_and_caption_come_from_the_source(tmp_path):
    path = tmp_path / "d.py"
    path.write_text('"""Caption line.\n\nBody."""\nTIME_LIMIT = 120  # seconds\n')
    assert cache.time_limit(path, 600) == 120
    assert cache.caption(path) == "Caption line."
    path.write_text("X = 1\n")
    assert cache.time_limit(path, 600) == 600
