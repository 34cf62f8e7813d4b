"""Provenance: which demo made a figure, where, when and with what, shown beside the figure.

Plain functions of the manifest (`slides/_generated/manifest.json`) and of rendered HTML:
- `load(manifest)`: one record per demo (caption, device, date, run time, versions, outputs);
- `annotate(html, demos, root)`: every demo figure of a deck page gets a hover title (both
  views), and each slide a small line naming its demos with a link to their source page
  (reader view; the slideshow hides it);
- `pages(demos, docs_files)`: the Markdown of the demos page (`demos/index.md`, every demo
  with its run time, device, outputs and sizes, sortable) and one source page per demo.
The date is the manifest's `date` when it records one, else when the demo's results were
written (`result.json`'s modification time, which the runner sets when the demo ran).
"""

import datetime
import html
import json
import re
from pathlib import Path

from bs4 import BeautifulSoup

from handson.paths import ROOT

# The libraries named beside a figure (the demo pages list them all).
SHOWN_VERSIONS = ("jax", "flax", "optax")
GENERATED = re.compile(r"(?:^|/)_generated/([^/]+)/([^/]+)/")  # image path -> (deck, demo)


def load(manifest: Path) -> dict[str, dict]:
    """demo id ("02_neural_networks/activations") -> its provenance record; {} without a manifest."""
    if not manifest.is_file():
        return {}
    entries = json.loads(manifest.read_text(encoding="utf-8")).get("demos", {})
    demos = {}
    for demo_id, entry in sorted(entries.items()):
        folder = manifest.parent / demo_id
        deck, name = demo_id.split("/", 1)
        demos[demo_id] = {
            "id": demo_id, "deck": deck, "name": name, "caption": entry.get("caption", ""),
            "device": entry.get("device", "?"), "duration_s": float(entry.get("duration_s", 0.0)),
            "date": entry.get("date") or _written(folder / "result.json"),
            "versions": entry.get("versions", {}),
            "outputs": {out: _size(folder / out) for out in sorted(entry.get("outputs", {}))},
            "source": f"demos/{demo_id}.py",
        }
    return demos


def _written(path: Path) -> str:
    if not path.is_file():
        return "?"
    return datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc).strftime("%Y-%m-%d")


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def summary(demo: dict, versions: tuple[str, ...] | None = None) -> str:
    """One line: 'demo activations on cpu, 2026-11-28, 0.5 s; jax 0.10.2, flax 0.12.8, ...'."""
    names = versions if versions is not None else tuple(demo["versions"])
    libs = ", ".join(f"{k} {demo['versions'][k]}" for k in names if k in demo["versions"])
    return f"demo {demo['name']} on {demo['device']}, {demo['date']}, {demo['duration_s']:.1f} s; {libs}"


def page_uri(name: str, directory_urls: bool = True) -> str:
    """Site-relative URL of a demo's source page."""
    return f"demos/{name}/" if directory_urls else f"demos/{name}.html"


def annotate(content: str, demos: dict[str, dict], root: str, directory_urls: bool = True) -> str:
    """Mark every demo figure in a deck page's HTML with its provenance; `root` leads to the site root."""
    if not demos or "_generated/" not in content:
        return content
    soup = BeautifulSoup(content, "html.parser")
    for section in soup.find_all("section", class_="slide"):
        shown = []
        for img in section.find_all("img", src=True):
            match = GENERATED.search(img["src"])
            demo = demos.get("/".join(match.groups())) if match else None
            if demo is None:
                continue
            img["title"] = f"Made by {summary(demo)}"
            img["data-demo"] = demo["name"]
            if demo not in shown:
                shown.append(demo)
        if shown:
            line = soup.new_tag("p", attrs={"class": "provenance"})
            for i, demo in enumerate(shown):
                line.append("; " if i else "Made by ")
                link = soup.new_tag("a", href=root + page_uri(demo["name"], directory_urls), title=demo["source"])
                link.string = demo["name"]
                line.append(link)
                line.append(" " + summary(demo, SHOWN_VERSIONS).removeprefix(f"demo {demo['name']} "))
            notes = section.find("aside", class_="notes", recursive=False)
            if notes is not None:
                notes.insert_before(line)
            else:
                section.append(line)
    return str(soup)


def pages(demos: dict[str, dict], docs_files: set[str], root: Path = ROOT) -> dict[str, str]:
    """src_uri -> Markdown: the demos page and one page per demo with its source."""
    out = {"demos/index.md": _index(demos, docs_files)}
    for demo in demos.values():
        out[f"demos/{demo['name']}.md"] = _source_page(demo, docs_files, root)
    return out


def _deck_link(demo: dict, docs_files: set[str], up: str) -> str:
    deck = f"{demo['deck']}.md"
    return f"[{demo['deck']}]({up}{deck})" if deck in docs_files else demo["deck"]


def _index(demos: dict[str, dict], docs_files: set[str]) -> str:
    rows = []
    for demo in sorted(demos.values(), key=lambda d: -d["duration_s"]):
        outputs = ", ".join(f"{html.escape(o)} ({_human(s)})" for o, s in demo["outputs"].items())
        total = sum(demo["outputs"].values())
        rows.append(
            f'<tr><td><a href="{demo["name"]}/">{html.escape(demo["name"])}</a></td>'
            f'<td>{html.escape(demo["deck"])}</td>'
            f'<td data-sort="{demo["duration_s"]:.3f}">{demo["duration_s"]:.1f}</td>'
            f'<td>{html.escape(demo["device"])}</td><td>{demo["date"]}</td>'
            f'<td data-sort="{total}">{_human(total)}</td><td>{outputs}</td></tr>')
    seconds = sum(d["duration_s"] for d in demos.values())
    versions = sorted({f"{k} {v}" for d in demos.values() for k, v in d["versions"].items()})
    return (
        "# Demos\n\n"
        f"Every figure, table and number in the decks comes from one of these {len(demos)} demos "
        f"(`make figures` runs the stale ones; {seconds:.0f} s in all when every one runs). "
        f"Click a column heading to sort. Libraries: {', '.join(versions)}.\n\n"
        '<table class="sortable demos">\n<thead><tr><th>Demo</th><th>Deck</th><th data-sort="number" aria-sort="descending">Run time (s)</th>'
        '<th>Device</th><th>Date</th><th data-sort="number">Size</th><th>Outputs</th></tr></thead>\n<tbody>\n'
        + "\n".join(rows) + "\n</tbody>\n</table>\n")


def _source_page(demo: dict, docs_files: set[str], root: Path) -> str:
    path = root / demo["source"]
    source = path.read_text(encoding="utf-8") if path.is_file() else f"# {demo['source']} is missing\n"
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`{3,}", source)), default=0))
    outputs = "\n".join(f"- [{o}](../_generated/{demo['id']}/{o}) ({_human(s)})" for o, s in demo["outputs"].items())
    versions = ", ".join(f"{k} {v}" for k, v in demo["versions"].items())
    return (
        f"# {demo['name']}\n\n{_escape_md(demo['caption'])}\n\n"
        f"- Deck: {_deck_link(demo, docs_files, '../')}\n- Source: `{demo['source']}`\n"
        f"- Ran on {demo['device']}, {demo['date']}, in {demo['duration_s']:.1f} s\n- Libraries: {versions}\n\n"
        f"## Outputs\n\n{outputs}\n\n## Source\n\n{fence}python\n{source.rstrip()}\n{fence}\n")


def _escape_md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


def _human(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"
