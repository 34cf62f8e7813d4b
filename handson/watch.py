"""What a demo reads and writes, seen from inside its worker process.

- Project modules are compiled from bytes read once and hashed: the cache keys a demo on the
  code that actually ran, even if a file is edited (and reverted) while the run is going.
- Other project files the demo opens for reading (the style) are hashed as they are opened.
- A write outside the demo's out_dir (and the few places libraries legitimately write) is
  refused with PermissionError and remembered, so the demo fails even if it swallows that.
Writes are seen through Python's audit events (open, os.mkdir, os.rename, ...): code that
writes from C without Python (a C library's own fopen) is not seen.
"""

import hashlib
import importlib.machinery
import os
import sys
import tempfile
import traceback

# Audit events that change the filesystem: argument positions of their paths, of their dir_fds.
WRITE_EVENTS = {"os.mkdir": ((0,), (2,)), "os.rename": ((0, 1), (2, 3)), "os.remove": ((0,), (1,)),
                "os.rmdir": ((0,), (1,)), "os.symlink": ((1,), (2,)), "os.link": ((1,), (2, 3)),
                "os.truncate": ((0,), ()), "shutil.rmtree": ((0,), (1,))}
# os.open flags that make an open a write.
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
MAX_VIOLATIONS = 5  # writes outside out_dir remembered per demo (the first one is the story)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Watch:
    """Install once per worker process (`Watch(root, [package, demos]).install()`);
    `begin(out_dir)` and `end()` around each demo."""

    def __init__(self, root: str, project_dirs: list[str], jax_cache: str | None = None):
        self.root = os.path.realpath(root)  # nothing in the project is written but out_dir
        self.project_dirs = [os.path.realpath(d) for d in project_dirs]
        self.executed: dict[str, str] = {}  # module path -> sha256 of the bytes compiled
        self.read: dict[str, str] = {}  # other project file -> sha256 when opened (this demo)
        self.violations: list[str] = []
        self.out_dir: str | None = None
        self.allowed: list[str] = []
        self.jax_cache = jax_cache
        self._busy = False  # our own file reads raise audit events too
        self._folders: dict[str, bool] = {}
        self.tempdir = tempfile.gettempdir()  # (it probes by writing: ask before watching)

    def install(self) -> None:
        for module in list(sys.modules.values()):  # loaded before we could watch
            path = getattr(module, "__file__", None)
            if path and path.endswith(".py") and self.is_project(path):
                try:
                    with open(path, "rb") as f:
                        self.executed[os.path.realpath(path)] = _sha256(f.read())
                except OSError:
                    pass
        sys.meta_path.insert(0, _Finder(self))
        sys.addaudithook(self._audit)

    def is_project(self, path: str) -> bool:
        real = os.path.realpath(path)
        return any(real.startswith(d + os.sep) for d in self.project_dirs)

    def is_project_folder(self, folder: str) -> bool:
        if folder not in self._folders:
            self._folders[folder] = self.is_project(os.path.join(folder, "x"))
        return self._folders[folder]

    def begin(self, out_dir: str, jax_cache: str | None = None) -> None:
        """Start watching one demo: writes only under `out_dir` (and library caches)."""
        self.read, self.violations = {}, []
        home = os.path.expanduser("~")
        jax_cache = os.environ.get("JAX_COMPILATION_CACHE_DIR") or jax_cache or self.jax_cache
        places = [out_dir, jax_cache or out_dir, self.tempdir, "/dev",
                  os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache"),
                  os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"),
                  os.environ.get("MPLCONFIGDIR") or os.path.join(home, ".matplotlib")]
        self.allowed = [os.path.realpath(p) for p in places if p]
        self.out_dir = os.path.realpath(out_dir)  # (watching starts here)

    def end(self) -> None:
        self.out_dir = None

    def execute(self, path: str) -> object:
        """Compile a demo file from bytes read once (and hashed); returns the code object."""
        with open(path, "rb") as f:
            source = f.read()
        self.executed[os.path.realpath(path)] = _sha256(source)
        _remember_lines(path, source)
        return compile(source, path, "exec", dont_inherit=True)

    # ------------------------------------------------------------ audit hook

    def _audit(self, event: str, args: tuple) -> None:
        if self.out_dir is None or self._busy:
            return
        if event == "open":
            path, mode, flags = args
            if isinstance(path, int) or path is None:
                return
            writes = (any(c in mode for c in "wax+") if isinstance(mode, str)
                      else bool((flags or 0) & WRITE_FLAGS))
            if writes:
                self._check(path)
            else:
                self._note_read(path)
        elif event in WRITE_EVENTS:
            paths, dir_fds = WRITE_EVENTS[event]
            if any(args[i] not in (None, -1) for i in dir_fds):
                return  # relative to an open folder: cannot tell where; let it be
            for i in paths:
                if not isinstance(args[i], int):
                    self._check(args[i])

    def _check(self, path) -> None:
        real = os.path.realpath(os.fsdecode(path))
        out_dir, jax_cache, *elsewhere = self.allowed
        if _within(real, out_dir) or _within(real, jax_cache):
            return
        if f"{os.sep}__pycache__{os.sep}" in real:  # bytecode caches of imported libraries
            return
        if not _within(real, self.root) and any(_within(real, place) for place in elsewhere):
            return
        message = f"demo wrote outside its out_dir: {real}"
        if len(self.violations) < MAX_VIOLATIONS:
            self._busy = True  # (formatting reads source files)
            try:
                stack = "".join(traceback.format_stack(limit=8)[:-2])
            finally:
                self._busy = False
            self.violations.append(f"{message}\n{stack}")
        raise PermissionError(message)

    def _note_read(self, path) -> None:
        try:
            name = os.fsdecode(path)
        except TypeError:
            return
        if name.endswith(".py") or not self.is_project(name):
            return
        real = os.path.realpath(name)
        if real.startswith(self.out_dir + os.sep):
            return
        self._busy = True
        try:
            with open(real, "rb") as f:
                digest = _sha256(f.read())
        except OSError:
            return
        finally:
            self._busy = False
        # Read twice with different bytes: it changed during the run; no hash can stand for it.
        previous = self.read.setdefault(real, digest)
        if previous != digest:
            self.read[real] = "changed during the run"


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + os.sep)


class _Finder:
    """Meta path finder: project modules load through `_HashingLoader`, others as usual."""

    def __init__(self, watch: Watch):
        self.watch = watch

    def find_spec(self, name, path, target=None):
        if path is not None and not any(self.watch.is_project_folder(p) for p in path):
            return None  # a submodule of a library: not ours, and fast
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or not (spec.origin or "").endswith(".py") or not self.watch.is_project(spec.origin):
            return None
        spec.loader = _HashingLoader(spec.name, spec.origin, self.watch)
        return spec


class _HashingLoader(importlib.machinery.SourceFileLoader):
    """Compiles from the bytes it hashes (no .pyc: then the source is never read at all)."""

    def __init__(self, fullname: str, path: str, watch: Watch):
        super().__init__(fullname, path)
        self.watch = watch

    def get_code(self, fullname):
        source = self.get_data(self.path)
        self.watch.executed[os.path.realpath(self.path)] = _sha256(source)
        _remember_lines(self.path, source)
        return compile(source, self.path, "exec", dont_inherit=True)


def _remember_lines(path: str, source: bytes) -> None:
    """Tracebacks quote the code that ran, even if the file changes afterwards."""
    import linecache

    try:
        lines = source.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return
    linecache.cache[path] = (len(source), None, lines, path)
