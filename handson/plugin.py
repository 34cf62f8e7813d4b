"""MkDocs adapter: remark-style decks and talks → reader pages, plus a reveal.js slideshow beside each.

All the work is in plain functions (`handson.syntax`, `handson.slideshow`); this file only
wires them to MkDocs events, so a move to another tool changes this file alone.
"""

import fnmatch
import json
import logging
import posixpath
from pathlib import Path

from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, InclusionLevel

from handson import provenance, slideshow, syntax, vendor
from handson.syntax import talk as talks

log = logging.getLogger("mkdocs.plugins.handson")
TALKS_MARKER = "<!-- handson:talks -->"  # on the home page: replaced by the table of talks


class HandsonConfig(base.Config):
    decks = c.Type(str, default="[0-9][0-9]_*.md")  # which pages are decks (glob on the docs path)
    talks = c.Type(str, default="talks/*.md")  # which pages are talks
    manifest = c.Type(str, default="_generated/manifest.json")  # demo results, relative to docs_dir
    node_modules = c.Type(str, default="node_modules")  # relative to mkdocs.yml


class HandsonPlugin(BasePlugin[HandsonConfig]):
    def on_config(self, config):
        self.root = Path(config.config_file_path).parent
        self.node_modules = self.root / self.config.node_modules
        for _, spec, _ in vendor.ASSETS:
            file = vendor.source(spec, self.node_modules)
            if file is not None and not file.is_file():
                raise PluginError(f"missing {file}: run `npm ci` (`make site` does it)")
        # Snippets resolve against the project root whatever the cwd is.
        config.mdx_configs.setdefault("pymdownx.snippets", {})["base_path"] = [str(self.root)]
        config.extra_css[:0] = vendor.stylesheets("reader")
        config.extra_javascript += vendor.scripts("reader")
        self.results, self.captions = _load_manifest(Path(config.docs_dir) / self.config.manifest, self.root)
        self.demos = provenance.load(Path(config.docs_dir) / self.config.manifest)
        return config

    def on_files(self, files, config):
        for dest, spec, _ in vendor.ASSETS:
            file = vendor.source(spec, self.node_modules)
            content = {"content": _pygments_css()} if file is None else {"abs_src_path": str(file)}
            files.append(File.generated(config, dest, **content))
        fonts, dest = vendor.KATEX_FONTS
        for font in sorted(vendor.source(fonts, self.node_modules).glob("*.woff2")):
            files.append(File.generated(config, f"{dest}/{font.name}", abs_src_path=str(font)))
        for uri, text in provenance.pages(self.demos, {f.src_uri for f in files}).items():  # demos page + sources
            files.append(File.generated(config, uri, content=text, inclusion=InclusionLevel.NOT_IN_NAV))
        self._parse_all(files, config)
        return files

    def _parse_all(self, files, config) -> None:
        """Parse and check every deck and talk first: one run lists every problem, and the home
        page can show each talk's length."""
        self.decks, self.talks, errors, broken = {}, {}, [], set()
        pages = files.documentation_pages()
        for file in pages:
            if fnmatch.fnmatch(file.src_uri, self.config.decks):
                try:
                    self.decks[file.src_uri] = syntax.parse(syntax.read(file.abs_src_path), file.abs_src_path)
                except syntax.DeckError as e:
                    errors.append(e)
                    broken.add(file.src_uri)

        def load(deck_id: str):
            if f"{deck_id}.md" in broken:
                raise _BrokenDeck  # its own error is reported already
            return self.decks.get(f"{deck_id}.md")

        for file in pages:
            if fnmatch.fnmatch(file.src_uri, self.config.talks):
                try:
                    own = syntax.parse(syntax.read(file.abs_src_path), file.abs_src_path, talk=True)
                    self.talks[file.src_uri] = (own, talks.resolve(own, load))
                except syntax.DeckError as e:
                    errors.append(e)
                except _BrokenDeck:
                    pass
        base_dirs = [self.root]
        for deck in self.decks.values():
            errors += syntax.check(deck.slides, base_dirs, self.results)
        for own, _ in self.talks.values():
            errors += syntax.check([s for s in own.slides if not s.parts[0].includes], base_dirs, self.results)
        for deck in [*self.decks.values(), *(own for own, _ in self.talks.values())]:
            for warning in deck.warnings:
                log.warning(self._where(warning))
        if errors:
            raise PluginError("\n".join(self._where(e) for e in errors))

    def on_page_markdown(self, markdown, page, config, files):
        src = page.file.src_uri
        links = syntax.Links(config.docs_dir, posixpath.dirname(src), posixpath.dirname(page.file.dest_uri))
        try:
            if src in self.decks:
                return syntax.render(self.decks[src], self.results, self.captions, links)
            if src in self.talks:
                talk = self.talks[src][1]
                links.ids, links.anchors, links.talk, links.page_file = talk.ids, talk.anchors, True, talk.path
                rendered = syntax.render(talk.slides, self.results, self.captions, links)
                return rendered + "".join(syntax.render_definitions(d.definitions, d.path, links) for d in talk.decks)
        except syntax.DeckError as e:
            raise PluginError(self._where(e)) from None
        if TALKS_MARKER in markdown:
            return markdown.replace(TALKS_MARKER, self._talk_table(src))
        return markdown

    def on_page_content(self, html, page, config, files):
        src = page.file.src_uri
        if src not in self.decks and src not in self.talks:
            return html
        slides = self.decks[src].slides if src in self.decks else self.talks[src][1].slides
        slides_uri = _slides_uri(page.file.dest_uri)
        page_dir = posixpath.dirname(page.file.dest_uri)
        href = posixpath.relpath(slides_uri, page_dir or ".")
        html = provenance.annotate(html, self.demos, _relative("", page_dir), config.use_directory_urls)
        reader_href = posixpath.relpath(page.file.dest_uri, posixpath.dirname(slides_uri) or ".")
        reader_href = "./" if reader_href == "index.html" else reader_href
        show = slideshow.build_slideshow(html, title=syntax.slide_title(slides, page.title or ""),
                                         root=_relative("", page_dir), reader_href=reader_href)
        files.append(File.generated(config, slides_uri, content=show, inclusion=InclusionLevel.INCLUDED))
        # Images load as the reader scrolls to them: a deck holds dozens of figures.
        html = html.replace("<img ", '<img loading="lazy" ')
        link = (f'<p class="present"><a class="md-button md-button--primary" href="{href}">Present ▶</a> '
                f'<a class="md-button" href="{href}?aspect=4:3">4:3</a></p>\n')
        return link + html

    def _talk_table(self, src: str) -> str:
        """The home page's list of talks: slides, steps and an estimated duration each."""
        rows = ["| Talk | Slides | Steps | About |", "|---|---:|---:|---:|"]
        for uri, (_, talk) in sorted(self.talks.items()):
            title = syntax.slide_title(talk.slides, Path(uri).stem).replace("|", "\\|")
            link = posixpath.relpath(uri, posixpath.dirname(src) or ".")
            rows.append(f"| [{title}]({link}) | {len(talk.slides)} | {talk.steps} | {talk.minutes} min |")
        return "\n".join(rows) + "\n"

    def _where(self, error: syntax.DeckError) -> str:
        """`slides/deck.md:12: reason`, the path relative to the project."""
        path = Path(error.path)
        shown = path.relative_to(self.root).as_posix() if path.is_absolute() and path.is_relative_to(self.root) else error.path
        return f"{shown}:{error.line}: {error.reason}"


class _BrokenDeck(Exception):
    """A talk draws from a deck that failed to parse."""


def _relative(target_dir: str, from_dir: str) -> str:
    rel = posixpath.relpath(target_dir or ".", from_dir or ".")
    return "" if rel == "." else rel + "/"


def _slides_uri(dest_uri: str) -> str:
    if posixpath.basename(dest_uri) == "index.html":
        return posixpath.join(posixpath.dirname(dest_uri), "slides.html")
    return dest_uri[: -len(".html")] + ".slides.html"


def _load_manifest(path: Path, root: Path) -> tuple[dict, dict]:
    if not path.is_file():
        return {}, {}
    try:
        demos = json.loads(path.read_text(encoding="utf-8")).get("demos", {})
    except (ValueError, AttributeError) as e:
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        raise PluginError(f"{shown}: not valid JSON ({e}); run `make figures` to rebuild it") from None
    results = {demo_id.split("/")[-1]: entry.get("results", {}) for demo_id, entry in demos.items()}
    captions = {demo_id: entry.get("caption", "") for demo_id, entry in demos.items()}
    return results, captions


def _pygments_css() -> str:
    from pygments.formatters import HtmlFormatter

    # The slideshow has no Material theme: give Pygments' classes a light style.
    return HtmlFormatter(style="default").get_style_defs(".reveal .highlight") + "\n"
