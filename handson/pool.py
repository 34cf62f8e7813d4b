"""The runner's worker processes: a few warm ones, plus a fresh one per demo that sets ENV.

A worker pays for importing JAX once and then runs many demos. A demo that declares
`ENV = {...}` needs those variables before JAX starts, so it gets a dedicated process
started with them, which runs only that demo. Jobs that pass their time limit get their
worker (its whole process group) killed; a fresh worker takes the slot.
"""

import contextlib
import json
import math
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from handson.cache import JAX_PACKAGES, Demo
from handson.paths import Layout
from handson.worker import ENVIRONMENT

# Time for a worker to import the demo's libraries (jax ~3 s) before the demo's clock starts.
IMPORT_GRACE = 120.0
LOG_TAIL = 20  # lines of a demo's log shown when it timed out or crashed its worker


class Job:
    """A stale demo waiting for, or running in, a worker."""

    def __init__(self, demo: Demo, reason: str, inputs: dict, external: set[str], limit: float,
                 env: dict[str, str]):
        self.demo = demo
        self.reason = reason  # why it runs ("source changed")
        self.inputs = inputs  # fingerprint before the run (the worker's hashes replace it)
        self.external = external  # libraries it imports (loaded before its clock starts)
        self.limit = limit  # seconds
        self.env = env  # the demo's ENV: needs a fresh worker started with it
        self.out_dir: Path | None = None  # fresh temp dir under the build folder while running
        self.log: Path | None = None


class Worker:
    """One `python -m handson.worker` process and the job it is running."""

    def __init__(self, layout: Layout, env: dict[str, str]):
        self.dedicated = bool(env)
        environ = {**os.environ, **ENVIRONMENT, **env, "HANDSON_RUNNER_PID": str(os.getpid())}
        # The project root first (its handson and demos); this handson as a fallback.
        here = str(Path(__file__).resolve().parent.parent)
        environ["PYTHONPATH"] = os.pathsep.join(
            p for p in [str(layout.root), here, environ.get("PYTHONPATH")] if p)
        # Own session: Ctrl-C goes to the runner only, which then kills the whole group.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "handson.worker", str(layout.root), str(layout.package),
             str(layout.demos)],
            cwd=layout.root, env=environ, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
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


def execute(todo: list[Job], n_workers: int, layout: Layout,
            show: Callable[[str, Job], None]) -> Iterator[tuple[Job, dict]]:
    """Run jobs on at most `n_workers` workers; yield (job, answer) as each finishes.

    On exit (normal, error, Ctrl-C or another signal turned into KeyboardInterrupt) every
    worker is gone and unreported temp folders are removed.
    """
    pending = deque(todo)
    layout.scratch.mkdir(parents=True, exist_ok=True)
    selector = selectors.DefaultSelector()
    workers: list[Worker] = []

    def start() -> None:
        job = pending.popleft()
        worker = Worker(layout, job.env)
        workers.append(worker)
        selector.register(worker.fd, selectors.EVENT_READ, worker)
        assign(worker, job)

    def assign(worker: Worker, job: Job) -> None:
        _assign(worker, job, layout)
        show("start", job)

    def retire(worker: Worker) -> None:
        selector.unregister(worker.fd)
        workers.remove(worker)
        worker.kill()
        worker.job = None  # reported by the caller; its temp folder is the caller's to remove

    def fill() -> None:
        for worker in [w for w in workers if w.job is None]:
            if not pending:
                break
            if worker.dedicated or pending[0].env:  # a fresh process for an ENV demo
                retire(worker)
            else:
                assign(worker, pending.popleft())
        while pending and len(workers) < n_workers:
            start()

    def finish(job: Job, answer: dict) -> tuple[Job, dict]:
        show("done", job)
        return job, answer

    try:
        while pending or any(w.job for w in workers):
            fill()
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
                remove(worker.job.out_dir)
            else:
                worker.stop()
        selector.close()


def _assign(worker: Worker, job: Job, layout: Layout) -> None:
    job.out_dir = Path(tempfile.mkdtemp(dir=layout.scratch, prefix=f"{job.demo.name}-"))
    job.log = layout.logs / job.demo.deck / f"{job.demo.name}.log"
    job.log.parent.mkdir(parents=True, exist_ok=True)
    external = sorted(job.external)
    request = {"id": job.demo.id, "path": str(job.demo.path), "out_dir": str(job.out_dir),
               "log": str(job.log), "imports": external,
               "uses_jax": any(name.split(".")[0] in JAX_PACKAGES for name in external),
               "jax_cache": str(layout.jax_cache)}
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


def remove(path: Path | None) -> None:
    import shutil

    if path is not None and path.exists():
        shutil.rmtree(path, ignore_errors=True)
