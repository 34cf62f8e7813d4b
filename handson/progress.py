"""Progress of a running demo, for whoever listens: `report(**fields)` and `listen(callback)`.

`fit` calls `report(epoch=..., epochs=..., train_loss=..., ...)` after every epoch, so a live
presenter can stream a demo's progress without the demo passing anything through:

    with progress.listen(lambda fields: print(fields["epoch"], fields["train_loss"])):
        demo.main(out_dir)

Process-wide: a report reaches every listener registered (in any thread) while it is made.
Standard library only, and a report with no listener costs one check of an empty list.
"""

import contextlib
import threading
from collections.abc import Callable, Iterator

_listeners: list[Callable[[dict], None]] = []  # in registration order
_lock = threading.Lock()  # guards _listeners


def report(**fields) -> None:
    """Hand `fields` (JSON-able values) to every listener, as one dict each; no listener: no-op.

    A listener's exception propagates to the reporter (raising is how a listener stops a run).
    """
    if not _listeners:
        return
    with _lock:
        listeners = tuple(_listeners)
    for callback in listeners:
        callback(dict(fields))


@contextlib.contextmanager
def listen(callback: Callable[[dict], None]) -> Iterator[Callable[[dict], None]]:
    """Call `callback(fields)` for every `report(**fields)` made until the block ends."""
    with _lock:
        _listeners.append(callback)
    try:
        yield callback
    finally:
        with _lock:
            _listeners.remove(callback)
