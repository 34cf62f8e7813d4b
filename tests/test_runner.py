"""Running demos: failures, time limits, validation, atomic outputs, manifest, real JAX."""

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

GOOD = '''
    """Good demo: writes a file, returns numbers."""


    def main(out_dir):
        print("chatter on stdout")
        (out_dir / "good.txt").write_text("VERSION")
        (out_dir / "sub").mkdir()
        (out_dir / "sub" / "frame_0.svg").write_text("<svg/>")
        return {"acc": 0.5, "nested": {"curve": [1.0, 2.0]}, "name": "good"}
'''
OTHER = '''
    """Other demo."""


    def main(out_dir):
        (out_dir / "other.txt").write_text("VERSION")
        return {"n": 3}
'''


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def ran_once(project):
    """`01_a/good` and `01_a/other` with good outputs from a first run."""
    project.write("demos/01_a/good.py", GOOD.replace("VERSION", "v1"))
    project.write("demos/01_a/other.py", OTHER.replace("VERSION", "v1"))
    code, output = project.run()
    assert code == 0, output
    return project


def break_good(project, body: str) -> tuple[dict, dict]:
    """Replace good.py's main body; touch other.py so it reruns too. Returns what to compare."""
    project.write("demos/01_a/good.py", f'"""Broken."""\nimport math, os, time\n\n\ndef main(out_dir):\n{body}\n')
    project.write("demos/01_a/other.py", OTHER.replace("VERSION", "v2"))
    return snapshot(project.out("01_a/good")), project.manifest["demos"]["01_a/good"]


def assert_kept(project, outputs: dict, entry: dict, reason: str) -> None:
    """The failed demo's last good outputs and manifest entry are untouched; the other ran."""
    assert snapshot(project.out("01_a/good")) == outputs
    manifest = project.manifest
    assert manifest["demos"]["01_a/good"] == entry
    assert reason in manifest["failed"]["01_a/good"]
    assert (project.out("01_a/other") / "other.txt").read_text() == "v2"
    assert not list((project.root / "build" / "tmp").iterdir())  # no temp folder left behind


def test_results_land_in_result_json_and_manifest(ran_once):
    out = ran_once.out("01_a/good")
    results = {"acc": 0.5, "name": "good", "nested": {"curve": [1.0, 2.0]}}
    assert json.loads((out / "result.json").read_text()) == results
    entry = ran_once.manifest["demos"]["01_a/good"]
    assert entry["results"] == results
    assert entry["outputs"] == {rel: hashlib.sha256((out / rel).read_bytes()).hexdigest()
                                for rel in ("good.txt", "sub/frame_0.svg")}
    assert entry["caption"] == "Good demo: writes a file, returns numbers."
    assert entry["device"] == "none" and entry["duration_s"] >= 0
    assert set(entry) == {"key", "inputs", "outputs", "duration_s", "device", "versions", "results", "caption"}
    assert ran_once.manifest["failed"] == {}
    # The demo's prints went to its log, not into the protocol.
    assert "chatter on stdout" in (ran_once.root / "build/logs/01_a/good.log").read_text()


def test_exception_is_reported_and_last_good_outputs_kept(ran_once):
    outputs, entry = break_good(ran_once, '    raise ValueError("boom")')
    code, output = ran_once.run()
    assert code == 1
    assert ran_once.status(output, "01_a/good") == "failed (ValueError: boom)"
    assert ran_once.status(output, "01_a/other").startswith("ran")
    assert "01_a/good failed" in output and "Traceback" in output and "good.py" in output
    assert "1 ran, 0 cached, 1 failed" in output
    assert_kept(ran_once, outputs, entry, "ValueError: boom")

    # Nothing changed, but it failed last time: it reruns (and fails again).
    code, output = ran_once.run()
    assert code == 1 and ran_once.status(output, "01_a/good") == "failed (ValueError: boom)"
    assert ran_once.status(output, "01_a/other") == "cached"

    ran_once.write("demos/01_a/good.py", GOOD.replace("VERSION", "v3"))
    code, output = ran_once.run()
    assert code == 0 and ran_once.manifest["failed"] == {}
    assert (ran_once.out("01_a/good") / "good.txt").read_text() == "v3"


def test_last_run_failed_is_the_reason(ran_once):
    break_good(ran_once, '    raise ValueError("boom")')
    ran_once.run()
    ran_once.write("demos/01_a/good.py", GOOD.replace("VERSION", "v1"))  # back to the good source
    code, output = ran_once.run()
    assert code == 0 and ran_once.status(output, "01_a/good").endswith("(last run failed)")


def test_nan_fails_naming_the_key(ran_once):
    outputs, entry = break_good(ran_once, '''\
    (out_dir / "x.txt").write_text("x")
    return {"ok": 1.0, "m": {"curve": [1.0, math.inf]}, "loss": math.nan}''')
    code, output = ran_once.run()
    assert code == 1
    assert ran_once.status(output, "01_a/good") == "failed (non-finite result: m.curve[1] = inf, loss = nan)"
    assert_kept(ran_once, outputs, entry, "loss = nan")


def test_writing_nothing_fails(ran_once):
    outputs, entry = break_good(ran_once, '    return {"a": 1}')
    assert ran_once.run()[0] == 1
    assert_kept(ran_once, outputs, entry, "wrote no files")


def test_returning_a_non_dict_fails(ran_once):
    outputs, entry = break_good(ran_once, '    (out_dir / "x.txt").write_text("x")\n    return [1]')
    assert ran_once.run()[0] == 1
    assert_kept(ran_once, outputs, entry, "returned list, expected a dict")


def test_sys_exit_in_a_demo_is_a_failure(ran_once):
    outputs, entry = break_good(ran_once, '    raise SystemExit(3)')
    assert ran_once.run()[0] == 1
    assert_kept(ran_once, outputs, entry, "SystemExit: 3")


def test_crashed_worker_is_replaced(ran_once):
    outputs, entry = break_good(ran_once, '    os._exit(7)')
    code, output = ran_once.run(jobs=1)  # one worker: `other` needs the replacement
    assert code == 1
    assert ran_once.status(output, "01_a/good") == "failed (worker died (exit code 7))"
    assert_kept(ran_once, outputs, entry, "worker died")


def test_time_limit_kills_the_demo_and_its_children(ran_once, tmp_path):
    pids = tmp_path / "pids"
    outputs, entry = break_good(ran_once, f'''\
    import subprocess
    child = subprocess.Popen(["sleep", "60"])
    open({str(pids)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
    (out_dir / "partial.txt").write_text("half")
    while True:
        time.sleep(0.05)''')
    source = (ran_once.root / "demos/01_a/good.py").read_text()
    (ran_once.root / "demos/01_a/good.py").write_text(source.replace("import math", "TIME_LIMIT = 2\nimport math"))
    start = time.monotonic()
    code, output = ran_once.run(jobs=1)
    assert time.monotonic() - start < 15
    assert code == 1
    assert ran_once.status(output, "01_a/good") == "failed (timed out after 2 s)"
    assert "01_a/good failed" in output and "good.log" in output
    assert_kept(ran_once, outputs, entry, "timed out")
    for pid in map(int, pids.read_text().split()):
        assert not _alive(pid), pid


def _alive(pid: int) -> bool:
    """True if the process exists and is not a zombie (killed orphans may wait to be reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_ctrl_c_keeps_outputs_and_manifest_whole(ran_once, tmp_path):
    started = tmp_path / "started"
    outputs, entry = break_good(ran_once, f'''\
    open({str(started)!r}, "w").close()
    (out_dir / "partial.txt").write_text("half")
    time.sleep(60)''')
    manifest_before = ran_once.manifest_path.read_bytes()
    runner = subprocess.Popen([sys.executable, "-m", "handson", "figures", "good", "--jobs", "1"],
                              cwd=ran_once.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 20
    while not started.exists():  # wait for the demo to be running, then press Ctrl-C
        assert time.monotonic() < deadline and runner.poll() is None, runner.communicate()[0]
        time.sleep(0.02)
    runner.send_signal(signal.SIGINT)
    output = runner.communicate(timeout=20)[0]
    assert runner.returncode == 130, output
    assert "interrupted" in output
    assert snapshot(ran_once.out("01_a/good")) == outputs
    assert ran_once.manifest_path.read_bytes() == manifest_before
    assert not list((ran_once.root / "build" / "tmp").iterdir())


def test_real_jax_demo_records_device_and_uses_compile_cache(project):
    project.write("demos/01_a/tiny_jax.py", '''
        """A tiny jitted computation."""
        import jax
        import jax.numpy as jnp


        def main(out_dir):
            x = jnp.arange(4.0)
            total = jax.jit(lambda v: (v * v).sum())(x)
            (out_dir / "total.txt").write_text(str(float(total)))
            return {"total": total, "squares": x * x, "count": jnp.int32(4)}
    ''')
    code, output = project.run()
    assert code == 0, output
    entry = project.manifest["demos"]["01_a/tiny_jax"]
    assert entry["results"] == {"total": 14.0, "squares": [0.0, 1.0, 4.0, 9.0], "count": 4}
    assert entry["device"].split()[0] in ("cpu", "gpu", "cuda", "tpu", "rocm")
    assert any((project.root / "build" / "jax_cache").iterdir())


def test_demos_in_one_worker_do_not_share_helper_modules(project):
    """Same-named helpers in two decks, one worker: each demo gets its own."""
    for deck, value in (("01_a", 1), ("02_b", 2)):
        project.write(f"demos/{deck}/_helpers.py", f"VALUE = {value}\n")
        project.write(f"demos/{deck}/uses_{value}.py", '''
            """Returns its helper's value."""
            import _helpers


            def main(out_dir):
                (out_dir / "v.txt").write_text(str(_helpers.VALUE))
                return {"value": _helpers.VALUE}
        ''')
    code, output = project.run(jobs=1)
    assert code == 0, output
    demos = project.manifest["demos"]
    assert demos["01_a/uses_1"]["results"] == {"value": 1}
    assert demos["02_b/uses_2"]["results"] == {"value": 2}


def test_a_demo_cannot_read_the_protocol(ran_once):
    outputs, entry = break_good(ran_once, '    return {"line": input()}')
    assert ran_once.run(timeout=5)[0] == 1  # (reading the protocol pipe would hang: time out)
    assert_kept(ran_once, outputs, entry, "EOFError")
