"""Which demos are stale, decided by content, and the manifest that remembers it.

Standard library only: a run with nothing to do must not import JAX (~3 s) or NumPy.
"""

import ast
import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

# The packages whose version changes what a demo computes or draws.
PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "matplotlib", "scikit-learn")
# Top-level imports that mean "this demo runs JAX" (device is recorded, compile cache on).
JAX_PACKAGES = {"jax", "jaxlib", "flax", "optax"}


class DemoError(Exception):
    """Bad demo layout (duplicate names) or an unknown demo asked for on the command line."""


@dataclass(frozen=True)
class Demo:
    """One demo file: `id` is `<deck>/<name>`, `path` the script."""

    deck: str
    name: str
    path: Path

    @property
    def id(self) -> str:
        return f"{self.deck}/{self.name}"


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


@dataclass
class Imports:
    """What running a file loads: project files (transitively) and external modules."""

    modules: dict[str, Path]  # project files by path relative to the root, the demo excluded
    external: set[str]  # dotted names imported at module level from outside the project


class Scanner:
    """Follows imports with `ast`; one instance per run (files may change between runs)."""

    def __init__(self, root: Path, demos_dir: Path):
        self.root = root.resolve()
        self.demos_dir = demos_dir.resolve()
        self._parsed: dict[Path, tuple[list[Path], set[str]]] = {}

    def scan(self, path: Path) -> Imports:
        """Project files `path` imports, transitively, and module-level external imports."""
        start = path.resolve()
        modules: dict[str, Path] = {}
        external: set[str] = set()
        todo, done = [start], {start}
        while todo:
            deps, ext = self._parse(todo.pop())
            external |= ext
            for dep in deps:
                if dep not in done:
                    done.add(dep)
                    todo.append(dep)
                    modules[self._rel(dep)] = dep
        return Imports(dict(sorted(modules.items())), external)

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _parse(self, path: Path) -> tuple[list[Path], set[str]]:
        if path not in self._parsed:
            tree = ast.parse(path.read_bytes(), filename=str(path))
            top_level = set(_module_level_nodes(tree))
            package = self._package(path)
            deps: list[Path] = []
            external: set[str] = set()
            for node in ast.walk(tree):
                for name in _imported_names(node, package):
                    found = self._resolve(name, path)
                    if found:
                        deps.extend(f for f in found if f != path)
                    elif node in top_level and not name.startswith("."):
                        # Only module-level imports run when the demo is loaded;
                        # `import jax` inside a helper function does not count.
                        external.add(name)
            self._parsed[path] = (deps, external)
        return self._parsed[path]

    def _package(self, path: Path) -> str:
        """Dotted package of a file under the root (for relative imports)."""
        try:
            parts = path.parent.relative_to(self.root).parts
        except ValueError:
            return ""
        return ".".join(parts)

    def _resolve(self, name: str, importer: Path) -> list[Path]:
        """Files under the project that `import name` executes (packages' __init__ too)."""
        # Same search order as the worker: the demo's folder first, then the root.
        bases = [importer.parent] if importer.is_relative_to(self.demos_dir) else []
        for base in [*bases, self.root]:
            files = []
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                stem = base.joinpath(*parts[:i])
                if (stem / "__init__.py").is_file():
                    files.append(stem / "__init__.py")
                elif stem.with_suffix(".py").is_file():
                    files.append(stem.with_suffix(".py"))
                    break  # a module: the rest of the name is an attribute
                elif not stem.is_dir():  # (a folder without __init__ is a namespace package)
                    break
            files = [f for f in files if self._in_project(f)]
            if files:
                return files
        return []

    def _in_project(self, path: Path) -> bool:
        return path.is_relative_to(self.root / "handson") or path.is_relative_to(self.demos_dir)


def _module_level_nodes(tree: ast.Module):
    """Statements that run at import: everything outside function bodies."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def _imported_names(node: ast.AST, package: str) -> list[str]:
    """Dotted module names an import statement may load (`from a import b` may load a.b)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        parents = package.split(".") if package else []
        if node.level - 1 > len(parents):
            return []
        parents = parents[: len(parents) - (node.level - 1)]
        base = ".".join(p for p in [*parents, base] if p)
        if not base:
            return ["." + a.name for a in node.names]  # relative outside a package: unresolvable
    return [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]


# ---------------------------------------------------------------- fingerprint and staleness


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def installed_versions() -> dict[str, str | None]:
    """Versions of the packages in PACKAGES, read from metadata (nothing is imported)."""
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
            continue
        # A line scan of METADATA: metadata.version() runs the email parser (~4 ms each).
        header = (dist.read_text("METADATA") or "").partition("\n\n")[0]
        found = [line[9:].strip() for line in header.splitlines() if line.startswith("Version: ")]
        versions[name] = found[0] if found else dist.version
    return versions


def detect_backend() -> str:
    """The platform JAX will pick, guessed without importing it: JAX_PLATFORMS, else plugins."""
    platforms = os.environ.get("JAX_PLATFORMS", "").strip()
    if platforms:
        return platforms.split(",")[0].strip().lower()
    # jax's GPU support ships as separate distributions (jax-cuda12-plugin, jax-cuda12-pjrt);
    # scanning folder names is ~1 ms where importlib.metadata.distributions() takes ~40 ms.
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            low = name.lower().replace("-", "_")
            if low.startswith("jax_cuda"):
                return "cuda"
            if low.startswith("jax_rocm"):
                return "rocm"
    return "cpu"


def fingerprint(demo: Demo, imports: Imports, root: Path, style: Path,
                versions: dict[str, str | None], backend: str) -> dict:
    """Everything a demo's outputs depend on, as hashes (the manifest's `inputs`)."""
    return {
        "source": sha256_file(demo.path),
        "modules": {rel: sha256_file(path) for rel, path in imports.modules.items()},
        "style": sha256_file(style) if style.is_file() else None,
        "versions": dict(versions),
        "backend": backend,
    }


def key(inputs: dict) -> str:
    """One hash over all inputs."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def stale_reason(entry: dict | None, inputs: dict, out_dir: Path, *,
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
    if entry.get("key") != key(inputs):
        return "inputs changed"
    missing = [rel for rel in [*entry.get("outputs", {}), "result.json"] if not (out_dir / rel).is_file()]
    if missing:
        return "output missing: " + ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
    return None


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
    return changes


# ---------------------------------------------------------------- facts read from the source


def _constant(tree: ast.Module, name: str):
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == name):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


def time_limit(path: Path, default: float) -> float:
    """The demo's `TIME_LIMIT = <seconds>` constant if it has one, else `default`."""
    value = _constant(ast.parse(path.read_bytes()), "TIME_LIMIT")
    return float(value) if isinstance(value, (int, float)) and value > 0 else default


def caption(path: Path) -> str:
    """First line of the module docstring (the figure caption)."""
    doc = ast.get_docstring(ast.parse(path.read_bytes())) or ""
    return doc.strip().splitlines()[0].strip() if doc.strip() else ""


# ---------------------------------------------------------------- the manifest


def load_manifest(path: Path) -> dict:
    """The manifest, or an empty one if missing or unreadable (everything then reruns)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    return {"demos": dict(data.get("demos") or {}), "failed": dict(data.get("failed") or {})}


def dumps(data: dict) -> str:
    """The one JSON layout of result.json and the manifest: stable bytes for stable data."""
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


def write_atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
