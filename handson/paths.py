"""Where things live. Every path is derived from this file, never from the cwd."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMOS = ROOT / "demos"
SLIDES = ROOT / "slides"
# Demo outputs live inside the docs dir so mkdocs copies them and `serve` reloads.
GENERATED = SLIDES / "_generated"
MANIFEST = GENERATED / "manifest.json"
# Scratch space: in-progress demo outputs, JAX's persistent compile cache.
BUILD = ROOT / "build"
STYLE = DEMOS / "style.mplstyle"
