"""Running demos: failures, time limits, validation, atomic outputs, manifest, real JAX."""

import hashlib
import json
import os
import re
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
                                for rel in ("good.txt", "result.json", "sub/frame_0.svg")}
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


def test_concurrent_runs_keep_every_entry(project):
    """Item 10: three runs at once: one holds the lock, the others wait, then find work done."""
    for name in ("one", "two", "three"):
        project.write(f"demos/01_a/{name}.py", f'''
            """Takes a moment."""
            import time


            def main(out_dir):
                time.sleep(0.5)
                (out_dir / "{name}.txt").write_text("{name}")
                return {{"name": "{name}"}}
        ''')
    runs = [project.start(), project.start("two"), project.start("three", "one")]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert sum(int(re.search(r"(\d+) ran", out).group(1)) for out in outputs) == 3  # each ran once
    assert {d: e["results"]["name"] for d, e in project.manifest["demos"].items()} == {
        "01_a/one": "one", "01_a/two": "two", "01_a/three": "three"}
    assert not list((project.root / "build" / "tmp").iterdir())


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_like_ctrl_c(ran_once, tmp_path, signame):
    """Item 11: workers and their demos die at once, temp folders go, last good outputs stay;
    temp folders a killed run left behind are removed when the next run starts."""
    leftover = ran_once.root / "build" / "tmp" / "good-killed-run"
    leftover.mkdir(parents=True)
    started, pid_file = tmp_path / "started", tmp_path / "pid"
    outputs, entry = break_good(ran_once, f'''\
    open({str(pid_file)!r}, "w").write(str(os.getpid()))
    open({str(started)!r}, "w").close()
    (out_dir / "partial.txt").write_text("half")
    time.sleep(60)''')
    manifest_before = ran_once.manifest_path.read_bytes()
    runner = ran_once.start("good", "--jobs", "1")
    deadline = time.monotonic() + 30
    while not started.exists():
        assert time.monotonic() < deadline and runner.poll() is None, runner.communicate()[0]
        time.sleep(0.02)
    assert not leftover.exists()
    sig = getattr(signal, signame)
    runner.send_signal(sig)
    output = runner.communicate(timeout=20)[0]
    assert runner.returncode == 128 + sig, output
    assert f"interrupted ({signame})" in output
    assert not _alive(int(pid_file.read_text()))
    assert snapshot(ran_once.out("01_a/good")) == outputs
    assert ran_once.manifest_path.read_bytes() == manifest_before
    assert not list((ran_once.root / "build" / "tmp").iterdir())


def test_writing_outside_out_dir_fails(ran_once):
    """Item 14: a write outside out_dir is refused (even if the demo swallows the error), the
    demo fails naming the path, and nothing it wrote is published."""
    other = ran_once.out("01_a/other") / "other.txt"
    outputs, entry = break_good(ran_once, f'''\
    (out_dir / "x.txt").write_text("x")
    try:
        open({str(other)!r}, "w").write("overwritten")  # another demo's published output
    except PermissionError:
        pass
    return {{"a": 1}}''')
    code, output = ran_once.run("good")
    assert code == 1
    assert ran_once.status(output, "01_a/good") == f"failed (wrote outside its out_dir: {other})"
    assert "good.py" in output  # where it happened
    assert other.read_text() == "v1"
    assert snapshot(ran_once.out("01_a/good")) == outputs
    assert ran_once.manifest["demos"]["01_a/good"] == entry


def test_symlink_in_out_dir_fails_and_is_never_published(ran_once, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the site")
    outputs, entry = break_good(ran_once, f'''\
    (out_dir / "x.txt").write_text("x")
    os.symlink({str(secret)!r}, out_dir / "leak.txt")
    return {{"a": 1}}''')
    assert ran_once.run()[0] == 1
    assert_kept(ran_once, outputs, entry, f"left leak.txt -> {secret} (a symlink) in out_dir")
    # A symlink put into a published folder afterwards makes the demo rerun, replacing it.
    (ran_once.out("01_a/other") / "link.txt").symlink_to(secret)
    code, output = ran_once.run("other")
    assert ran_once.status(output, "01_a/other").endswith(f"(not a plain file: link.txt -> {secret} (a symlink))")
    assert not (ran_once.out("01_a/other") / "link.txt").exists()


@pytest.mark.parametrize("where", ["read-only", "other filesystem"])
def test_unusable_output_folder_gives_a_clear_message(ran_once, tmp_path, where):
    """Item 14: the output folder is checked before any demo runs: exit 2 and one clear line."""
    if where == "read-only":
        target = tmp_path / "readonly"
        target.mkdir()
        target.chmod(0o555)
        if os.access(target, os.W_OK):  # root ignores permissions: use a read-only filesystem
            target = Path("/sys/kernel")
        expected = "cannot write the output folder slides/_generated ("
    else:
        target = Path("/dev/shm") / f"handson-test-{os.getpid()}"
        target.mkdir()
        if os.stat(target).st_dev == os.stat(tmp_path).st_dev:
            pytest.skip("/dev/shm is not another filesystem here")
        expected = "the output folder slides/_generated is on another filesystem than build/tmp"
    generated = ran_once.layout.generated
    generated.rename(tmp_path / "old_generated")
    generated.symlink_to(target)
    try:
        ran_once.write("demos/01_a/other.py", OTHER.replace("VERSION", "v2"))
        code, output = ran_once.run()
        assert code == 2, output
        assert f"error: {expected}" in output
        assert "Traceback" not in output and "01_a/other" not in output  # nothing ran
    finally:
        if target.parent == Path("/dev/shm"):
            import shutil

            shutil.rmtree(target)


def test_segfault_shows_the_python_stack(ran_once):
    """Item 15: faulthandler is on in workers: a crash in C shows where the demo was."""
    outputs, entry = break_good(ran_once, "    import ctypes\n    ctypes.string_at(0)")
    code, output = ran_once.run()
    assert code == 1
    assert ran_once.status(output, "01_a/good") == "failed (worker died (signal 11))"
    assert "Fatal Python error: Segmentation fault" in output
    assert re.search(r'File ".*good.py", line 7 in main', output), output
    assert_kept(ran_once, outputs, entry, "signal 11")


ENV_DEMO = '''
    """Reports its process, environment and CPU devices."""
    import os

    import jax

    ENV_LINE


    def main(out_dir):
        (out_dir / "r.txt").write_text("r")
        return {"pid": os.getpid(), "flag": os.environ.get("HANDSON_FLAG", ""),
                "cpus": len(jax.devices("cpu"))}
'''
ENV = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8", "HANDSON_FLAG": "on"}


def test_env_demo_runs_in_a_fresh_worker_with_its_variables(project):
    """A demo's ENV reaches a worker of its own, started with it (JAX initialised in a shared
    worker would ignore XLA_FLAGS); the variables are part of its key."""
    project.write("demos/01_a/a_plain.py", ENV_DEMO.replace("ENV_LINE", ""))
    project.write("demos/01_a/b_scaled.py", ENV_DEMO.replace("ENV_LINE", f"ENV = {ENV!r}"))
    project.write("demos/01_a/c_bad.py", ENV_DEMO.replace("ENV_LINE", 'ENV = {"THREADS": 8}'))
    code, output = project.run(jobs=1)  # one worker slot: plain first, JAX already started
    assert project.status(output, "01_a/c_bad") == (
        "failed (c_bad.py:6: ENV must be a dict literal of strings)")
    (project.root / "demos/01_a/c_bad.py").unlink()
    code, output = project.run(jobs=1)
    assert code == 0, output
    demos = project.manifest["demos"]
    plain, scaled = demos["01_a/a_plain"]["results"], demos["01_a/b_scaled"]["results"]
    assert scaled["cpus"] == 8 and scaled["flag"] == "on"
    assert plain["cpus"] == 1 and plain["flag"] == "" and plain["pid"] != scaled["pid"]
    assert demos["01_a/b_scaled"]["inputs"]["env"] == ENV
    code, output = project.run(jobs=1)
    assert project.status(output, "01_a/b_scaled") == "cached"


def test_standalone_runs_again_with_env(tmp_path):
    """`python demos/<deck>/<name>.py` alone honours ENV too: it re-executes itself with it."""
    demo = tmp_path / "scaled.py"
    demo.write_text('''"""Reports its environment."""
import os

from handson.demo import standalone

ENV = {"HANDSON_FLAG": "on"}


def main(out_dir):
    return {"flag": os.environ.get("HANDSON_FLAG", "")}


if __name__ == "__main__":
    standalone(main, __file__)
''')
    env = {k: v for k, v in os.environ.items() if k != "HANDSON_FLAG"}
    result = subprocess.run([sys.executable, str(demo), str(tmp_path / "out")], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"flag": "on"}
