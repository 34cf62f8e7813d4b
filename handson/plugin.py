"""MkDocs adapter: remark-style decks → reader pages, plus a reveal.js slideshow beside each.

All the work is in plain functions (`handson.syntax`, `handson.slideshow`); this file only
wires them to MkDocs events, so a move to another tool changes this file alone.
"""

import fnmatch
import json
import posixpath
from pathlib import Path

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, InclusionLevel

from handson import provenance, slideshow, syntax

HERE = Path(__file__).parent
# (package file under node_modules, destination under the site root)
VENDOR = [
    ("reveal.js/dist/reveal.css", "assets/vendor/reveal/reveal.css"),
    ("reveal.js/dist/reveal.js", "assets/vendor/reveal/reveal.js"),
    ("reveal.js/dist/plugin/notes.js", "assets/vendor/reveal/notes.js"),
    ("reveal.js/LICENSE", "assets/vendor/reveal/LICENSE"),
    ("katex/dist/katex.min.css", "assets/vendor/katex/katex.min.css"),
    ("katex/dist/katex.min.js", "assets/vendor/katex/katex.min.js"),
    ("katex/dist/contrib/auto-render.min.js", "assets/vendor/katex/auto-render.min.js"),
    ("katex/LICENSE", "assets/vendor/katex/LICENSE"),
]
READER_CSS = ["assets/vendor/katex/katex.min.css", "assets/handson/slides.css", "assets/handson/reader.css"]
READER_JS = ["assets/vendor/katex/katex.min.js", "assets/vendor/katex/auto-render.min.js",
             "assets/handson/reader.js"]


class HandsonConfig(base.Config):
    decks = c.Type(str, default="[0-9][0-9]_*.md")  # which pages are decks (glob on the docs path)
    manifest = c.Type(str, default="_generated/manifest.json")  # demo results, relative to docs_dir
    node_modules = c.Type(str, default="node_modules")  # relative to mkdocs.yml


class HandsonPlugin(BasePlugin[HandsonConfig]):
    def on_config(self, config):
        root = Path(config.config_file_path).parent
        self.node_modules = root / self.config.node_modules
        missing = [src for src, _ in VENDOR if not (self.node_modules / src).is_file()]
        if missing:
            raise PluginError(f"missing {self.node_modules / missing[0]}: run `npm ci` (`make site` does it)")
        # Snippets resolve against the project root whatever the cwd is.
        snippets = config.mdx_configs.setdefault("pymdownx.snippets", {})
        snippets["base_path"] = [str(root)]
        self.snippet_dirs = [root]
        config.extra_css[:0] = READER_CSS
        for script in READER_JS:
            config.extra_javascript.append(script)
        self.results, self.captions = _load_manifest(Path(config.docs_dir) / self.config.manifest)
        self.demos = provenance.load(Path(config.docs_dir) / self.config.manifest)
        self.decks = {}
        return config

    def on_files(self, files, config):
        for src, dest in VENDOR:
            files.append(File.generated(config, dest, abs_src_path=str(self.node_modules / src)))
        for font in sorted((self.node_modules / "katex/dist/fonts").glob("*.woff2")):
            files.append(File.generated(config, f"assets/vendor/katex/fonts/{font.name}", abs_src_path=str(font)))
        for asset in sorted((HERE / "assets").iterdir()):
            files.append(File.generated(config, f"assets/handson/{asset.name}", abs_src_path=str(asset)))
        files.append(File.generated(config, "assets/handson/pygments.css", content=_pygments_css()))
        for uri, text in provenance.pages(self.demos, {f.src_uri for f in files}).items():  # demos page + sources
            files.append(File.generated(config, uri, content=text, inclusion=InclusionLevel.NOT_IN_NAV))
        return files

    def on_page_markdown(self, markdown, page, config, files):
        if not fnmatch.fnmatch(page.file.src_uri, self.config.decks):
            return markdown
        # Parse the file itself: MkDocs strips leading `key: value` lines as page metadata,
        # but in a remark deck they are the first slide's properties.
        source = page.file.content_string
        path = posixpath.join(Path(config.docs_dir).name, page.file.src_uri)
        try:
            deck = syntax.parse(source, path)
            deck.path = str(Path(page.file.abs_src_path))
            syntax.check_references(deck, Path(config.docs_dir), self.snippet_dirs)
            base_url = _relative(posixpath.dirname(page.file.src_uri), posixpath.dirname(page.file.dest_uri))
            rendered = syntax.render(deck, self.results, self.captions, base=base_url)
        except syntax.DeckError as e:
            raise PluginError(f"{path}:{e.line}: {e.reason}") from None
        self.decks[page.file.src_uri] = deck
        return rendered

    def on_page_content(self, html, page, config, files):
        deck = self.decks.get(page.file.src_uri)
        if deck is None:
            return html
        slides_uri = _slides_uri(page.file.dest_uri)
        href = posixpath.relpath(slides_uri, posixpath.dirname(page.file.dest_uri) or ".")
        page_dir = posixpath.dirname(page.file.dest_uri)
        root = _relative("", page_dir)
        html = provenance.annotate(html, self.demos, root, config.use_directory_urls)
        reader_href = posixpath.relpath(page.file.dest_uri, posixpath.dirname(slides_uri) or ".")
        reader_href = "./" if reader_href.endswith("index.html") and "/" not in reader_href else reader_href
        show = slideshow.build_slideshow(html, title=syntax.slide_title(deck), root=root, reader_href=reader_href)
        target = Path(config.site_dir) / slides_uri
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(show, encoding="utf-8")
        # Images load as the reader scrolls to them: a deck holds dozens of figures.
        html = html.replace("<img ", '<img loading="lazy" ')
        link = (f'<p class="present"><a class="md-button md-button--primary" href="{href}">Present ▶</a> '
                f'<a class="md-button" href="{href}?aspect=4:3">4:3</a></p>\n')
        return link + html


def _relative(target_dir: str, from_dir: str) -> str:
    rel = posixpath.relpath(target_dir or ".", from_dir or ".")
    return "" if rel == "." else rel + "/"


def _slides_uri(dest_uri: str) -> str:
    if posixpath.basename(dest_uri) == "index.html":
        return posixpath.join(posixpath.dirname(dest_uri), "slides.html")
    return dest_uri[: -len(".html")] + ".slides.html"


def _load_manifest(path: Path) -> tuple[dict, dict]:
    if not path.is_file():
        return {}, {}
    demos = json.loads(path.read_text(encoding="utf-8")).get("demos", {})
    results = {demo_id.split("/")[-1]: entry.get("results", {}) for demo_id, entry in demos.items()}
    captions = {demo_id: entry.get("caption", "") for demo_id, entry in demos.items()}
    return results, captions


def _pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    # The slideshow has no Material theme: give Pygments' classes a light style.
    return HtmlFormatter(style="default").get_style_defs(".reveal .highlight") + "\n"
