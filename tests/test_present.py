"""`make present`: knob declarations, the run API and its safety, on a throwaway project.

The demos here are tiny and import no JAX, so workers start in a fraction of a second; the
browser tests against the real site are in test_present_browser.py.
"""

import ast
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from handson import cache, present, present_knobs, vendor
from handson.paths import PROJECT
from handson.present_pool import Live

COUNT = '''
    """Counts to a number, reporting each step."""

    import time
    from pathlib import Path

    from handson import progress

    STEPS = 3  # steps at full budget
    KNOBS = {
        "steps": {"type": "int", "min": 1, "max": 10},
        "rate": {"type": "float", "min": 1e-3, "max": 1.0, "log": True, "warm_extra": [1.0]},
        "mode": {"type": "choice", "values": ["ok", "fail", "nan"]},
        "sleep": {"type": "float", "min": 0.0, "max": 60.0},
    }


    def main(out_dir: Path, steps: int = STEPS, rate: float = 0.1, mode: str = "ok", sleep: float = 0.0) -> dict:
        for i in range(steps):
            progress.report(epoch=i + 1, epochs=steps, train_loss=rate / (i + 1))
        if mode == "fail":
            raise ValueError("asked to fail")
        time.sleep(sleep)
        (out_dir / "count.txt").write_text(f"{steps} {rate}")
        return {"steps": steps, "rate": rate, "final": float("nan") if mode == "nan" else rate / steps}
'''
PAGE = ('<!doctype html><html><head><title>x</title></head><body>'
        '<section class="slide" data-demos="count"><img src="../_generated/01_a/count/count.svg">'
        '<span class="result" data-result="count.steps" data-format="">3</span></section></body></html>')


# ---------------------------------------------------------------- knobs


def test_every_declared_knob_is_a_keyword_argument_of_main_with_its_default_in_range():
    """The contract (docs/CONTRACTS.md): KNOBS names keyword arguments of main, defaults allowed."""
    declared = {}
    for demo in cache.discover(PROJECT.demos):
        knobs = present_knobs.read(demo.path)  # raises KnobError with file:line otherwise
        tree = ast.parse(demo.path.read_text())
        main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
        names = {a.arg for a in main.args.args[1:] + main.args.kwonlyargs}
        for name, knob in knobs.items():
            assert name in names, f"{demo.id}: knob {name} is not an argument of main"
            assert present_knobs.check(name, knob, knob["default"]) == knob["default"]
            assert present_knobs.check(name, knob, knob["warm"]) == knob["warm"]
        if knobs:
            declared[demo.name] = set(knobs)
    # The list: where a live change teaches something.
    for name in ("decision_regions", "playground", "optimizer_paths", "train_digits", "overfitting",
                 "dropout", "lr_schedules"):
        assert declared.get(name), f"{name} declares no knobs"
    assert "learning_rate" in declared["train_digits"]


@pytest.mark.parametrize("declaration, message", [
    ('KNOBS = {"steps": {"type": "int", "min": 1, "max": 2}}', "default of main(): steps=3 is out of range"),
    ('KNOBS = {"other": {"type": "int", "min": 1, "max": 9}}', "'other' is not a keyword argument of main()"),
    ('KNOBS = {"steps": {"type": "integer", "min": 1, "max": 9}}', "type 'integer'"),
    ('KNOBS = {"steps": {"type": "int", "min": 9, "max": 1}}', "'min' < 'max'"),
    ('KNOBS = {"rate": {"type": "float", "min": 0, "max": 1, "log": True}}', "log scale"),
    ('KNOBS = {"steps": {"type": "int", "min": 1, "max": 9, "warm": 99}}', "warm value: steps=99"),
    ('KNOBS = {"steps": {"type": "int", "min": 1, "max": 9, "colour": 1}}', "unknown field(s) colour"),
    ('KNOBS = {"rate": {"type": "float", "min": 0.1, "max": 1, "warm_extra": [2]}}', "warm value: rate=2 is out"),
    ('KNOBS = {"rate": {"type": "float", "min": 0.1, "max": 1, "warm_extra": 0.2}}', "'warm_extra' must be a list"),
    ('KNOBS = dict(steps=1)', "dict literal"),
])
def test_a_wrong_declaration_names_file_and_line(tmp_path, declaration, message):
    path = tmp_path / "demo.py"
    path.write_text(f'"""Demo."""\nSTEPS = 3\n{declaration}\n\n\ndef main(out_dir, steps=STEPS, rate=0.5):\n    return {{}}\n')
    with pytest.raises(present_knobs.KnobError, match=re.escape(f"demo.py:3: ") + ".*" + re.escape(message)):
        present_knobs.read(path)


def test_values_are_checked_and_named_with_their_range():
    knobs = {"epochs": {"type": "int", "min": 1, "max": 100, "log": False, "label": "epochs"},
             "learning_rate": {"type": "float", "min": 1e-4, "max": 1.0, "log": True, "label": "lr"},
             "units": {"type": "choice", "values": [[1, 2], [4, 8]], "label": "units"}}
    ok = present_knobs.values("d", knobs, {"epochs": 5.0, "learning_rate": 1, "units": [4, 8]})
    assert ok == {"epochs": 5, "learning_rate": 1.0, "units": [4, 8]}
    assert type(ok["epochs"]) is int and type(ok["learning_rate"]) is float
    for given, message in [
        ({"learning_rate": 5}, "learning_rate=5 is out of range: a number from 0.0001 to 1 (log scale)"),
        ({"epochs": 0}, "epochs=0 is out of range: an integer from 1 to 100"),
        ({"epochs": 2.5}, "epochs=2.5 is not an integer"),
        ({"epochs": True}, "epochs=true is not an integer"),
        ({"epochs": "5"}, 'epochs="5" is not an integer'),
        ({"learning_rate": None}, "learning_rate=null is not a number"),
        ({"units": [1, 3]}, "units=[1, 3] is not allowed: one of [1, 2], [4, 8]"),
        ({"seed": 1}, "d has no knob 'seed' (its knobs: epochs, learning_rate, units)"),
    ]:
        with pytest.raises(present_knobs.BadValue, match=re.escape(message)):
            present_knobs.values("d", knobs, given)


# ---------------------------------------------------------------- the server, in process


@pytest.fixture
def served(project):
    """The throwaway project with the `count` demo and a one-page site, served with 1 worker."""
    project.write("demos/01_a/count.py", COUNT)
    site = project.root / "site"
    (site / "01_a").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><html><body>home</body></html>")
    (site / "01_a" / "index.html").write_text(PAGE)
    live = Live(project.layout, workers=1, time_limit=5)
    live.open()
    server, url = present.serve_in_thread(site, live)
    wait_for(lambda: live.status()["workers"] and not live.status()["starting"], "a warm worker")
    yield project, live, url
    server.shutdown()
    server.server_close()
    live.close()


def wait_for(condition, what: str, timeout: float = 60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def request(url: str, method: str = "GET", path: str = "/", body=None, headers=None):
    """(status, headers, body bytes) of one request; `body` is sent as JSON."""
    host, port = url.split("//")[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", **(headers or {})}
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def run(url: str, body: dict, headers=None) -> tuple[int, list[dict] | dict]:
    status, _, data = request(url, "POST", "/api/run", body, headers)
    if status != 200:
        return status, json.loads(data)
    return status, [json.loads(line) for line in data.decode().splitlines()]


def children() -> set[int]:
    """Process ids whose parent is this process (the server's workers, here)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_live_run_streams_progress_and_serves_its_outputs_from_build(served):
    project, live, url = served
    code, output = project.run()  # the recorded outputs and manifest
    assert code == 0, output
    recorded = snapshot(project.layout.generated)
    status, events = run(url, {"demo": "count", "knobs": {"steps": 5, "rate": 0.5},
                               "formats": [["count.steps", ""], ["count.final", ".2f"], ["count.missing", ""],
                                           ["other.steps", ""]]})
    assert status == 200
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["queued", "start"] and kinds[-1] == "done", events
    progress = [e for e in events if e["event"] == "progress"]
    assert progress[0]["fields"] == {"epoch": 1, "epochs": 5, "train_loss": 0.5} and progress[0]["fit"] == 1
    assert progress[-1]["fields"]["epoch"] == 5  # a fit's last epoch is always passed on
    done = events[-1]
    assert done["values"] == {"count.steps|": "5", "count.final|.2f": "0.10"}  # format() as the build does
    assert done["results"] == {"steps": 5, "rate": 0.5, "final": 0.1}
    assert done["device"] == "none" and done["seconds"] >= done["duration_s"] >= 0
    assert list(done["outputs"]) == ["count.txt"]
    status, _, body = request(url, path=done["outputs"]["count.txt"])
    assert status == 200 and body == b"5 0.5"
    live_dir = project.root / "build" / "live" / "runs" / done["run"]
    assert (live_dir / "count.txt").read_bytes() == b"5 0.5"
    assert snapshot(project.layout.generated) == recorded  # nothing published changed


def test_pages_get_the_live_hooks_and_opening_one_warms_its_demos(served):
    project, live, url = served
    status, headers, body = request(url, path="/01_a/")
    assert status == 200 and headers["Cache-Control"] == "no-store"
    page = body.decode()
    hooks = re.search(r"<script>window.handsonLive = (.*?);</script>", page)
    assert hooks and page.index(hooks.group(0)) < page.index("</body>")
    data = json.loads(hooks.group(1))
    assert data["demos"]["count"]["knobs"]["steps"]["default"] == 3
    for asset in vendor.scripts("live") + vendor.stylesheets("live"):
        assert f"/{asset}" in page
    # Opening the page compiled its demo in the background: one run with the warm values.
    wait_for(lambda: len(live.status()["warmed"]) == 2, "the warm-ups")
    warmed = live.status()["warmed"]
    assert [w["knobs"] for w in warmed] == [{}, {"rate": 1.0}] and all(w["ok"] for w in warmed)
    assert live.runs_started == 0  # a warm-up is not a live run
    request(url, path="/01_a/")
    time.sleep(0.5)
    assert len(live.status()["warmed"]) == 2 and not live.status()["warm_queue"]  # once per server


def test_the_static_site_never_loads_the_live_assets():
    """Without the server, no control shows: the built pages do not reference live.js at all."""
    site = PROJECT.root / "site"
    pages = list(site.rglob("*.html"))
    if not pages:
        pytest.skip("site/ not built (make site)")
    for page in pages:
        text = page.read_text(errors="replace")
        assert "live.js" not in text and "handsonLive" not in text, page
    live = set(vendor.scripts("live") + vendor.stylesheets("live"))
    assert live and all((site / asset).is_file() for asset in live)  # shipped, for the server to link
    for view in ("reader", "slides"):
        assert not live & set(vendor.scripts(view) + vendor.stylesheets(view))


def test_bad_requests_get_400_or_404_and_start_nothing(served):
    project, live, url = served
    before, folders = children(), snapshot(project.root / "build" / "live" / "runs")
    cases = [
        ({"demo": "count", "knobs": {"steps": 11}}, 400, "steps=11 is out of range: an integer from 1 to 10"),
        ({"demo": "count", "knobs": {"rate": 0}}, 400, "rate=0 is out of range: a number from 0.001 to 1 (log scale)"),
        ({"demo": "count", "knobs": {"seed": 1}}, 400, "count has no knob 'seed'"),
        ({"demo": "count", "knobs": {"mode": "explode"}}, 400, 'mode="explode" is not allowed: one of "ok", "fail", "nan"'),
        ({"demo": "count", "formats": "count.steps"}, 400, "formats must be a list"),
        ({"demo": "nope"}, 404, 'no demo named "nope"'),
        ({"demo": "../count"}, 404, "no demo named"),
        ({"demo": ["count"]}, 404, "no demo named"),
    ]
    for body, expected, message in cases:
        status, answer = run(url, body)
        assert (status, message in answer["error"]) == (expected, True), (body, status, answer)
    status, _, data = request(url, "POST", "/api/run", None, {"Content-Type": "text/plain", "Content-Length": "0"})
    assert status == 415
    status, _, data = request(url, "POST", "/api/nothing", {"demo": "count"})
    assert status == 404
    assert live.runs_started == 0
    assert children() == before  # no process started
    assert snapshot(project.root / "build" / "live" / "runs") == folders


def test_a_foreign_origin_or_host_is_refused(served):
    project, live, url = served
    port = url.rsplit(":", 1)[1]
    for headers in ({"Origin": "http://evil.example"}, {"Origin": f"http://127.0.0.1.evil.example:{port}"},
                    {"Origin": "null"}, {"Host": f"evil.example:{port}"}, {"Host": "127.0.0.1:1"}):
        status, answer = run(url, {"demo": "count"}, headers)
        assert status == 403 and "refused" in answer["error"], (headers, status, answer)
        status, _, _ = request(url, path="/01_a/", headers=headers)
        assert status == 403
    assert live.runs_started == 0
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):  # the page's own origin
        status, events = run(url, {"demo": "count", "knobs": {"steps": 1}}, {"Origin": origin})
        assert status == 200 and events[-1]["event"] == "done"


def test_the_server_binds_the_loopback_address_only(served):
    project, live, url = served
    port = int(url.rsplit(":", 1)[1])
    listening = _listening(port)
    assert listening == {"127.0.0.1"}, listening


def _listening(port: int) -> set[str]:
    """Addresses with a socket listening on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                if len(raw) == 4:
                    found.add(".".join(str(b) for b in raw[::-1]))
                else:
                    found.add(raw.hex())
    return found


def test_one_run_per_demo_a_second_is_refused_clearly(served):
    project, live, url = served
    import threading

    first = {}
    thread = threading.Thread(target=lambda: first.update(result=run(url, {"demo": "count", "knobs": {"sleep": 2.0}})))
    thread.start()
    wait_for(lambda: live.status()["running"], "the first run")
    status, answer = run(url, {"demo": "count"})
    assert status == 409 and "count is already running" in answer["error"] and "wait for it" in answer["error"]
    thread.join()
    assert first["result"][1][-1]["event"] == "done"
    status, events = run(url, {"demo": "count", "knobs": {"steps": 1}})  # free again
    assert events[-1]["event"] == "done"


def test_failing_timed_out_and_non_finite_runs_report_why_and_keep_the_recorded_outputs(served):
    project, live, url = served
    code, output = project.run()
    assert code == 0, output
    recorded = snapshot(project.layout.generated)
    status, events = run(url, {"demo": "count", "knobs": {"mode": "fail"}})
    assert events[-1]["event"] == "failed" and events[-1]["reason"] == "ValueError: asked to fail"
    assert "asked to fail" in events[-1]["details"]
    status, events = run(url, {"demo": "count", "knobs": {"mode": "nan"}})
    assert events[-1]["event"] == "failed" and "non-finite result: final = nan" in events[-1]["reason"]
    pid = live.status()["workers"][0]["pid"]
    status, events = run(url, {"demo": "count", "knobs": {"sleep": 60.0}})  # the server's limit: 5 s
    assert events[-1]["event"] == "failed" and events[-1]["reason"] == "timed out after 5 s"
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z",
             "the hung worker to be killed")
    status, events = run(url, {"demo": "count", "knobs": {"steps": 2}})  # a fresh worker took its place
    assert events[-1]["event"] == "done"
    assert snapshot(project.layout.generated) == recorded


# ---------------------------------------------------------------- the command, as a process


def test_ctrl_c_stops_the_server_and_every_worker(project):
    project.write("demos/01_a/count.py", COUNT)
    shutil_site = project.root / "site"
    shutil_site.mkdir()
    (shutil_site / "index.html").write_text("<!doctype html><html><body>home</body></html>")
    process = subprocess.Popen([sys.executable, "-m", "handson", "present", "--no-build", "--port", "0"],
                               cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line + process.stdout.read() if process.poll() is not None else line
        url = f"http://127.0.0.1:{match.group(1)}"
        assert _listening(int(match.group(1))) == {"127.0.0.1"}

        def status():
            return json.loads(request(url, path="/api/status")[2])

        wait_for(lambda: len(status()["workers"]) == 2 and not status()["starting"], "two warm workers")
        import threading

        def run_until_stopped():
            try:
                run(url, {"demo": "count", "knobs": {"sleep": 60.0}})
            except (OSError, http.client.HTTPException):
                pass  # the server stops mid-run: that is the point of the test

        threading.Thread(target=run_until_stopped, daemon=True).start()
        # A run is listed as soon as it is queued; a worker takes it a moment later.
        wait_for(lambda: any(r.get("worker") for r in status()["running"].values()), "a worker on the run")
        workers = [w["pid"] for w in status()["workers"]]
        assert any(w["busy"] for w in status()["workers"])
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert "stopped" in process.stdout.read()
        wait_for(lambda: not any(_alive(pid) for pid in workers), "no worker left", timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
