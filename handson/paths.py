"""Where things live. Every path is derived from one `Layout`, never from the cwd."""

from pathlib import Path


class Layout:
    """A project's folders and files, all derived from its root (tests build one in a temp dir)."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.package = self.root / "handson"  # the build code; workers import it from here
        self.demos = self.root / "demos"
        self.slides = self.root / "slides"
        # Demo outputs live inside the docs dir so mkdocs copies them and `serve` reloads.
        self.generated = self.slides / "_generated"
        self.manifest = self.generated / "manifest.json"
        self.style = self.demos / "style.mplstyle"
        # Scratch space: in-progress demo outputs, logs, JAX's compile cache, the run lock.
        self.build = self.root / "build"
        self.scratch = self.build / "tmp"
        self.logs = self.build / "logs"
        self.jax_cache = self.build / "jax_cache"
        self.lock = self.build / "figures.lock"
        self.stat_cache = self.build / "stat-cache.json"

    def rel(self, path: Path) -> str:
        """`path` relative to the root when it is inside (for messages), else as given."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def __repr__(self) -> str:
        return f"Layout({str(self.root)!r})"


PROJECT = Layout(Path(__file__).parent.parent)
ROOT = PROJECT.root
DEMOS = PROJECT.demos
SLIDES = PROJECT.slides
GENERATED = PROJECT.generated
MANIFEST = PROJECT.manifest
BUILD = PROJECT.build
STYLE = PROJECT.style
