"""Live runs for `make present`: warm workers, one run per demo at a time, outputs in build/live.

The workers are the runner's own (`python -m handson.worker`, handson/pool.py's Worker): each
imports JAX, Flax, optax and matplotlib once at start and turns JAX's persistent compile cache
on. A live run sends `main`'s keyword arguments (the knobs, checked) and asks for progress (fit
reports each epoch); its outputs go to `build/live/runs/<run>/`, never to slides/_generated or
the manifest. When a deck's page is opened, its demos run once in the background (those with
knobs first, with their warm values: a short run that compiles what the full one does; then
the quick ones), on a worker left over: a live request always finds one free unless two run
at once.
"""

import collections
import concurrent.futures
import itertools
import json
import math
import os
import select
import shutil
import threading
import time
from pathlib import Path

from handson import cache, present_knobs
from handson.cache import JAX_PACKAGES
from handson.files import walk
from handson.paths import Layout
from handson.pool import IMPORT_GRACE, Worker

LIVE_TIME_LIMIT = 300.0  # seconds a live run may take unless its demo sets a shorter TIME_LIMIT
KEEP_RUNS = 4  # finished runs kept per demo (a page may still show an older one)
PROGRESS_EVERY = 0.1  # seconds between two progress events passed on (a fit's first and last always)
LOG_TAIL = 12  # lines of a failed run's log shown to the speaker
WARM_LIMIT = 5.0  # seconds: a demo without knobs warms up (a full run) if its recorded run took at most this


class NotFound(Exception):
    """No demo of that name (404)."""


class Busy(Exception):
    """The demo is running already (409)."""


class Run:
    """One live run: its events (queued, start, progress..., done or failed) as they happen."""

    def __init__(self, run_id: str, demo: cache.Demo, kwargs: dict, formats: list[tuple[str, str]]):
        self.id, self.demo, self.kwargs, self.formats = run_id, demo, kwargs, formats
        self.requested = time.monotonic()
        self.events: list[dict] = []
        self.finished = False
        self.worker_pid: int | None = None
        self._cond = threading.Condition()

    def emit(self, event: dict) -> None:
        with self._cond:
            self.events.append(_finite(event))
            self.finished = event["event"] in ("done", "failed")
            self._cond.notify_all()

    def stream(self):
        """Every event, waiting for the next, until the last one (done or failed)."""
        seen = 0
        while True:
            with self._cond:
                while seen == len(self.events):
                    self._cond.wait()
                new, seen = self.events[seen:], len(self.events)
            yield from new
            if new[-1]["event"] in ("done", "failed"):
                return


class Live:
    """The warm workers and the runs: `submit` a live run, `warm` a page's demos, `close` all."""

    def __init__(self, layout: Layout, workers: int = 2, time_limit: float | None = None):
        self.layout = layout
        self.scratch = layout.build / "live"
        self.runs_dir = self.scratch / "runs"
        self.logs = self.scratch / "logs"
        self.max_workers = max(1, workers)
        self.time_limit = time_limit  # the speaker's cap on every run, if any
        self.runs_started = 0
        self._cond = threading.Condition()  # guards everything below
        self._idle: list[Worker] = []
        self._workers: list[Worker] = []  # started, warm or busy (dedicated ENV ones too)
        self._starting = 0
        self._waiting = 0  # live runs waiting for a worker (warm-ups then stay off)
        self._running: dict[str, Run] = {}  # demo name -> its run
        self._finished: dict[str, collections.deque] = {}  # demo name -> ids of its kept runs
        self._warm_queue: collections.deque = collections.deque()
        self._warm_done: set[str] = set()  # demos queued for warming once (per server)
        self.warming: str | None = None
        self.warmed: list[dict] = []  # the warm-ups done: demo, knobs, ok, cpu_s
        self._closed = False
        self._ids = itertools.count(1)
        self._spawner = _Spawner()

    # ------------------------------------------------------------ life cycle

    def open(self) -> None:
        """Empty build/live and start the workers (they import in the background)."""
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.runs_dir.mkdir(parents=True)
        self.logs.mkdir(parents=True)
        with self._cond:
            self._starting = self.max_workers
        for _ in range(self.max_workers):
            threading.Thread(target=self._add_worker, daemon=True).start()
        threading.Thread(target=self._warm_loop, daemon=True, name="warm-ups").start()

    def close(self) -> None:
        """Stop every worker (idle ones exit on EOF, busy ones are killed): nothing left running."""
        with self._cond:
            self._closed = True
            workers, busy = list(self._workers), [w for w in self._workers if w not in self._idle]
            self._workers.clear()
            self._idle.clear()
            self._cond.notify_all()
        for worker in workers:
            if worker in busy:
                worker.kill()
            else:
                worker.proc.stdin.close()  # all at once: they exit in parallel
        for worker in workers:
            worker.stop()
        self._spawner.close()

    def status(self) -> dict:
        with self._cond:
            return {"runs_started": self.runs_started,
                    "workers": [{"pid": w.proc.pid, "busy": w not in self._idle} for w in self._workers],
                    "starting": self._starting,
                    "running": {name: {"run": run.id, "worker": run.worker_pid}
                                for name, run in self._running.items()},
                    "warming": self.warming, "warm_queue": [n for n, _ in self._warm_queue],
                    "warmed": list(self.warmed)}

    # ------------------------------------------------------------ demos

    def demos(self) -> dict[str, cache.Demo]:
        return {d.name: d for d in cache.discover(self.layout.demos)}

    def describe(self) -> dict:
        """{name: {"deck", "knobs", "error"?}} for every demo: what a page needs to offer runs."""
        out = {}
        for name, demo in self.demos().items():
            entry = {"deck": demo.deck, "knobs": {}}
            try:
                entry["knobs"] = present_knobs.read(demo.path)
            except (present_knobs.KnobError, SyntaxError) as error:
                entry["error"] = str(error)
            out[name] = entry
        return out

    # ------------------------------------------------------------ live runs

    def submit(self, name: str, knobs, formats) -> Run:
        """Start a live run of demo `name`; NotFound, BadValue or Busy before anything starts."""
        demo = self.demos().get(name) if isinstance(name, str) else None
        if demo is None:
            raise NotFound(f"no demo named {json.dumps(name)}")
        try:
            declared = present_knobs.read(demo.path)
        except (present_knobs.KnobError, SyntaxError) as error:
            raise present_knobs.BadValue(f"{name} cannot run live: {error}") from None
        kwargs = present_knobs.values(name, declared, knobs)
        formats = _formats(name, formats)
        with self._cond:
            if self._closed:
                raise Busy("the server is stopping")
            if name in self._running:
                run = self._running[name]
                raise Busy(f"{name} is already running (run {run.id}, "
                           f"{time.monotonic() - run.requested:.0f} s so far): wait for it to finish")
            run = Run(f"{name}-{next(self._ids)}", demo, kwargs, formats)
            self._running[name] = run
            self.runs_started += 1
        run.emit({"event": "queued", "run": run.id, "demo": name, "knobs": kwargs})
        threading.Thread(target=self._live, args=(run,), daemon=True, name=run.id).start()
        return run

    def _live(self, run: Run) -> None:
        name = run.demo.name
        try:
            facts = cache.Scanner(self.layout).facts(run.demo.path)
            if facts["env_error"]:
                run.emit({"event": "failed", "reason": facts["env_error"]})
                return
            limit = min(facts["time_limit"] or LIVE_TIME_LIMIT, self.time_limit or math.inf)
            out_dir = self.runs_dir / run.id
            out_dir.mkdir(parents=True)
            progress = _Progress(run)
            answer = self._job(run.demo, run.kwargs, out_dir, limit, facts["env"], progress,
                               on_worker=lambda pid: setattr(run, "worker_pid", pid))
            run.emit(self._outcome(run, answer, out_dir))
        except Exception as error:  # never leave a page waiting
            run.emit({"event": "failed", "reason": f"{type(error).__name__}: {error}"})
        finally:
            with self._cond:
                self._running.pop(name, None)
                kept = self._finished.setdefault(name, collections.deque())
                kept.append(run.id)
                old = [kept.popleft() for _ in range(max(0, len(kept) - KEEP_RUNS))]
            for run_id in old:
                shutil.rmtree(self.runs_dir / run_id, ignore_errors=True)

    def _outcome(self, run: Run, answer: dict, out_dir: Path) -> dict:
        from handson.runner import validate  # (imports no JAX)

        reason = answer.get("reason") if not answer.get("ok") else validate(answer["results"], out_dir)
        if reason:
            return {"event": "failed", "reason": reason, "details": _tail(answer.get("traceback") or "")}
        files, _ = walk(out_dir)
        outputs = {rel: f"/_live/{run.id}/{rel}" for rel in sorted(files) if rel != cache.RESULT}
        results = {run.demo.name: answer["results"]}
        values = {}
        for reference, spec in run.formats:
            try:
                values[f"{reference}|{spec}"] = format(_lookup(results, reference), spec)
            except (KeyError, IndexError, ValueError, TypeError):
                pass  # the live results lack it: the slide keeps the recorded number
        return {"event": "done", "run": run.id, "device": answer.get("device", "none"),
                "duration_s": answer["duration_s"], "cpu_s": answer.get("cpu_s"),
                "seconds": round(time.monotonic() - run.requested, 3),
                "outputs": outputs, "values": values, "results": answer["results"]}

    # ------------------------------------------------------------ warm-ups

    def warm(self, names: list[str]) -> None:
        """Compile the named demos in the background, once each: those with knobs first (with
        their warm values, then once per `warm_extra` value), then the others whose recorded run
        took at most WARM_LIMIT s."""
        described = self.describe()
        recorded = cache.load_manifest(self.layout.manifest)[0]["demos"]
        with self._cond:
            fresh = [n for n in dict.fromkeys(names) if n in described and n not in self._warm_done
                     and not described[n].get("error")]
            quick = [n for n in fresh if not described[n]["knobs"] and
                     recorded.get(f"{described[n]['deck']}/{n}", {}).get("duration_s", math.inf) <= WARM_LIMIT]
            for name in [n for n in fresh if described[n]["knobs"]] + quick:
                self._warm_done.add(name)
                knobs = described[name]["knobs"]
                base = {k: knob["warm"] for k, knob in knobs.items() if knob["warm"] != knob["default"]}
                self._warm_queue.append((name, base))
                for key, knob in knobs.items():
                    self._warm_queue.extend((name, {**base, key: value}) for value in knob["warm_extra"])
            self._cond.notify_all()

    def _warm_loop(self) -> None:
        while True:
            with self._cond:
                # A warm-up takes a worker only while another one stays free for the speaker.
                spare = 1 if self.max_workers > 1 else 0
                while not self._closed and not (self._warm_queue and self._waiting == 0
                                                and len(self._idle) > spare):
                    self._cond.wait()
                if self._closed:
                    return
                name, kwargs = self._warm_queue.popleft()
                worker = self._idle.pop()
                self.warming = name
            demo = self.demos().get(name)
            out_dir = self.runs_dir / f"warm-{name}"
            try:
                if demo is not None:
                    out_dir.mkdir(parents=True, exist_ok=True)
                    answer = self._job(demo, kwargs, out_dir, LIVE_TIME_LIMIT, {}, None, worker=worker)
                    self.warmed.append({"demo": name, "knobs": kwargs, "ok": bool(answer.get("ok")),
                                        "cpu_s": answer.get("cpu_s")})
                else:
                    self._release(worker)
            finally:
                shutil.rmtree(out_dir, ignore_errors=True)
                with self._cond:
                    self.warming = None
                    self._cond.notify_all()

    # ------------------------------------------------------------ workers

    def _job(self, demo: cache.Demo, kwargs: dict, out_dir: Path, limit: float, env: dict,
             progress, worker: Worker | None = None, on_worker=None) -> dict:
        """Run one demo on a worker (the given one, a free one, or a fresh one for an ENV
        demo) and give the worker back; the worker's answer, or a failure if it died or hung."""
        if worker is None:
            worker = self._spawn(env) if env else self._acquire()
        if on_worker:
            on_worker(worker.proc.pid)
        scan = cache.Scanner(self.layout).scan(demo.path)
        log = self.logs / f"{demo.name}.log"
        request = {"id": demo.id, "path": str(demo.path), "out_dir": str(out_dir), "log": str(log),
                   "imports": sorted(scan.external), "jax_cache": str(self.layout.jax_cache),
                   "uses_jax": any(n.split(".")[0] in JAX_PACKAGES for n in scan.external),
                   "kwargs": kwargs, "progress": progress is not None}
        cpu = _cpu_seconds(worker.proc.pid)
        answer = _exchange(worker, request, limit, progress)
        if answer.get("ok"):  # the worker's CPU seconds (all threads): a load-independent cost
            answer["cpu_s"] = round(_cpu_seconds(worker.proc.pid) - cpu, 3)
        if answer.get("lost"):
            answer = {**answer, "traceback": "\n".join([answer["reason"], f"log: {log}", *_log_tail(log)])}
            self._discard(worker, replace=not env)
        elif env:
            self._discard(worker, replace=False)
        else:
            self._release(worker)
        return answer

    def _acquire(self) -> Worker:
        with self._cond:
            self._waiting += 1
            try:
                while not self._idle:
                    if self._closed:
                        raise RuntimeError("the server is stopping")
                    if len(self._workers) + self._starting < self.max_workers:  # one died
                        self._starting += 1
                        threading.Thread(target=self._add_worker, daemon=True).start()
                    self._cond.wait()
                return self._idle.pop()
            finally:
                self._waiting -= 1

    def _release(self, worker: Worker) -> None:
        with self._cond:
            if self._closed:
                return
            self._idle.append(worker)
            self._cond.notify_all()

    def _discard(self, worker: Worker, replace: bool) -> None:
        worker.kill()
        with self._cond:
            if worker in self._workers:
                self._workers.remove(worker)
            if replace and not self._closed:
                self._starting += 1
                threading.Thread(target=self._add_worker, daemon=True).start()

    def _spawn(self, env: dict) -> Worker:
        worker = self._spawner.call(lambda: Worker(self.layout, env))
        with self._cond:
            self._workers.append(worker)
            closed = self._closed
        if closed:
            worker.kill()
            raise RuntimeError("the server is stopping")
        return worker

    def _add_worker(self) -> None:
        """Start a worker and import the demos' libraries in it; then it is idle (warm)."""
        worker = None
        try:
            worker = self._spawn({})
            imports = sorted({name for demo in cache.discover(self.layout.demos)
                              for name in cache.Scanner(self.layout).scan(demo.path).external})
            answer = _exchange(worker, {"id": "warm-up", "imports": imports, "uses_jax": True,
                                        "jax_cache": str(self.layout.jax_cache),
                                        "log": str(self.logs / f"worker-{worker.proc.pid}.log")},
                               IMPORT_GRACE, None)
            if answer.get("lost"):
                raise RuntimeError(answer["reason"])
        except Exception:
            if worker is not None:
                self._discard(worker, replace=False)
            worker = None
        finally:
            with self._cond:
                self._starting -= 1
                self._cond.notify_all()
        if worker is not None:
            self._release(worker)


def _exchange(worker: Worker, request: dict, limit: float, progress) -> dict:
    """Send one request and read the worker's answers until "done"; kill it if it overruns."""
    if not worker.send(request):
        return {"ok": False, "lost": True, "reason": worker.exit_reason()}
    deadline = time.monotonic() + limit + IMPORT_GRACE  # imports first, then the demo's clock
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            worker.kill()
            return {"ok": False, "lost": True, "reason": f"timed out after {limit:g} s"}
        ready, _, _ = select.select([worker.fd], [], [], min(left, 1.0))
        if not ready:
            continue
        messages = worker.messages()
        if messages is None:
            return {"ok": False, "lost": True, "reason": worker.exit_reason()}
        for message in messages:
            if message.get("event") == "start":
                deadline = time.monotonic() + limit
                if progress:
                    progress.start()
            elif message.get("event") == "progress" and progress:
                progress(message.get("fields") or {})
            elif message.get("event") == "done":
                return message


class _Progress:
    """Passes a run's progress reports on, at most every PROGRESS_EVERY s (each fit's first
    and last epoch always), numbering the fit calls of a run (a demo may train several models)."""

    def __init__(self, run: Run):
        self.run, self.fit, self.last_epoch, self.sent = run, 0, math.inf, -math.inf

    def start(self) -> None:
        self.run.emit({"event": "start", "seconds": round(time.monotonic() - self.run.requested, 3)})

    def __call__(self, fields: dict) -> None:
        epoch, epochs = fields.get("epoch"), fields.get("epochs")
        new_fit = not isinstance(epoch, int) or epoch <= self.last_epoch
        self.fit += new_fit
        self.last_epoch = epoch if isinstance(epoch, int) else math.inf
        now = time.monotonic()
        if new_fit or epoch == epochs or now - self.sent >= PROGRESS_EVERY:
            self.sent = now
            self.run.emit({"event": "progress", "fit": self.fit, "fields": fields,
                           "seconds": round(now - self.run.requested, 3)})


class _Spawner:
    """Starts the worker processes from one long-lived thread: a worker asks to be killed when
    its parent dies (PR_SET_PDEATHSIG), and Linux means the parent *thread*."""

    def __init__(self):
        self._queue: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        threading.Thread(target=self._loop, daemon=True, name="worker-spawner").start()

    def call(self, fn):
        future = concurrent.futures.Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the server is stopping")
            self._queue.append((fn, future))
            self._cond.notify()
        return future.result()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                fn, future = self._queue.popleft()
            try:
                future.set_result(fn())
            except BaseException as error:
                future.set_exception(error)


def _formats(name: str, formats) -> list[tuple[str, str]]:
    """The page's [reference, format spec] pairs for this demo's numbers (others ignored)."""
    if formats is None:
        return []
    if not isinstance(formats, list) or not all(
            isinstance(f, list) and len(f) == 2 and all(isinstance(s, str) for s in f) for f in formats):
        raise present_knobs.BadValue("formats must be a list of [reference, format spec] pairs")
    return [(ref, spec) for ref, spec in formats[:500] if ref.startswith(name + ".")]


def _lookup(results: dict, reference: str):
    """`demo.key.0` in {demo: results}, as the slides' `{{ demo.key.0 }}` reads it."""
    value = results
    for key in reference.split("."):
        value = value[int(key)] if isinstance(value, list) and key.isdigit() else value[key]
    return value


def _finite(value):
    """JSON for the browser: NaN and infinities (a diverging loss) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc; 0 where it is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _tail(text: str) -> str:
    return "\n".join(text.rstrip().splitlines()[-LOG_TAIL:])


def _log_tail(log: Path) -> list[str]:
    try:
        lines = log.read_text(errors="replace").splitlines()[-LOG_TAIL:]
    except OSError:
        return []
    return ["--- last lines ---", *lines] if lines else []
