"""`make figures`: run the stale demos in a few long-lived workers, keep the manifest.

Flow: discover demos → fingerprint each (cache.py) → run the stale ones in
`python -m handson.worker` processes → validate → swap outputs in atomically → manifest.
Standard library and rich only: a run with nothing stale never imports JAX.
"""

import contextlib
import hashlib
import json
import math
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.text import Text

from handson import cache
from handson.paths import BUILD, DEMOS, GENERATED, ROOT, STYLE

DEFAULT_TIME_LIMIT = 600.0  # seconds per demo unless the demo sets TIME_LIMIT
# Time for a worker to import the demo's libraries (jax ~3 s) before the demo's clock starts.
IMPORT_GRACE = 120.0
LOG_TAIL = 20  # lines of a demo's log shown when it timed out or crashed its worker


@dataclass
class Job:
    """A stale demo waiting for, or running in, a worker."""

    demo: cache.Demo
    reason: str  # why it runs ("source changed")
    inputs: dict  # fingerprint for the manifest
    imports: cache.Imports
    limit: float  # seconds
    out_dir: Path | None = None  # fresh temp dir under the build folder while running
    log: Path | None = None


@dataclass
class Failure:
    demo_id: str
    reason: str
    details: str  # traceback or log tail


def run(names: list[str] | None = None, *, root: Path = ROOT, demos_dir: Path | None = None,
        generated_dir: Path | None = None, build_dir: Path | None = None, style: Path | None = None,
        force: bool = False, jobs: int | None = None, timeout: float = DEFAULT_TIME_LIMIT,
        console: Console | None = None, versions: dict[str, str | None] | None = None,
        backend: str | None = None) -> int:
    """Bring the named demos (all if none) up to date; 0 if all are, 1 if any failed, 2 on bad input.

    Paths default to the layout of handson/paths.py under `root`; `versions` and `backend`
    default to what is installed (tests inject them).
    """
    started = time.perf_counter()
    demos_dir = demos_dir or root / DEMOS.relative_to(ROOT)
    generated_dir = generated_dir or root / GENERATED.relative_to(ROOT)
    build_dir = build_dir or root / BUILD.relative_to(ROOT)
    style = style or root / STYLE.relative_to(ROOT)
    console = console or Console(highlight=False)
    versions = versions if versions is not None else cache.installed_versions()
    backend = backend or cache.detect_backend()
    manifest_path = generated_dir / "manifest.json"

    try:
        demos = cache.discover(demos_dir)
        selected = cache.select(demos, names)
    except cache.DemoError as error:
        console.print(Text(f"error: {error}", style="red"))
        return 2
    manifest = cache.load_manifest(manifest_path)
    _forget_removed(manifest, {d.id for d in demos}, generated_dir, console)

    # 1. Decide, by content, which demos are stale.
    scanner = cache.Scanner(root, demos_dir)
    width = max((len(d.id) for d in selected), default=0)
    todo: list[Job] = []
    for demo in selected:
        imports = scanner.scan(demo.path)
        inputs = cache.fingerprint(demo, imports, root, style, versions, backend)
        reason = cache.stale_reason(manifest["demos"].get(demo.id), inputs, generated_dir / demo.id,
                                    failed=manifest["failed"].get(demo.id), force=force)
        if reason is None:
            _print(console, demo.id, width, "cached", "dim")
        else:
            todo.append(Job(demo, reason, inputs, imports, cache.time_limit(demo.path, timeout)))

    # 2. Run them; each outcome updates outputs and manifest at once, so Ctrl-C loses little.
    failures: list[Failure] = []
    ran = 0
    if todo:
        # Longest first (last known duration; new ones count as long): less idle tail.
        todo.sort(key=lambda j: -manifest["demos"].get(j.demo.id, {}).get("duration_s", math.inf))
        n_workers = max(1, min(jobs or min(2, os.cpu_count() or 1), len(todo)))
        try:
            ran = _run_jobs(todo, n_workers, root, generated_dir, build_dir, manifest,
                            manifest_path, failures, console, width)
        except KeyboardInterrupt:
            console.print(Text("interrupted: last good outputs kept for unfinished demos", style="red"))
            return 130
    cache.save_manifest(manifest_path, manifest)

    # 3. Report.
    for failure in failures:
        _print_failure(console, failure)
    seconds = time.perf_counter() - started
    console.print(f"{len(selected)} demos: {ran} ran, {len(selected) - len(todo)} cached, "
                  f"{len(failures)} failed in {seconds:.1f} s")
    return 1 if failures else 0


def published(name: str, *, root: Path = ROOT) -> tuple[dict, Path, str | None]:
    """A demo's published record: (manifest entry, its output folder, why it is stale or None).

    What the slides show is the manifest of `slides/_generated`; claims tests read it through
    this function (tests/published.py) instead of rerunning demos. `name` is a demo name or id.
    The entry is {} when the demo never ran. Never imports JAX.
    """
    demos_dir, generated_dir = root / DEMOS.relative_to(ROOT), root / GENERATED.relative_to(ROOT)
    demo = cache.select(cache.discover(demos_dir), [name])[0]
    manifest = cache.load_manifest(generated_dir / "manifest.json")
    entry = manifest["demos"].get(demo.id) or {}
    inputs = cache.fingerprint(demo, cache.Scanner(root, demos_dir).scan(demo.path), root,
                               root / STYLE.relative_to(ROOT), cache.installed_versions(),
                               cache.detect_backend())
    reason = cache.stale_reason(entry or None, inputs, generated_dir / demo.id,
                                failed=manifest["failed"].get(demo.id))
    return entry, generated_dir / demo.id, reason


def _run_jobs(todo: list[Job], n_workers: int, root: Path, generated_dir: Path, build_dir: Path,
              manifest: dict, manifest_path: Path, failures: list[Failure], console: Console,
              width: int) -> int:
    """Run jobs with a progress display; record each outcome. Returns how many succeeded."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                               TextColumn, TimeElapsedColumn)

    ran = 0
    # A live bar only on a terminal: in CI logs the per-demo lines and the summary suffice.
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                        transient=True, disable=not console.is_terminal)
    with progress as bar:
        task = bar.add_task("running", total=len(todo))
        running: set[str] = set()

        def show(event: str, job: Job) -> None:
            (running.add if event == "start" else running.discard)(job.demo.name)
            bar.update(task, description="running " + ", ".join(sorted(running)))

        for job, answer in _execute(todo, n_workers, root, build_dir, show):
            try:
                with _no_interrupt():  # never stop between the output swap and the manifest
                    ok, status = _record(job, answer, generated_dir, build_dir, manifest, failures)
                    cache.save_manifest(manifest_path, manifest)
            finally:
                _remove(job.out_dir)
            ran += ok
            bar.advance(task)
            _print(console, job.demo.id, width, status, "green" if ok else "red")
    return ran


def _record(job: Job, answer: dict, generated_dir: Path, build_dir: Path, manifest: dict,
            failures: list[Failure]) -> tuple[bool, str]:
    """Validate a worker's answer; on success swap outputs in and update the manifest."""
    demo_id = job.demo.id
    reason = answer.get("reason") if not answer["ok"] else validate(answer["results"], job.out_dir)
    if reason:
        details = answer.get("traceback") or reason
        if job.log and f"log: {job.log}" not in details:
            details = f"{details.rstrip()}\nlog: {job.log}"
        failures.append(Failure(demo_id, reason, details))
        manifest["failed"][demo_id] = reason
        return False, f"failed ({reason})"
    outputs = checksums(job.out_dir)
    (job.out_dir / "result.json").write_text(cache.dumps(answer["results"]))
    install(job.out_dir, generated_dir / demo_id, build_dir / "tmp")
    manifest["demos"][demo_id] = {
        "key": cache.key(job.inputs),
        "inputs": job.inputs,
        "outputs": outputs,
        "duration_s": answer["duration_s"],
        "device": answer["device"],
        "versions": job.inputs["versions"],
        "results": answer["results"],
        "caption": cache.caption(job.demo.path),
    }
    manifest["failed"].pop(demo_id, None)
    return True, f"ran {answer['duration_s']:.1f} s ({job.reason})"


def validate(results: dict, out_dir: Path) -> str | None:
    """Why a demo's run does not count (no file written, NaN/inf in results), or None."""
    if not any(p.is_file() for p in out_dir.rglob("*")):
        return "wrote no files"
    bad = list(_non_finite(results, ""))
    if bad:
        return "non-finite result: " + ", ".join(f"{where} = {value}" for where, value in bad[:3])
    return None


def _non_finite(value, where: str) -> Iterator[tuple[str, float]]:
    if isinstance(value, float) and not math.isfinite(value):
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _non_finite(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _non_finite(v, f"{where}[{i}]")


def checksums(out_dir: Path) -> dict[str, str]:
    """sha256 of every file under `out_dir`, by posix path relative to it."""
    return {p.relative_to(out_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out_dir.rglob("*")) if p.is_file()}


def install(new: Path, final: Path, scratch: Path) -> None:
    """Replace `final` by `new` with renames only (same filesystem): never half a folder."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if not final.exists():
        os.rename(new, final)
        return
    old = Path(tempfile.mkdtemp(dir=scratch, prefix=f"{final.name}-old-"))
    os.replace(final, old)  # onto an empty dir: allowed on POSIX
    os.rename(new, final)
    shutil.rmtree(old)


def _forget_removed(manifest: dict, known: set[str], generated_dir: Path, console: Console) -> None:
    """Drop manifest entries and output folders of demos whose file is gone."""
    for demo_id in sorted((manifest["demos"].keys() | manifest["failed"].keys()) - known):
        manifest["demos"].pop(demo_id, None)
        manifest["failed"].pop(demo_id, None)
        out = (generated_dir / demo_id).resolve()
        if out.is_dir() and out.is_relative_to(generated_dir.resolve()) and out != generated_dir.resolve():
            shutil.rmtree(out)
            with contextlib.suppress(OSError):  # the deck's folder, if that was its last demo
                out.parent.rmdir()
        console.print(Text(f"removed {demo_id} (demo file gone)", style="yellow"))


# ---------------------------------------------------------------- workers


class _Worker:
    """One `python -m handson.worker` process and the job it is running."""

    def __init__(self, root: Path):
        env = dict(os.environ, SOURCE_DATE_EPOCH="0", MPLBACKEND="agg", PYTHONHASHSEED="0")
        # The project root first (its handson and demos); this handson as a fallback.
        here = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in [str(root), here, env.get("PYTHONPATH")] if p)
        # Own session: Ctrl-C goes to the runner only, which then kills the whole group.
        self.proc = subprocess.Popen([sys.executable, "-m", "handson.worker"], cwd=root, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     start_new_session=True)
        self.fd = self.proc.stdout.fileno()
        self.buffer = b""
        self.job: Job | None = None
        self.deadline = math.inf

    def send(self, request: dict) -> bool:
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
            return True
        except OSError:  # it died
            return False

    def messages(self) -> list[dict] | None:
        """Complete messages available now; None once the worker has exited."""
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group: also anything the demo started
        self.proc.wait()
        self.close_pipes()

    def stop(self) -> None:
        """Ask an idle worker to exit (EOF on stdin); kill it if it does not."""
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                pipe.close()

    def exit_reason(self) -> str:
        code = self.proc.wait()
        return f"worker died (signal {-code})" if code < 0 else f"worker died (exit code {code})"


def _execute(todo: list[Job], n_workers: int, root: Path, build_dir: Path,
             show) -> Iterator[tuple[Job, dict]]:
    """Run jobs on `n_workers` workers; yield (job, answer) as each finishes.

    A job that passes its time limit gets its worker killed and a fresh worker takes its
    place. On exit (normal, error or Ctrl-C) every worker is gone and unreported temp
    folders are removed.
    """
    pending = deque(todo)
    scratch = build_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    selector = selectors.DefaultSelector()
    workers: list[_Worker] = []

    def start_worker() -> None:
        worker = _Worker(root)
        workers.append(worker)
        selector.register(worker.fd, selectors.EVENT_READ, worker)

    def retire(worker: _Worker) -> None:
        selector.unregister(worker.fd)
        workers.remove(worker)
        worker.kill()
        worker.job = None  # reported by the caller; its temp folder is the caller's to remove
        if pending:
            start_worker()

    def finish(job: Job, answer: dict) -> tuple[Job, dict]:
        show("done", job)
        return job, answer

    try:
        for _ in range(n_workers):
            start_worker()
        while pending or any(w.job for w in workers):
            for worker in workers:
                if worker.job is None and pending:
                    _assign(worker, pending.popleft(), scratch, build_dir)
                    show("start", worker.job)
            now = time.monotonic()
            wait = min((w.deadline for w in workers), default=math.inf) - now
            for key, _ in selector.select(timeout=max(0.0, min(wait, 1.0))):
                worker = key.data
                messages = worker.messages()
                if messages is None:  # crashed (or os._exit in a demo)
                    job, reason = worker.job, worker.exit_reason()
                    retire(worker)
                    if job:
                        yield finish(job, _lost(job, reason))
                    continue
                for message in messages:
                    if message.get("event") == "start" and worker.job:
                        worker.deadline = time.monotonic() + worker.job.limit
                    elif message.get("event") == "done" and worker.job:
                        job, worker.job, worker.deadline = worker.job, None, math.inf
                        yield finish(job, message)
            for worker in list(workers):
                if worker.job and time.monotonic() > worker.deadline:
                    job = worker.job
                    retire(worker)  # kills its process group: the hung demo and its children
                    yield finish(job, _lost(job, f"timed out after {job.limit:g} s"))
    finally:
        for worker in workers:
            if worker.job and worker.job.out_dir:
                worker.kill()
                _remove(worker.job.out_dir)
            else:
                worker.stop()
        selector.close()


def _assign(worker: _Worker, job: Job, scratch: Path, build_dir: Path) -> None:
    job.out_dir = Path(tempfile.mkdtemp(dir=scratch, prefix=f"{job.demo.name}-"))
    job.log = build_dir / "logs" / job.demo.deck / f"{job.demo.name}.log"
    job.log.parent.mkdir(parents=True, exist_ok=True)
    external = sorted(job.imports.external)
    request = {"id": job.demo.id, "path": str(job.demo.path), "out_dir": str(job.out_dir),
               "log": str(job.log), "imports": external,
               "uses_jax": any(name.split(".")[0] in cache.JAX_PACKAGES for name in external),
               "jax_cache": str(build_dir / "jax_cache")}
    worker.job = job
    # The limit starts when the worker says "start" (after imports); this bounds the imports.
    worker.deadline = time.monotonic() + job.limit + IMPORT_GRACE
    worker.send(request)  # a dead worker shows up as EOF in the select loop


def _lost(job: Job, reason: str) -> dict:
    """Answer for a job whose worker had to be killed or died: reason plus its log's tail."""
    try:
        tail = job.log.read_text(errors="replace").splitlines()[-LOG_TAIL:]
    except OSError:
        tail = []
    details = "\n".join([reason, f"log: {job.log}", *(["--- last lines ---", *tail] if tail else [])])
    return {"ok": False, "reason": reason, "traceback": details}


# ---------------------------------------------------------------- small helpers


@contextlib.contextmanager
def _no_interrupt():
    """Hold Ctrl-C until the block is done (signals can only be set in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


def _remove(path: Path | None) -> None:
    if path is not None and path.exists():
        shutil.rmtree(path, ignore_errors=True)


def _print(console: Console, demo_id: str, width: int, status: str, style: str) -> None:
    line = Text(f"{demo_id:<{width}}  ")
    line.append(status, style=style)
    console.print(line, soft_wrap=True)  # one line per demo, also in 80-column CI logs


def _print_failure(console: Console, failure: Failure) -> None:
    # A rule and the raw text rather than a panel: tracebacks stay copyable and unwrapped.
    console.rule(Text(f"{failure.demo_id} failed: {failure.reason}", style="bold red"),
                 align="left", style="red")
    console.print(Text(failure.details.rstrip()), soft_wrap=True)
