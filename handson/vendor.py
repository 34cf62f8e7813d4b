"""The one table of runtime files the site ships: where each comes from and which view loads it.

The plugin copies them (from `node_modules`, `npm ci` on the pinned lockfile, or from
`handson/assets`); the reader page and the slideshow link them in table order.
"""

from pathlib import Path

OWN = Path(__file__).parent / "assets"
# (path under the site root, source, views that load it). Sources: "npm:<path in node_modules>",
# "own:<file in handson/assets>", or "pygments" (the code colours, written at build time).
ASSETS = [
    ("assets/vendor/reveal/reveal.css", "npm:reveal.js/dist/reveal.css", {"slides"}),
    ("assets/vendor/reveal/reveal.js", "npm:reveal.js/dist/reveal.js", {"slides"}),
    ("assets/vendor/reveal/notes.js", "npm:reveal.js/dist/plugin/notes.js", {"slides"}),
    ("assets/vendor/reveal/LICENSE", "npm:reveal.js/LICENSE", set()),
    ("assets/vendor/katex/katex.min.css", "npm:katex/dist/katex.min.css", {"reader", "slides"}),
    ("assets/vendor/katex/katex.min.js", "npm:katex/dist/katex.min.js", {"reader", "slides"}),
    ("assets/vendor/katex/auto-render.min.js", "npm:katex/dist/contrib/auto-render.min.js", {"reader", "slides"}),
    ("assets/vendor/katex/LICENSE", "npm:katex/LICENSE", set()),
    ("assets/handson/pygments.css", "pygments", {"slides"}),
    ("assets/handson/slides.css", "own:slides.css", {"reader", "slides"}),
    ("assets/handson/reader.css", "own:reader.css", {"reader"}),
    ("assets/handson/slideshow.css", "own:slideshow.css", {"slides"}),
    ("assets/handson/reader.js", "own:reader.js", {"reader"}),
    ("assets/handson/slideshow.js", "own:slideshow.js", {"slides"}),
    # Only pages served by `make present` load these (handson/present.py adds them).
    ("assets/handson/live.css", "own:live.css", {"live"}),
    ("assets/handson/live.js", "own:live.js", {"live"}),
]
# KaTeX's fonts, referenced by its stylesheet: every .woff2 in this folder, copied beside it.
KATEX_FONTS = ("npm:katex/dist/fonts", "assets/vendor/katex/fonts")


def stylesheets(view: str) -> list[str]:
    """Site paths of the stylesheets `view` ("reader", "slides" or "live") links, in order."""
    return [dest for dest, _, views in ASSETS if view in views and dest.endswith(".css")]


def scripts(view: str) -> list[str]:
    return [dest for dest, _, views in ASSETS if view in views and dest.endswith(".js")]


def source(spec: str, node_modules: Path) -> Path | None:
    """The file behind an "npm:" or "own:" source (None for generated ones)."""
    kind, _, rest = spec.partition(":")
    return {"npm": node_modules / rest, "own": OWN / rest}.get(kind) if rest else None
