"""What keeps a run safe: one at a time, stop signals handled like Ctrl-C, temp folders of
killed runs removed, and an output folder that can take the results, checked up front."""

import contextlib
import os
import signal
import threading
from collections.abc import Callable

from handson.paths import Layout

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")  # each stops a run like Ctrl-C


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C (workers killed, last good outputs kept)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class OutputFolderError(Exception):
    """The output or build folder cannot take this run's results (read-only, other disk)."""


def check_output_folder(layout: Layout) -> None:
    """Fail before running anything if outputs could not be swapped in afterwards."""
    generated, scratch = layout.rel(layout.generated), layout.rel(layout.scratch)
    try:
        layout.scratch.mkdir(parents=True, exist_ok=True)
        layout.generated.mkdir(parents=True, exist_ok=True)
        probe = layout.generated / f".write-test-{os.getpid()}"
        probe.mkdir()
        probe.rmdir()
    except OSError as error:
        raise OutputFolderError(f"cannot write the output folder {generated} "
                                f"({error.strerror or error}): make figures needs it writable") from None
    if os.stat(layout.scratch).st_dev != os.stat(layout.generated).st_dev:
        raise OutputFolderError(
            f"the output folder {generated} is on another filesystem than {scratch}: outputs "
            f"are swapped in by renaming, which cannot cross filesystems; keep both on one "
            f"(do not link one of them to another disk)")


@contextlib.contextmanager
def locked(layout: Layout, say: Callable[[str], None]):
    """One run at a time per project: a second one waits (and then finds the work done)."""
    try:
        layout.build.mkdir(parents=True, exist_ok=True)
        fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise OutputFolderError(f"cannot write the build folder {layout.rel(layout.build)} "
                                f"({error.strerror or error}): make figures needs it writable") from None
    try:
        if not _lock(fd, wait=False):
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            say(f"waiting for the make figures run in progress (pid {holder}) to finish")
            _lock(fd, wait=True)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _lock(fd: int, wait: bool) -> bool:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        return True
    except BlockingIOError:
        return False


def clean_scratch(layout: Layout, if_idle: bool = False) -> None:
    """Remove the temp folders of runs that were killed. Call it holding the lock, or with
    `if_idle=True`: it then takes the lock if free (else the folders belong to a live run)."""
    import shutil

    try:
        entries = list(os.scandir(layout.scratch))
    except OSError:
        return
    if entries and if_idle:
        try:
            fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            if _lock(fd, wait=False):
                clean_scratch(layout)
        finally:
            os.close(fd)
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


@contextlib.contextmanager
def stop_on_signals():
    """SIGTERM and SIGHUP raise Interrupted, so they clean up as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def no_interrupt():
    """Hold stop signals until the block is done (signals can only be set in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    signals = [getattr(signal, name) for name in STOP_SIGNALS]
    previous = {sig: signal.signal(sig, lambda signum, _: caught.append(signum)) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if caught:
            raise KeyboardInterrupt() if caught[0] == signal.SIGINT else Interrupted(caught[0])
