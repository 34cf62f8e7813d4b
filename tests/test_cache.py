"""Staleness by content: what reruns a demo, what does not, and the no-op run's cost."""

import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handson import cache, runner, scan
from handson.paths import ROOT, Layout

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
    # The demo's imports, and the worker code that runs every demo.
    assert set(demos.manifest["demos"]["01_basics/uses"]["inputs"]["modules"]) == {
        "handson/__init__.py", "handson/fakelib.py", "handson/deeper.py",
        "handson/worker.py", "handson/watch.py", "handson/demo.py", "handson/paths.py",
        "handson/progress.py"}


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


def test_noop_run_imports_no_jax_and_hashes_nothing(project):
    """The real CLI in fresh processes: once to run, then no-ops. A warm no-op (files settled,
    stat cache filled) imports neither JAX nor rich nor importlib.metadata and hashes nothing.
    Its time is measured by benchmarks/noop_figures.py, not here."""
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
    time.sleep(cache_settle_seconds())  # let the files settle: their stat can then be trusted
    subprocess.run(command, cwd=project.root, capture_output=True, text=True, check=True)  # hashes

    warm = subprocess.run(command, cwd=project.root, capture_output=True, text=True)
    assert warm.returncode == 0, warm.stdout + warm.stderr
    assert "0 ran, 1 cached" in warm.stdout
    imported = {line.rsplit("|", 1)[1].strip() for line in warm.stderr.splitlines() if "|" in line}
    assert "handson.runner" in imported  # importtime did list the modules
    assert not {m for m in imported if m.split(".")[0] in ("jax", "numpy", "matplotlib", "rich")}
    assert not {"importlib.metadata", "hashlib", "tempfile"} & imported
    assert project.manifest_path.read_bytes() == before


def cache_settle_seconds() -> float:
    from handson.files import SETTLE_NS

    return SETTLE_NS / 1e9 + 0.1


WAITS = '''
    """Runs first and waits for the test: it edits files while this run is in progress."""
    import time
    from pathlib import Path


    def main(out_dir):
        Path({started!r}).touch()
        while not Path({go!r}).exists():
            time.sleep(0.02)
        (out_dir / "w.txt").write_text("w")
        return {{}}
'''
TARGET = '''
    """Stale by the time it runs."""
    from handson.fakelib import tag


    def main(out_dir):
        (out_dir / "t.txt").write_text("VERSION " + tag())
        return {"v": "VERSION " + tag()}
'''


def test_files_edited_and_reverted_during_a_run_are_not_served_stale(project, tmp_path):
    """Item 8: the key is what the worker executed, not what was on disk before the run."""
    started, go = tmp_path / "started", tmp_path / "go"
    project.write("demos/01_a/a_waits.py", WAITS.format(started=str(started), go=str(go)))
    project.write("demos/01_a/b_target.py", TARGET.replace("VERSION", "v1"))
    project.write("handson/fakelib.py", 'def tag():\n    return "lib1"\n')
    run = project.start("--jobs", "1")  # one worker: a_waits, then b_target
    deadline = time.monotonic() + 60
    while not started.exists():
        assert time.monotonic() < deadline and run.poll() is None, run.communicate()[0]
        time.sleep(0.02)
    # b_target was fingerprinted (v1, lib1) but has not run yet: edit it and its module.
    project.write("demos/01_a/b_target.py", TARGET.replace("VERSION", "v2"))
    project.write("handson/fakelib.py", 'def tag():\n    return "lib2"\n')
    go.touch()
    output = run.communicate(timeout=120)[0]
    assert run.returncode == 0, output
    assert (project.out("01_a/b_target") / "t.txt").read_text() == "v2 lib2"  # what ran
    # Revert both: the published outputs (v2 lib2) are not those of the files now on disk.
    project.write("demos/01_a/b_target.py", TARGET.replace("VERSION", "v1"))
    project.write("handson/fakelib.py", 'def tag():\n    return "lib1"\n')
    code, output = project.cli()
    assert code == 0, output
    assert reason(project.status(output, "01_a/b_target")) == "source changed, handson/fakelib.py changed"
    assert (project.out("01_a/b_target") / "t.txt").read_text() == "v1 lib1"
    assert project.status(output, "01_a/a_waits") == "cached"


def test_changed_or_truncated_output_reruns(demos):
    """Item 9: outputs are checked against the manifest's checksums (stat first, then hash)."""
    out = demos.out("01_basics/uses") / "out.txt"
    stat = out.stat()
    out.write_text("USES")  # same size; even with its old mtime put back
    os.utime(out, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    status = rerun(demos)
    assert reason(status["01_basics/uses"]) == "output changed: out.txt"
    assert status["02_more/plain"] == "cached"
    assert out.read_text() == "uses"

    with open(demos.out("02_more/plain") / "plain.txt", "r+b") as f:
        f.truncate(2)
    (demos.out("01_basics/uses") / "extra.svg").write_text("<svg/>")  # would be published
    status = rerun(demos)
    assert reason(status["02_more/plain"]) == "output changed: plain.txt"
    assert reason(status["01_basics/uses"]) == "unexpected file: extra.svg"
    assert (demos.out("02_more/plain") / "plain.txt").read_text() == "plain"
    assert not (demos.out("01_basics/uses") / "extra.svg").exists()
    assert rerun(demos) == {"01_basics/uses": "cached", "02_more/plain": "cached"}


def test_published_answers_like_the_runner(project):
    """runner.published (the claims tests' view) decides staleness exactly as a run does."""
    project.write("demos/02_more/plain.py", PLAIN)
    assert project.cli()[0] == 0
    entry, out_dir, stale = runner.published("plain", layout=project.layout)
    assert stale is None and entry["results"] == {"y": 1.5} and out_dir == project.out("02_more/plain")
    (out_dir / "plain.txt").write_text("PLAIN")
    assert runner.published("plain", layout=project.layout)[2] == "output changed: plain.txt"
    code, output = project.cli()
    assert reason(project.status(output, "02_more/plain")) == "output changed: plain.txt"


def test_corrupt_manifest_is_reported_and_rebuilt_from_records(demos):
    """Item 12: a truncated manifest is named, nothing reruns, and a run naming one demo keeps
    every entry (each output folder keeps its own record)."""
    complete = demos.manifest
    demos.manifest_path.write_text(demos.manifest_path.read_text()[:100])  # truncated
    code, output = demos.run("plain")
    assert code == 0, output
    assert "slides/_generated/manifest.json: not valid JSON (" in output
    assert demos.status(output, "02_more/plain") == "cached"
    assert demos.manifest == complete

    demos.manifest_path.unlink()
    assert rerun(demos) == {"01_basics/uses": "cached", "02_more/plain": "cached"}
    assert demos.manifest == complete


def test_build_names_a_corrupt_manifest(tmp_path):
    """Item 12, the site side: `make site` fails with the manifest's path, not a traceback."""
    (tmp_path / "slides" / "_generated").mkdir(parents=True)
    (tmp_path / "slides" / "index.md").write_text("# Home\n")
    (tmp_path / "slides" / "_generated" / "manifest.json").write_text('{"demos": {"01_a/x": ')
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: T\ndocs_dir: slides\ntheme:\n  name: material\n  font: false\n"
        f"plugins:\n  - handson:\n      node_modules: {ROOT / 'node_modules'}\n")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build"], cwd=tmp_path, capture_output=True,
                            text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode != 0
    assert "slides/_generated/manifest.json: not valid JSON (" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_key_covers_pillow_python_worker_code_and_numeric_env(demos, monkeypatch):
    """Item 15: what else shapes outputs is in the key."""
    versions = cache.installed_versions()
    assert versions["pillow"] and versions["python"] == platform.python_version()
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=true")
    assert {reason(s) for s in rerun(demos).values()} == {"env XLA_FLAGS changed"}
    assert demos.manifest["demos"]["02_more/plain"]["inputs"]["env"] == {
        "XLA_FLAGS": "--xla_cpu_enable_fast_math=true"}
    monkeypatch.setenv("JAX_ENABLE_X64", "1")
    assert {reason(s) for s in rerun(demos).values()} == {"env JAX_ENABLE_X64 changed"}
    worker = demos.root / "handson" / "worker.py"
    worker.write_text(worker.read_text() + "\n# edited: the code that writes result.json\n")
    assert {reason(s) for s in rerun(demos).values()} == {"handson/worker.py changed"}


def test_project_layout_derives_every_path(tmp_path):
    """Item 16: one Layout gives every path the build uses, so tests need no hand-kept lists."""
    layout = Layout(tmp_path)
    paths = {name: value for name, value in vars(layout).items() if isinstance(value, Path)}
    assert {"package", "demos", "generated", "manifest", "style", "build", "scratch", "logs",
            "jax_cache", "lock", "stat_cache"} <= set(paths)
    assert all(path.is_relative_to(tmp_path.resolve()) for path in paths.values())
    assert layout.manifest == layout.generated / "manifest.json"
    assert layout.rel(layout.manifest) == "slides/_generated/manifest.json"


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
    imports = cache.Scanner(Layout(root)).scan(root / "demos/01_a/d.py")
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
    assert scan.time_limit(path, 600) == 120
    assert scan.caption(path) == "Caption line."
    path.write_text("X = 1\n")
    assert scan.time_limit(path, 600) == 600


def test_files_named_in_uses_are_part_of_the_key(project):
    """A demo that loads another deck's demo file by path (USES) reruns when that file changes."""
    model = '''
        """A model other decks draw."""
        WIDTH = {width}


        def main(out_dir):
            (out_dir / "m.txt").write_text(str(WIDTH))
            return {{"width": WIDTH}}
        '''
    project.write("demos/01_a/model.py", model.format(width=3))
    project.write("demos/02_b/zoo.py", '''
        """Zoo."""
        USES = ("01_a/model.py",)


        def main(out_dir):
            (out_dir / "z.txt").write_text("z")
            return {"v": 1}
        ''')
    project.write("demos/02_b/plain.py", '''
        """Uses nothing else."""


        def main(out_dir):
            (out_dir / "p.txt").write_text("p")
            return {"v": 1}
        ''')
    assert project.run()[0] == 0
    assert "demos/01_a/model.py" in project.manifest["demos"]["02_b/zoo"]["inputs"]["modules"]
    project.write("demos/01_a/model.py", model.format(width=4))
    code, output = project.run()
    assert code == 0
    assert project.status(output, "02_b/zoo").endswith("(demos/01_a/model.py changed)")
    assert project.status(output, "02_b/plain") == "cached"
