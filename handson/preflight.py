"""Preflight: every slide of every deck and talk fits the canvas and reads from the back of a hall.

`python -m handson preflight` (`make preflight`, part of `make test`) opens each built
`slides.html` in headless Chromium at 16:9 (1280x720) and 4:3 (960x720), steps through every
slide and fragment, and prints one line per problem:

    [4:3] 02_neural_networks slide 7 (nonlinear): code block wider than its box, by 123 px

The measuring happens in the page (`preflight.js`, one call per deck); figure text sizes come
from the SVG files themselves (`handson.svgtext`). A problem may be let through only by an
entry with a written reason in `preflight-allow.yml`.
"""

import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import yaml

from handson import browser, svgtext
from handson.paths import ROOT, STYLE

# (label, viewport and canvas size, query string) of each screen shape checked.
ASPECTS = {"16:9": ((1280, 720), ""), "4:3": ((960, 720), "?aspect=4:3")}
MIN_TEXT_PX = 16  # smallest text in a figure or code block, in canvas px
ALLOWLIST = ROOT / "preflight-allow.yml"  # per-slide exceptions, each with a reason
MEASURE_JS = Path(__file__).with_name("preflight.js")
# Style keys whose sizes set the smallest text a raster figure can hold (points).
FONT_KEYS = ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize", "ytick.labelsize",
             "legend.fontsize")


@dataclass(frozen=True)
class Problem:
    """One thing wrong on one slide (or with a whole deck when slide is 0)."""

    aspect: str
    deck: str
    slide: int
    name: str
    what: str
    px: float

    def __str__(self) -> str:
        where = f"{self.deck} slide {self.slide} ({self.name})" if self.slide else self.deck
        size = f", by {self.px:.1f}".removesuffix(".0") + " px" if self.px > 0 else ""
        return f"[{self.aspect}] {where}: {self.what}{size}"


def decks(site: Path) -> list[str]:
    """Every deck and talk in the built site: the folders holding a slides.html."""
    return sorted(str(p.parent.relative_to(site)) for p in site.rglob("slides.html") if p.parent != site)


def raster_text_px(style: Path = STYLE) -> float:
    """Smallest text, in image px, of a raster made with the course style at its dpi."""
    values = dict(re.findall(r"^([\w.]+)\s*:\s*([\d.]+)\s*(?:#.*)?$", style.read_text(), re.M)) if style.is_file() else {}
    points = min((float(values[k]) for k in FONT_KEYS if k in values), default=10.0)
    return points * float(values.get("figure.dpi", 100)) / 72


def check(site: Path, only: list[str] | None = None, aspects: list[str] | None = None) -> list[Problem]:
    """Step through every deck of `site` at each aspect; return the problems found (deduplicated)."""
    from playwright.sync_api import sync_playwright

    names = [d for d in decks(site) if not only or d in only]
    missing = sorted(set(only or []) - set(names))
    if missing:
        raise SystemExit(f"no such deck in {site}: {', '.join(missing)}")
    found: dict[tuple, Problem] = {}
    with browser.serve(site, browser.PAGES_PREFIX) as base, sync_playwright() as p:
        chromium = browser.launch(p)
        for aspect in aspects or list(ASPECTS):
            (width, height), query = ASPECTS[aspect]
            context = chromium.new_context(viewport={"width": width, "height": height})
            errors: list[str] = []
            browser.watch(context, errors)
            page = context.new_page()
            for deck in names:
                del errors[:]
                for problem in _check_deck(page, site, base, deck, query, aspect):
                    key = (problem.aspect, problem.deck, problem.slide, _kind(problem.what))
                    if key not in found or found[key].px < problem.px:
                        found[key] = problem
                for error in dict.fromkeys(errors):
                    found[(aspect, deck, 0, error)] = Problem(aspect, deck, 0, "", error, 0)
            context.close()
        chromium.close()
    return list(found.values())


def _kind(what: str) -> str:
    """What makes two problems of a slide the same: one line per side, control or overlap, the worst."""
    for marker in (" beyond the canvas ", " under the "):
        if marker in what:
            return marker + what.split(marker, 1)[1]
    return "footnote overlaps" if what.startswith("footnote overlaps") else what


def _check_deck(page, site: Path, base: str, deck: str, query: str, aspect: str) -> list[Problem]:
    page.goto(f"{base}{deck}/slides.html{query}")
    page.wait_for_function("window.Reveal && Reveal.isReady() && document.documentElement.dataset.mathRendered")
    # Measure the end state of every step at once: no transition or animation in between.
    page.add_style_tag(content="*, *::before, *::after { transition: none !important; animation: none !important; }")
    sources = page.evaluate("[...document.querySelectorAll('.reveal img')].map(i => i.dataset.src || i.src)")
    svg = {}
    for src in sources:
        url = urlsplit(urljoin(page.url, src))
        if url.path.lower().endswith(".svg"):
            path = site / unquote(url.path[len(urlsplit(base).path):])
            if path.is_file():
                svg[url.path] = svgtext.smallest_text(path).__dict__
    steps = page.evaluate(MEASURE_JS.read_text(encoding="utf-8"),
                          {"svg": svg, "rasterTextPx": raster_text_px(), "minTextPx": MIN_TEXT_PX})
    return [Problem(aspect, deck, step["slide"], step["name"], p["what"], round(p["px"], 1))
            for step in steps for p in step["problems"]]


def load_allowlist(path: Path = ALLOWLIST) -> list[dict]:
    """The allowed problems: [{slide: "deck#name" or "deck#N", what: substring, reason, aspect?}]."""
    if not path.is_file():
        return []
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not str(entry.get("reason", "")).strip() or "slide" not in entry:
            raise SystemExit(f"{path}: entry {i}: needs `slide: deck#name`, `what:` and a written `reason:`")
    return entries


def allowed(problem: Problem, entries: list[dict]) -> bool:
    """Whether an allowlist entry covers `problem`."""
    for entry in entries:
        deck, _, slide = str(entry["slide"]).partition("#")
        if (deck == problem.deck and slide in (problem.name, str(problem.slide))
                and str(entry.get("what", "")) in problem.what
                and entry.get("aspect", problem.aspect) == problem.aspect):
            return True
    return False


def main(site: Path, only: list[str] | None = None, aspects: list[str] | None = None,
         json_out: Path | None = None, allowlist: Path = ALLOWLIST) -> int:
    """Run the preflight, print the problems (or "ok"), return the exit status."""
    if not (site / "index.html").is_file():
        print(f"{site} is not built: run `make site`", file=sys.stderr)
        return 2
    started = time.perf_counter()
    entries = load_allowlist(allowlist)
    problems = check(site, only, aspects)
    problems.sort(key=lambda p: (p.deck, list(ASPECTS).index(p.aspect), p.slide, p.what))
    failing = [p for p in problems if not allowed(p, entries)]
    for entry in entries:
        if not any(allowed(p, [entry]) for p in problems) and (not only or str(entry["slide"]).split("#")[0] in only):
            print(f"note: {allowlist.name}: {entry['slide']} ({entry.get('what', '')}) allows nothing now: remove it?")
    for problem in failing:
        print(problem)
    if json_out:
        json_out.write_text(json.dumps([p.__dict__ | {"message": str(p)} for p in failing], indent=1))
    names = decks(site) if not only else only
    seconds = time.perf_counter() - started
    verdict = f"{len(failing)} problem(s)" if failing else "every slide fits and reads"
    print(f"preflight: {len(names)} deck(s) x {len(aspects or ASPECTS)} aspect(s), {verdict} "
          f"({len(problems) - len(failing)} allowed) in {seconds:.1f} s")
    return 1 if failing else 0
