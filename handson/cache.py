"""Which demos are stale, decided by content, and the manifest that remembers it.

Standard library only, and little of it: a run with nothing to do must not import JAX (~3 s)
or NumPy, and finishes in well under a second. File hashes and parsed imports are reused
while a file's stat is unchanged (handson/files.py).
"""

import json
import os
import sys
from pathlib import Path

from handson.files import StatCache, sha256_bytes, walk, write_atomic
from handson.paths import Layout

# The distributions whose version changes what a demo computes or draws (pillow writes GIFs).
PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "matplotlib",
            "scikit-learn", "pillow")
# Top-level imports that mean "this demo runs JAX" (device is recorded, compile cache on).
JAX_PACKAGES = {"jax", "jaxlib", "flax", "optax"}
# Environment variables that change numerics; part of every key when set.
NUMERIC_ENV = ("XLA_FLAGS", "JAX_ENABLE_X64", "JAX_DEFAULT_MATMUL_PRECISION", "JAX_DEFAULT_PRNG_IMPL",
               "JAX_THREEFRY_PARTITIONABLE", "JAX_DISABLE_JIT", "JAX_DEFAULT_DTYPE_BITS")
RESULT = "result.json"  # the demo's returned dict, beside its outputs (written by the worker)
# Each output folder's own copy of its manifest entry (a dotfile: mkdocs does not publish it).
# A lost or corrupt manifest is rebuilt from these; outputs and record are swapped in together.
RECORD = ".record.json"


class DemoError(Exception):
    """Bad demo layout (duplicate names) or an unknown demo asked for on the command line."""


class Demo:
    """One demo file: `id` is `<deck>/<name>`, `path` the script."""

    __slots__ = ("deck", "name", "path")

    def __init__(self, deck: str, name: str, path: Path):
        self.deck, self.name, self.path = deck, name, path

    @property
    def id(self) -> str:
        return f"{self.deck}/{self.name}"

    def __repr__(self) -> str:
        return f"Demo({self.id!r})"


def discover(demos_dir: Path) -> list[Demo]:
    """All demos `demos/<NN_deck>/<name>.py` (not starting with `_`), sorted by id."""
    demos = [Demo(deck.name, path.stem, path)
             for deck in sorted(demos_dir.glob("[0-9][0-9]_*")) if deck.is_dir()
             for path in sorted(deck.glob("*.py")) if not path.name.startswith("_")]
    seen: dict[str, Demo] = {}
    for demo in demos:
        if demo.name in seen:  # slides refer to results by bare name
            raise DemoError(f"demo name {demo.name!r} is used twice: {seen[demo.name].id} and {demo.id}")
        seen[demo.name] = demo
    return demos


def select(demos: list[Demo], names: list[str] | None) -> list[Demo]:
    """The demos named (by name or id) on the command line; all when `names` is empty."""
    if not names:
        return demos
    by_key = {d.name: d for d in demos} | {d.id: d for d in demos}
    unknown = [n for n in names if n.removesuffix(".py") not in by_key]
    if unknown:
        raise DemoError(f"no such demo: {', '.join(unknown)}")
    wanted = {by_key[n.removesuffix('.py')].id for n in names}
    return [d for d in demos if d.id in wanted]


# ---------------------------------------------------------------- imports, found by parsing


class Imports:
    """What running a file loads: project files (transitively) and external modules."""

    def __init__(self, modules: dict[str, str], external: set[str]):
        self.modules = modules  # project files (absolute) by path relative to the root
        self.external = external  # dotted names imported at module level from outside


class Scanner:
    """Follows imports with `ast`, and reads a demo's facts (caption, TIME_LIMIT, ENV).

    Parses (handson/scan.py) are kept in the stat cache. One instance per run: files may
    change between runs.
    """

    def __init__(self, layout: Layout, stats: StatCache | None = None):
        self.layout = layout
        self.root = str(layout.root)
        self.demos_dir = str(layout.demos)
        self.stats = stats or StatCache()
        self._deps: dict[str, tuple[list[str], set[str]]] = {}
        self._resolved: dict[tuple[str, str], list[str]] = {}
        # Parses are stored under a name that changes whenever the parser (scan.py) does.
        self._analysis_name = "scan-" + self.stats.sha256(Path(__file__).with_name("scan.py"))[:12]

    def sha256(self, path: str | Path) -> str:
        return self.stats.sha256(path)

    def scan(self, path: str | Path) -> Imports:
        """Project files `path` imports, transitively, and module-level external imports."""
        start = str(path)
        modules: dict[str, str] = {}
        external: set[str] = set()
        todo, done = [start], {start}
        while todo:
            deps, ext = self._parse(todo.pop())
            external |= ext
            for dep in deps:
                if dep not in done:
                    done.add(dep)
                    todo.append(dep)
                    modules[self.layout.rel(dep)] = dep
        return Imports(dict(sorted(modules.items())), external)

    def facts(self, path: str | Path) -> dict:
        """{"caption", "time_limit", "env", "env_error"} read from a demo's source."""
        return self._analysis(str(path))["facts"]

    def runner_code(self) -> dict[str, str]:
        """The worker and the project files it imports: they shape every demo's outputs."""
        worker = self.layout.package / "worker.py"
        if not worker.is_file():
            return {}
        return {self.layout.rel(worker): str(worker), **self.scan(worker).modules}

    def _analysis(self, path: str) -> dict:
        package = self._package(path)

        def analyse(data: bytes) -> dict:
            from handson import scan  # (ast and the parse: only for files not seen before)

            return scan.analyse(data, path, package)

        return self.stats.derived(path, self._analysis_name, analyse)

    def _parse(self, path: str) -> tuple[list[str], set[str]]:
        if path not in self._deps:
            deps: list[str] = []
            external: set[str] = set()
            for name, top_level in self._analysis(path)["imports"]:
                found = self._resolve(name, path)
                if found:
                    deps.extend(f for f in found if f != path)
                elif top_level and not name.startswith("."):
                    # Only module-level imports run when the demo is loaded;
                    # `import jax` inside a helper function does not count.
                    external.add(name)
            for rel in self._analysis(path)["facts"].get("uses", []):  # loaded by path: USES
                used = os.path.join(self.demos_dir, rel)
                if os.path.isfile(used):
                    deps.append(used)
            self._deps[path] = (deps, external)
        return self._deps[path]

    def _package(self, path: str) -> str:
        """Dotted package of a file under the root (for relative imports)."""
        parent = os.path.dirname(path)
        if not (parent + os.sep).startswith(self.root + os.sep):
            return ""
        return ".".join(Path(os.path.relpath(parent, self.root)).parts)

    def _resolve(self, name: str, importer: str) -> list[str]:
        """Files under the project that `import name` executes (packages' __init__ too)."""
        # Same search order as the worker: the demo's folder first, then the root.
        here = os.path.dirname(importer) if _under(importer, self.demos_dir) else ""
        memo = (here, name)
        if memo not in self._resolved:
            self._resolved[memo] = next(
                (found for base in [here, self.root] if base
                 for found in [self._find(base, name.split("."))] if found), [])
        return self._resolved[memo]

    def _find(self, base: str, parts: list[str]) -> list[str]:
        files = []
        for i in range(1, len(parts) + 1):
            stem = os.path.join(base, *parts[:i])
            if os.path.isfile(os.path.join(stem, "__init__.py")):
                files.append(os.path.join(stem, "__init__.py"))
            elif os.path.isfile(stem + ".py"):
                files.append(stem + ".py")
                break  # a module: the rest of the name is an attribute
            elif not os.path.isdir(stem):  # (a folder without __init__ is a namespace package)
                break
        return [f for f in files if _under(f, str(self.layout.package)) or _under(f, self.demos_dir)]


def _under(path: str, folder: str) -> bool:
    return path.startswith(folder + os.sep)


# ---------------------------------------------------------------- what a demo depends on


def _site_listing() -> list[tuple[str, list[str]]]:
    """(folder, names) for each sys.path folder (~1 ms, where importlib.metadata costs
    ~40 ms to import and ~4 ms a lookup)."""
    listing = []
    for entry in sys.path:
        try:
            listing.append((entry, os.listdir(entry or ".")))
        except OSError:
            continue
    return listing


def _normalize(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def installed_versions() -> dict[str, str | None]:
    """Versions of the packages in PACKAGES (from dist-info folder names) and of Python."""
    wanted = {_normalize(name): name for name in PACKAGES}
    versions: dict[str, str | None] = {}
    for _, names in _site_listing():
        for entry in names:
            if entry.endswith(".dist-info"):
                dist, _, version = entry[: -len(".dist-info")].partition("-")
                if _normalize(dist) in wanted and version:
                    versions.setdefault(wanted[_normalize(dist)], version)
    for name in PACKAGES:
        if name not in versions:  # an egg or other unusual install: ask the slow way
            from importlib import metadata

            try:
                versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                versions[name] = None
    versions["python"] = "%d.%d.%d" % sys.version_info[:3]
    return {name: versions[name] for name in [*PACKAGES, "python"]}


def detect_backend() -> str:
    """The platform JAX will pick, guessed without importing it: JAX_PLATFORMS, else plugins."""
    platforms = os.environ.get("JAX_PLATFORMS", "").strip()
    if platforms:
        return platforms.split(",")[0].strip().lower()
    # jax's GPU support ships as separate distributions (jax-cuda12-plugin, jax-cuda12-pjrt).
    for _, names in _site_listing():
        for name in names:
            low = name.lower().replace("-", "_")
            if low.startswith("jax_cuda"):
                return "cuda"
            if low.startswith("jax_rocm"):
                return "rocm"
    return "cpu"


def numeric_env(demo_env: dict[str, str], environ=os.environ) -> dict[str, str]:
    """The environment a demo's numbers depend on: NUMERIC_ENV as set, then the demo's ENV."""
    return {name: environ[name] for name in NUMERIC_ENV if environ.get(name)} | demo_env


def fingerprint(demo: Demo, scanner: Scanner, style: Path, versions: dict[str, str | None],
                backend: str, env: dict[str, str]) -> dict:
    """Everything a demo's outputs depend on, as hashes (the manifest's `inputs`).

    `modules` holds the project files the demo imports and the worker code that runs it.
    """
    modules = scanner.scan(demo.path).modules | scanner.runner_code()
    return {
        "source": scanner.sha256(demo.path),
        "modules": {rel: scanner.sha256(path) for rel, path in sorted(modules.items())},
        "style": scanner.sha256(style) if style.is_file() else None,
        "versions": dict(versions),
        "backend": backend,
        "env": dict(sorted(env.items())),
    }


def key(inputs: dict) -> str:
    """One hash over all inputs."""
    return sha256_bytes(json.dumps(inputs, sort_keys=True).encode())


def stale_reason(entry: dict | None, inputs: dict, out_dir: Path, stats: StatCache, *,
                 failed: str | None = None, force: bool = False) -> str | None:
    """Why a demo must run (one short line), or None when its outputs are current."""
    if force:
        return "forced"
    if failed is not None:
        return "last run failed"
    if entry is None:
        return "new"
    changes = diff_inputs(entry.get("inputs") or {}, inputs)
    if changes:
        return ", ".join(changes)
    if entry.get("inputs") != inputs:  # (what `key` hashes; comparing needs no hashlib)
        return "inputs changed"
    return check_outputs(out_dir, entry.get("outputs") or {}, stats)


def check_outputs(out_dir: Path, outputs: dict[str, str], stats: StatCache) -> str | None:
    """Why the published folder does not hold exactly `outputs` (by sha256), or None.

    Size and times first (the stat cache); a file is hashed only when they changed.
    """
    if os.path.islink(out_dir):
        return f"not a plain folder: {out_dir.name} -> {os.readlink(out_dir)} (a symlink)"
    files, odd = walk(out_dir)
    problems = [("not a plain file", odd),
                ("output missing", [rel for rel in outputs if rel not in files]),
                ("unexpected file", [rel for rel in files if rel not in outputs and rel != RECORD])]
    for what, rels in problems:
        if rels:
            return _listing(what, rels)
    return _listing("output changed", [rel for rel, digest in outputs.items()
                                       if stats.sha256(files[rel]) != digest]) or None


def _listing(what: str, items: list[str]) -> str:
    return f"{what}: " + ", ".join(items[:3]) + (", ..." if len(items) > 3 else "") if items else ""


def diff_inputs(old: dict, new: dict) -> list[str]:
    """Human-readable differences between two fingerprints."""
    changes = []
    if old.get("source") != new["source"]:
        changes.append("source changed")
    old_mods, new_mods = old.get("modules", {}), new["modules"]
    changes += [f"{rel} changed" for rel in sorted(old_mods.keys() | new_mods.keys())
                if old_mods.get(rel) != new_mods.get(rel)]
    if old.get("style") != new["style"]:
        changes.append("style changed")
    old_versions = old.get("versions", {})
    changes += [f"{name} {old_versions.get(name) or 'none'}→{version or 'none'}"
                for name, version in new["versions"].items() if old_versions.get(name) != version]
    if old.get("backend") != new["backend"]:
        changes.append(f"backend {old.get('backend')}→{new['backend']}")
    old_env, new_env = old.get("env", {}), new.get("env", {})
    changes += [f"env {name} changed" for name in sorted(old_env.keys() | new_env.keys())
                if old_env.get(name) != new_env.get(name)]
    return changes


# ---------------------------------------------------------------- the manifest


def load_manifest(path: Path) -> tuple[dict, str | None]:
    """The manifest and, if it exists but cannot be used, why (then it starts empty)."""
    empty = {"demos": {}, "failed": {}}
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return empty, None
    except OSError as error:
        return empty, f"unreadable ({error.strerror or error})"
    try:
        data = json.loads(text)
    except ValueError as error:  # (UnicodeDecodeError too)
        return empty, f"not valid JSON ({error})"
    if not (isinstance(data, dict) and isinstance(data.get("demos", {}), dict)
            and isinstance(data.get("failed", {}), dict)):
        return empty, "not a manifest (expected {\"demos\": {...}, \"failed\": {...}})"
    return {"demos": dict(data.get("demos") or {}), "failed": dict(data.get("failed") or {})}, None


def read_record(out_dir: Path) -> dict | None:
    """The manifest entry kept beside a demo's outputs, or None if absent or unusable."""
    try:
        record = json.loads((out_dir / RECORD).read_bytes())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("outputs"), dict) else None


def dumps(data: dict) -> str:
    """The one JSON layout of the manifest and records: stable bytes for stable data."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def save_manifest(path: Path, manifest: dict) -> bool:
    """Write atomically (temp file + rename) and only if the bytes change; True if written."""
    text = dumps(manifest).encode()
    try:
        if path.read_bytes() == text:
            return False
    except OSError:
        pass
    write_atomic(path, text)
    return True
