"""`make figures`: run the stale demos in a few long-lived workers, keep the manifest.

Flow: discover demos → fingerprint each (cache.py) → if anything must change, take the
run lock and decide again → run the stale ones in worker processes (pool.py) → validate →
swap outputs in atomically → manifest. A run with nothing stale imports neither JAX nor
rich, and never takes the lock.
"""

import contextlib
import math
import os
import signal
import sys
import time
from pathlib import Path

from handson import cache, safety
from handson.files import StatCache, sha256_bytes, walk
from handson.paths import PROJECT, Layout

DEFAULT_TIME_LIMIT = 600.0  # seconds per demo unless the demo sets TIME_LIMIT


class Failure:
    def __init__(self, demo_id: str, reason: str, details: str):
        self.demo_id, self.reason, self.details = demo_id, reason, details


class Decision:
    """What the plan says about one demo."""

    def __init__(self, demo: cache.Demo, inputs: dict, facts: dict, reason: str | None,
                 external: set[str]):
        self.demo, self.inputs, self.facts, self.reason = demo, inputs, facts, reason
        self.external = external


class Plan:
    """Which selected demos are stale, and what the manifest needs, decided without writing."""

    def __init__(self, layout: Layout, names: list[str] | None, *, force: bool = False,
                 versions: dict[str, str | None] | None = None, backend: str | None = None):
        self.demos = cache.discover(layout.demos)
        selected = cache.select(self.demos, names)
        self.manifest, self.problem = cache.load_manifest(layout.manifest)
        known = {d.id for d in self.demos}
        self.removed = sorted((self.manifest["demos"].keys() | self.manifest["failed"].keys()) - known)
        # Entries missing from the manifest come back from the records beside the outputs.
        self.recovered = []
        for demo in self.demos:
            if demo.id not in self.manifest["demos"]:
                record = cache.read_record(layout.generated / demo.id)
                if record is not None:
                    self.manifest["demos"][demo.id] = record
                    self.recovered.append(demo.id)
        self.stats = StatCache(layout.stat_cache)
        scanner = cache.Scanner(layout, self.stats)
        versions = versions if versions is not None else cache.installed_versions()
        backend = backend or cache.detect_backend()
        self.decisions = []
        for demo in selected:
            facts = scanner.facts(demo.path)
            inputs = cache.fingerprint(demo, scanner, layout.style, versions, backend,
                                       cache.numeric_env(facts["env"]))
            reason = cache.stale_reason(self.manifest["demos"].get(demo.id), inputs,
                                        layout.generated / demo.id, self.stats,
                                        failed=self.manifest["failed"].get(demo.id), force=force)
            self.decisions.append(Decision(demo, inputs, facts, reason,
                                           scanner.scan(demo.path).external))

    @property
    def stale(self) -> list[Decision]:
        return [d for d in self.decisions if d.reason is not None]

    @property
    def writes(self) -> bool:
        """True if this run changes anything (outputs, manifest): it must hold the lock."""
        return bool(self.stale or self.removed or self.recovered or self.problem)


def run(names: list[str] | None = None, *, layout: Layout = PROJECT, force: bool = False,
        jobs: int | None = None, timeout: float = DEFAULT_TIME_LIMIT, console=None,
        versions: dict[str, str | None] | None = None, backend: str | None = None) -> int:
    """Bring the named demos (all if none) up to date; 0 if all are, 1 if any failed, 2 on bad
    input or an unusable output folder, 128 + signal number when stopped.

    `console` is a rich Console (tests pass one); `versions` and `backend` default to what is
    installed (tests inject them).
    """
    started = time.perf_counter()
    report = Report(console)
    options = {"force": force, "versions": versions, "backend": backend}
    try:
        plan = Plan(layout, names, **options)
        if not plan.writes:
            safety.clean_scratch(layout, if_idle=True)
            plan.stats.save()
            return _finish(report, plan, [], 0, started, print_cached=True)
        with safety.stop_on_signals(), safety.locked(layout, report.warn):
            safety.clean_scratch(layout)
            plan = Plan(layout, names, **options)  # again: a run we waited for may have done it
            if plan.problem:
                report.warn(f"{layout.rel(layout.manifest)}: {plan.problem}: rebuilding it from the "
                            f"records beside the outputs (demos without one run again)")
            for demo_id in plan.removed:
                _forget(plan.manifest, demo_id, layout)
                report.warn(f"removed {demo_id} (demo file gone)")
            failures: list[Failure] = []
            ran = 0
            if plan.stale:
                safety.check_output_folder(layout)
                ran = _run_jobs(plan, layout, jobs, timeout, failures, report)
            try:
                cache.save_manifest(layout.manifest, plan.manifest)
            except OSError as error:
                raise safety.OutputFolderError(f"cannot write {layout.rel(layout.manifest)} "
                                        f"({error.strerror or error})") from None
            plan.stats.save()
    except (cache.DemoError, safety.OutputFolderError) as error:
        report.error(f"error: {error}")
        return 2
    except KeyboardInterrupt as stop:
        signum = getattr(stop, "signum", signal.SIGINT)
        report.error(f"interrupted ({signal.Signals(signum).name}): last good outputs kept "
                     f"for unfinished demos")
        return 128 + signum
    return _finish(report, plan, failures, ran, started, print_cached=not plan.stale)


def _finish(report: "Report", plan: Plan, failures: list[Failure], ran: int, started: float,
            print_cached: bool) -> int:
    width = max((len(d.demo.id) for d in plan.decisions), default=0)
    if print_cached:  # (else _run_jobs printed them before the progress display)
        for decision in plan.decisions:
            report.status(decision.demo.id, width, "cached", "dim")
    for failure in failures:
        report.failure(failure)
    seconds = time.perf_counter() - started
    selected = len(plan.decisions)
    cached = sum(1 for d in plan.decisions if d.reason is None)
    report.line(f"{selected} demos: {ran} ran, {cached} cached, {len(failures)} failed in {seconds:.1f} s")
    return 1 if failures else 0


def published(name: str, *, layout: Layout = PROJECT) -> tuple[dict, Path, str | None]:
    """A demo's published record: (manifest entry, its output folder, why it is stale or None).

    What the slides show is the manifest of `slides/_generated`; claims tests read it through
    this function (tests/published.py) instead of rerunning demos. `name` is a demo name or id.
    The entry is {} when the demo never ran. Decided exactly as `run` decides; never imports JAX.
    """
    plan = Plan(layout, [name])
    decision = plan.decisions[0]
    entry = plan.manifest["demos"].get(decision.demo.id) or {}
    return entry, layout.generated / decision.demo.id, decision.reason


# ---------------------------------------------------------------- running


def _run_jobs(plan: Plan, layout: Layout, jobs: int | None, timeout: float,
              failures: list[Failure], report: "Report") -> int:
    """Run the stale demos with a progress display; record each outcome. Returns how many ran."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                               TextColumn, TimeElapsedColumn)

    from handson import pool

    manifest = plan.manifest
    width = max(len(d.demo.id) for d in plan.decisions)
    for decision in plan.decisions:
        if decision.reason is None:
            report.status(decision.demo.id, width, "cached", "dim")
    todo = []
    for d in plan.stale:
        if d.facts["env_error"]:  # cannot start a worker with it
            _fail(failures, manifest, d.demo.id, d.facts["env_error"], d.facts["env_error"])
            report.status(d.demo.id, width, f"failed ({d.facts['env_error']})", "red")
            continue
        limit = d.facts["time_limit"] or timeout
        todo.append(pool.Job(d.demo, d.reason, d.inputs, d.external, limit, d.facts["env"]))
    # Longest first (last known duration; new ones count as long): less idle tail.
    todo.sort(key=lambda j: -manifest["demos"].get(j.demo.id, {}).get("duration_s", math.inf))
    n_workers = max(1, min(jobs or min(2, os.cpu_count() or 1), len(todo) or 1))
    ran = 0
    console = report.console
    # A live bar only on a terminal: in CI logs the per-demo lines and the summary suffice.
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                        transient=True, disable=not console.is_terminal)
    with progress as bar:
        task = bar.add_task("running", total=len(todo))
        running: set[str] = set()

        def show(event: str, job) -> None:
            (running.add if event == "start" else running.discard)(job.demo.name)
            bar.update(task, description="running " + ", ".join(sorted(running)))

        for job, answer in pool.execute(todo, n_workers, layout, show):
            try:
                with safety.no_interrupt():  # never stop between the output swap and the manifest
                    ok, status = _record(job, answer, layout, manifest, failures)
                    cache.save_manifest(layout.manifest, manifest)
            finally:
                pool.remove(job.out_dir)
            ran += ok
            bar.advance(task)
            report.status(job.demo.id, width, status, "green" if ok else "red")
    return ran


def _record(job, answer: dict, layout: Layout, manifest: dict,
            failures: list[Failure]) -> tuple[bool, str]:
    """Validate a worker's answer; on success swap outputs in and update the manifest."""
    demo_id = job.demo.id
    reason = answer.get("reason") if not answer["ok"] else validate(answer["results"], job.out_dir)
    if reason:
        details = answer.get("traceback") or reason
        if job.log and f"log: {job.log}" not in details:
            details = f"{details.rstrip()}\nlog: {job.log}"
        _fail(failures, manifest, demo_id, reason, details)
        return False, f"failed ({reason})"
    inputs = executed_inputs(job.inputs, answer, job.demo.path, layout)
    files, _ = walk(job.out_dir)
    entry = {
        "key": cache.key(inputs),
        "inputs": inputs,
        "outputs": {rel: sha256_bytes(Path(path).read_bytes()) for rel, path in files.items()},
        "duration_s": answer["duration_s"],
        "device": answer["device"],
        "versions": inputs["versions"],
        "results": answer["results"],
        "caption": answer.get("caption", ""),
    }
    try:
        (job.out_dir / cache.RECORD).write_text(cache.dumps(entry), encoding="utf-8")
        install(job.out_dir, layout.generated / demo_id, layout.scratch)
    except OSError as error:
        reason = f"cannot install outputs in {layout.rel(layout.generated / demo_id)}: {error.strerror or error}"
        _fail(failures, manifest, demo_id, reason, reason)
        return False, f"failed ({reason})"
    manifest["demos"][demo_id] = entry
    manifest["failed"].pop(demo_id, None)
    return True, f"ran {answer['duration_s']:.1f} s ({job.reason})"


def _fail(failures: list[Failure], manifest: dict, demo_id: str, reason: str, details: str) -> None:
    failures.append(Failure(demo_id, reason, details))
    manifest["failed"][demo_id] = reason


def executed_inputs(planned: dict, answer: dict, demo_path: Path, layout: Layout) -> dict:
    """The fingerprint of what the worker actually ran: its hashes of the demo, the modules it
    compiled and the files it read, where it has them (a file edited mid-run counts as read)."""
    seen = {}
    for kind in ("executed", "read"):
        for path, digest in (answer.get(kind) or {}).items():
            seen[layout.rel(Path(path))] = digest
    inputs = dict(planned)
    inputs["source"] = seen.get(layout.rel(demo_path), planned["source"])
    inputs["modules"] = {rel: seen.get(rel, digest) for rel, digest in planned["modules"].items()}
    if planned["style"] is not None:
        inputs["style"] = seen.get(layout.rel(layout.style), planned["style"])
    return inputs


def validate(results: dict, out_dir: Path) -> str | None:
    """Why a demo's run does not count (no file written, a symlink left, NaN/inf), or None."""
    files, odd = walk(out_dir)
    if odd:
        return f"left {odd[0]} in out_dir (outputs must be plain files; symlinks are never published)"
    if not set(files) - {cache.RESULT}:
        return "wrote no files"
    bad = list(_non_finite(results, ""))
    if bad:
        return "non-finite result: " + ", ".join(f"{where} = {value}" for where, value in bad[:3])
    return None


def _non_finite(value, where: str):
    if isinstance(value, float) and not math.isfinite(value):
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _non_finite(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _non_finite(v, f"{where}[{i}]")


def install(new: Path, final: Path, scratch: Path) -> None:
    """Replace `final` by `new` with renames only (same filesystem): never half a folder."""
    import shutil
    import tempfile

    final.parent.mkdir(parents=True, exist_ok=True)
    if not final.exists():
        os.rename(new, final)
        return
    old = Path(tempfile.mkdtemp(dir=scratch, prefix=f"{final.name}-old-"))
    os.replace(final, old)  # onto an empty dir: allowed on POSIX
    try:
        os.rename(new, final)
    except OSError:
        os.rename(old, final)  # the last good outputs go back
        raise
    shutil.rmtree(old)


def _forget(manifest: dict, demo_id: str, layout: Layout) -> None:
    """Drop the manifest entry and output folder of a demo whose file is gone."""
    import shutil

    manifest["demos"].pop(demo_id, None)
    manifest["failed"].pop(demo_id, None)
    generated = layout.generated.resolve()
    out = (layout.generated / demo_id).resolve()
    if out.is_dir() and out.is_relative_to(generated) and out != generated:
        shutil.rmtree(out)
        with contextlib.suppress(OSError):  # the deck's folder, if that was its last demo
            out.parent.rmdir()


# ---------------------------------------------------------------- output


class Report:
    """The run's console output. rich (~50 ms to import) only once something runs or fails;
    a no-op run prints its lines itself."""

    STYLES = {"dim": "2", "green": "32", "red": "31", "yellow": "33", "bold red": "1;31"}

    def __init__(self, console=None):
        self._console = console

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False)
        return self._console

    def status(self, demo_id: str, width: int, status: str, style: str) -> None:
        self._styled(f"{demo_id:<{width}}  ", status, style)

    def line(self, text: str) -> None:
        self._styled(text, "", None)

    def warn(self, text: str) -> None:
        self._styled("", text, "yellow")

    def error(self, text: str) -> None:
        self._styled("", text, "red")

    def failure(self, failure: Failure) -> None:
        from rich.text import Text

        # A rule and the raw text rather than a panel: tracebacks stay copyable and unwrapped.
        self.console.rule(Text(f"{failure.demo_id} failed: {failure.reason}", style="bold red"),
                          align="left", style="red")
        self.console.print(Text(failure.details.rstrip()), soft_wrap=True)

    def _styled(self, plain: str, styled: str, style: str | None) -> None:
        if self._console is not None:
            from rich.text import Text

            line = Text(plain)
            line.append(styled, style=style)
            self._console.print(line, soft_wrap=True)  # one line per demo, also in CI logs
            return
        if style and styled and _colour():
            styled = f"\x1b[{self.STYLES[style]}m{styled}\x1b[0m"
        sys.stdout.write(f"{plain}{styled}\n")
        sys.stdout.flush()


def _colour() -> bool:
    """What rich would decide for a plain terminal (NO_COLOR, TERM=dumb, not a tty: none)."""
    return (sys.stdout.isatty() and "NO_COLOR" not in os.environ
            and os.environ.get("TERM", "") != "dumb")
