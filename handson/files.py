"""File hashes reused while a file's stat is unchanged (a cheap no-op run), and atomic writes.

A file's stat signature is (inode, size, mtime, ctime). Any write changes ctime, and ctime
cannot be set back by tools (unlike mtime), so an unchanged signature means unchanged bytes,
with one exception handled here: timestamps tick coarsely, so a same-size rewrite within one
tick of the last change keeps the signature. Signatures taken that soon after a change are
not stored (as git does with "racily clean" index entries); those files are hashed again.
"""

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

# How long after its last change a file's signature may be trusted (a generous tick).
SETTLE_NS = 2_000_000_000
FORMAT = 1  # bump when the stored layout changes; an unknown one is ignored


def sha256_bytes(data: bytes) -> str:
    import hashlib  # (~10 ms: OpenSSL; a no-op run with a warm cache never hashes)

    return hashlib.sha256(data).hexdigest()


class StatCache:
    """File hashes (and anything derived from a file's bytes) keyed by path and stat signature.

    Stored as JSON at `path` (under the build folder); losing it only costs hashing.
    """

    def __init__(self, path: Path | None = None):
        self.path = path
        self.entries: dict[str, dict] = {}
        self.seen: dict[str, dict] = {}  # this run's answers, by path
        self.changed = False
        if path is not None:
            try:
                data = json.loads(path.read_bytes())
                if data.get("format") == FORMAT and isinstance(data.get("files"), dict):
                    self.entries = data["files"]
            except (OSError, ValueError, AttributeError):
                pass

    def sha256(self, path: str | Path) -> str:
        """The file's sha256; OSError if it cannot be read."""
        return self._entry(str(path), None, None)["sha256"]

    def derived(self, path: str | Path, name: str, derive: Callable[[bytes], object]):
        """`derive(bytes)` for the file (JSON-able), reused while the file is unchanged."""
        return self._entry(str(path), name, derive)[name]

    def _entry(self, path: str, name: str | None, derive) -> dict:
        entry = self.seen.get(path)
        if entry is None:
            taken = time.time_ns()
            st = os.stat(path)
            signature = [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
            entry = self.entries.get(path)
            if not entry or entry.get("stat") != signature:
                data = Path(path).read_bytes()
                entry = {"stat": signature, "sha256": sha256_bytes(data)}
                if name:
                    entry[name] = derive(data)
                self._store(path, entry, taken - max(st.st_mtime_ns, st.st_ctime_ns) > SETTLE_NS)
            self.seen[path] = entry
        if name and name not in entry:
            data = Path(path).read_bytes()
            if sha256_bytes(data) != entry["sha256"]:  # changed since: start over
                del self.seen[path]
                self.entries.pop(path, None)
                return self._entry(path, name, derive)
            # Only one derived kind is kept (an older parser's results go).
            entry = {"stat": entry["stat"], "sha256": entry["sha256"], name: derive(data)}
            self.seen[path] = entry
            self._store(path, entry, path in self.entries)
        return entry

    def _store(self, path: str, entry: dict, trusted: bool) -> None:
        if trusted:
            self.entries[path] = entry
            self.changed = True
        elif self.entries.pop(path, None) is not None:
            self.changed = True

    def save(self) -> None:
        """Write the cache if it changed; a read-only build folder just means no cache."""
        if self.path is None or not self.changed:
            return
        # Forget files that are gone (outputs of removed demos, old temp names).
        files = {path: entry for path, entry in self.entries.items()
                 if path in self.seen or os.path.exists(path)}
        try:
            write_atomic(self.path, json.dumps({"format": FORMAT, "files": files}).encode())
            self.changed = False
        except OSError:
            pass


def write_atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one."""
    import tempfile  # (~5 ms; only runs that write need it)

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def walk(folder: Path) -> tuple[dict[str, str], list[str]]:
    """Regular files under `folder` by posix path relative to it, and anything else found
    (symlinks, which are never followed, fifos, sockets) as sorted descriptions."""
    files: dict[str, str] = {}
    odd: list[str] = []
    todo = [("", str(folder))]
    while todo:
        prefix, path = todo.pop()
        try:
            entries = list(os.scandir(path))
        except FileNotFoundError:
            continue
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_symlink():
                odd.append(f"{rel} -> {os.readlink(entry.path)} (a symlink)")
            elif entry.is_dir(follow_symlinks=False):
                todo.append((rel + "/", entry.path))
            elif entry.is_file(follow_symlinks=False):
                files[rel] = entry.path
            else:
                odd.append(f"{rel} (not a regular file)")
    return dict(sorted(files.items())), sorted(odd)
