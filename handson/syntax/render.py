"""Render parsed slides as Markdown (with md_in_html wrappers) for the reader page.

Each slide becomes `<section class="slide">`, each step a `<div class="fragment">`, notes an
`<aside class="notes">`, a `.name[...]` a div or span; `handson.slideshow` cuts the rendered
page into reveal.js sections. Math is handed to KaTeX as MathJax would find it (`$ x $`
included), demo results are substituted (escaped), and every URL written relative to a
slide's own file still resolves when the slide is shown on another page (a talk).
"""

import html
import re
from pathlib import Path

from handson.syntax.links import Links
from handson.syntax.model import Block, Code, Deck, DeckError, Part, Slide, StepMark, Text
from handson.syntax.scan import (CSS_URL, IMAGE, LINK_TAGS, RESOURCE_ATTRIBUTES, RESULT, demos_used, html_tags,
                                 lookup, math_split, walk)

PROPERTY_VARIABLE = re.compile(r"(\\)?\{\{([^}.\n]+)\}\}")  # remark's `{{ name }}`: a slide property
# A link whose text may hold one level of brackets: `[[4]](#references)`, `[![](img)](url)`.
LINK = re.compile(r"(?<!!)\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
DEFINITION = re.compile(r"^( {0,3}\[[^\]]+\]:[ \t]*)<?([^\s>]+)>?", re.M)
HEADING_INDENT = re.compile(r"^[ \t]{1,3}(?=#{1,6}(?:[ \t]|$))", re.M)
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})[ \t]*(\S*)[ \t]*$")
# Characters a demo's string result could use to inject HTML or Markdown into the page.
UNSAFE = re.compile(r"[&<>\"'\\`*_\[\]{}|$~^]")


def render(slides: Deck | list[Slide], results: dict | None = None, captions: dict[str, str] | None = None,
           links: Links | None = None) -> str:
    """Markdown for the reader page: one `<section class="slide">` per slide."""
    references = slides.references if isinstance(slides, Deck) else []
    slides = slides.slides if isinstance(slides, Deck) else slides
    r = _Renderer(results or {}, captions or {}, links or Links())
    out = [r.slide(slide) for slide in slides]
    return "".join(out) + "".join(line + "\n" for line in references)


def definitions(lines: list[str], path: str, links: Links) -> str:
    """Link definitions written in `path`, their targets made relative to the page (talks)."""
    fix = lambda m: m.group(1) + links.markdown(path, m.group(2))  # noqa: E731
    return "".join(DEFINITION.sub(fix, line) + "\n" for line in lines)


def slide_title(slides: Deck | list[Slide], default: str = "") -> str:
    """The first heading of the first slides (a deck's or talk's title)."""
    for slide in slides.slides if isinstance(slides, Deck) else slides:
        for child in walk(slide.parts[0].children):
            if isinstance(child, Text):
                m = re.search(r"^[ \t]{0,3}#{1,3}[ \t]+(.+?)[ \t]*#*[ \t]*$", child.text, re.M)
                if m:
                    return re.sub(r"[*_`]", "", m.group(1))
    return default or (Path(slides.path).stem if isinstance(slides, Deck) else "")


class _Renderer:
    def __init__(self, results: dict, captions: dict, links: Links):
        self.results, self.captions, self.links = results, captions, links

    # ------------------------------------------------------------ slides and steps

    def slide(self, slide: Slide) -> str:
        self.current = slide
        base = slide.parts[0]
        classes = ["slide", *_classes(base.props.get("class", ""))]
        attrs = [f'class="{html.escape(" ".join(classes))}"']
        section_id = self.links.ids.get(id(slide), base.props.get("name"))
        if section_id:
            attrs.append(f'id="{html.escape(section_id)}"')
        if not slide.counted:
            attrs.append('data-count="false"')
        attrs.append(f'data-demos="{html.escape(" ".join(demos_used(slide)))}"')
        style = []
        for key in ("background-image", "background-color", "background-size", "background-position"):
            if key in base.props:
                value = base.props[key]
                if key == "background-image":
                    value = CSS_URL.sub(lambda m: f"url('{self.links.attribute(slide.path, m.group(2))}')", value)
                style.append(f"{key}: {value}")
                attrs.append(f'data-{key}="{html.escape(value)}"')
        if style:
            attrs.append(f'style="{html.escape("; ".join(style))}"')
        body = self.children(base.children, base.props)
        for step in slide.parts[1:]:
            body = self._step(body, step)
        notes = [self.children(n, base.props) for n in base.inherited_notes + [base.notes or []]]
        notes = "\n\n".join(n.strip("\n") for n in notes if n.strip())
        aside = f'<aside class="notes" markdown="1">\n\n{notes}\n\n</aside>\n\n' if notes else ""
        return f'<section {" ".join(attrs)} markdown="1">\n\n{body.strip(chr(10))}\n\n{aside}</section>\n\n'

    def _step(self, body: str, step: Part) -> str:
        text = self.children(step.children, step.props)
        notes = self.children(step.notes or [], step.props).strip("\n")
        if _last_line(body).lstrip().startswith("|") and text.lstrip("\n").lstrip().startswith("|") and not notes:
            # A step between table rows reveals the next row (the slideshow makes the row a fragment).
            row = re.sub(r"^(\s*\|)", r'\1 <span class="step-row"></span>', text.lstrip("\n"), count=1)
            return body.rstrip("\n") + "\n" + row
        attrs = [f'class="{html.escape(" ".join(["fragment", *_classes(step.props.get("class", ""))]))}"']
        if "name" in step.props:
            attrs.append(f'id="{html.escape(step.props["name"])}"')
        aside = f'<aside class="notes" markdown="1">\n\n{notes}\n\n</aside>\n\n' if notes else ""
        return body + f'\n<div {" ".join(attrs)} markdown="1">\n\n{text.strip(chr(10))}\n\n{aside}</div>\n'

    def children(self, children: list, props: dict) -> str:
        """Markdown for a list of nodes; `--` marks inside class blocks become fragments."""
        parts = [[]]
        for child in children:
            if isinstance(child, StepMark):
                parts.append([])
            elif isinstance(child, Text):
                parts[-1].append(self.text(child, props))
            elif isinstance(child, Code):
                parts[-1].append(self.code(child, props))
            else:
                parts[-1].append(self.block(child, props))
        out = "".join(parts[0])
        for part in parts[1:]:
            body = "".join(part)
            if _last_line(out).lstrip().startswith("|") and body.lstrip("\n").lstrip().startswith("|"):
                out = out.rstrip("\n") + "\n" + re.sub(r"^(\s*\|)", r'\1 <span class="step-row"></span>', body.lstrip("\n"), count=1)
            else:
                out += f'\n<div class="fragment" markdown="1">\n\n{body.strip(chr(10))}\n\n</div>\n'
        return out

    def block(self, node: Block, props: dict) -> str:
        children = list(node.children)
        if children and isinstance(children[0], Text):  # remark trims the start of a class's content
            first = children[0]
            stripped = first.text.lstrip()
            children[0] = Text(stripped, first.line + first.text[:len(first.text) - len(stripped)].count("\n"))
        body = self.children(children, props)
        classes = html.escape(" ".join(node.classes))
        if node.block or "\n" in body.strip("\n"):
            return f'\n<div class="{classes}" markdown="1">\n\n{body.strip(chr(10))}\n\n</div>\n'
        return f'<span class="{classes}">{body}</span>'

    # ------------------------------------------------------------ code

    def code(self, node: Code, props: dict) -> str:
        text = self._substitute_plain(node.text, node.line, props)
        if node.kind == "fence":
            text = _highlight_lines(text)
        return text

    # ------------------------------------------------------------ text

    def text(self, node: Text, props: dict) -> str:
        out, line = [], node.line
        for is_math, display, piece in math_split(node.text):
            if is_math:
                out.append(self._math(piece, display, line, props))
            else:
                out.append(self._prose(piece, line, props))
            line += piece.count("\n")
        return "".join(out)

    def _math(self, tex: str, display: bool, line: int, props: dict) -> str:
        tex = self._substitute_plain(tex, line, props)
        tex = tex.replace(r"\_", "_").replace(r"\*", "*")  # remark decks escape these for Markdown's sake
        left, right = (r"\[", r"\]") if display else (r"\(", r"\)")
        # Every character as an entity: Markdown leaves the TeX alone, the browser reads it back.
        return f'<span class="arithmatex">{_entities(left + tex + right)}</span>'

    def _prose(self, text: str, line: int, props: dict) -> str:
        """Ordinary Markdown: results as spans, URLs made relative to the page, headings un-indented."""
        edits = []  # (start, end, replacement); a later edit inside an earlier one is dropped
        attribute_like = []  # where a result is a value in an attribute, alt text or URL
        for start, end, tag, attrs in html_tags(text):
            number = line + text.count("\n", 0, start)
            edits.append((start, end, self._tag(text[start:end], tag, attrs, number, props)))
        for m in IMAGE.finditer(text):
            attribute_like += [m.span(1), m.span(2)]
            edits.append((*m.span(2), self.links.markdown(self.current.path, m.group(2))))
            if not m.group(1).strip():
                edits.append((*m.span(1), self._caption(m.group(2))))
        for pattern in (LINK, DEFINITION):
            for m in pattern.finditer(text):
                attribute_like.append(m.span(2))
                edits.append((*m.span(2), self.links.markdown(self.current.path, m.group(2))))
        edits += [(*m.span(), "") for m in HEADING_INDENT.finditer(text)]
        for m in [*RESULT.finditer(text), *PROPERTY_VARIABLE.finditer(text)]:
            number = line + text.count("\n", 0, m.start())
            span = not any(a <= m.start() < b for a, b in attribute_like)
            edits.append((*m.span(), self._variable(m, number, props, span=span)))
        out, pos = [], 0
        for start, end, replacement in sorted(edits, key=lambda e: (e[0], -e[1])):
            if start < pos:
                continue
            out += [_dollars(text[pos:start]), replacement]
            pos = end
        out.append(_dollars(text[pos:]))
        return "".join(out)

    def _tag(self, tag_text: str, tag: str, attrs: list, line: int, props: dict) -> str:
        """An HTML start tag: local resources made relative to the page, results escaped."""
        here = self.current.path
        for name, value in attrs:
            if value is None:
                continue
            new = value
            if name == "srcset":
                new = ", ".join(re.sub(r"^\s*(\S+)", lambda m: self.links.attribute(here, m.group(1)), entry)
                                for entry in value.split(","))
            elif name in RESOURCE_ATTRIBUTES and not (name == "href" and tag in LINK_TAGS):
                new = self.links.attribute(here, value)
            elif name == "style":
                new = CSS_URL.sub(lambda m: f"url({m.group(1)}{self.links.attribute(here, m.group(2))}{m.group(1)})", value)
            elif name == "href" and tag == "a" and value.startswith("#") and self.links.talk:
                new = self.links.page_of(here, value)
            if new != value:
                tag_text = _set_attribute(tag_text, name, new)
        return RESULT.sub(lambda m: self._variable(m, line, props, span=False), tag_text)

    def _caption(self, url: str) -> str:
        parts = url.split("/")
        if "_generated" in parts:
            i = parts.index("_generated")
            return self.captions.get("/".join(parts[i + 1:i + 3]), "").replace("]", "")
        return ""

    # ------------------------------------------------------------ results

    def _variable(self, m: re.Match, line: int, props: dict, span: bool) -> str:
        if m.group(1):  # `\{{ ... }}` shows the braces
            return m.group(0)[1:]
        if m.re is PROPERTY_VARIABLE:
            key = m.group(2).strip()
            return "" if key == "content" else html.escape(props.get(key, m.group(0)))
        reference, spec = m.group(2), (m.group(3) or "").strip()
        value = self._format(reference, spec, line)
        if not span:
            return html.escape(value)
        return (f'<span class="result" data-result="{html.escape(reference)}" data-format="{html.escape(spec)}">'
                f"{_escape(value)}</span>")

    def _substitute_plain(self, text: str, line: int, props: dict) -> str:
        def value(m):
            if m.group(1):
                return m.group(0)[1:]
            if m.re is PROPERTY_VARIABLE:
                key = m.group(2).strip()
                return "" if key == "content" else props.get(key, m.group(0))
            return self._format(m.group(2), (m.group(3) or "").strip(), line + text.count("\n", 0, m.start()))
        return PROPERTY_VARIABLE.sub(value, RESULT.sub(value, text))

    def _format(self, reference: str, spec: str, line: int) -> str:
        value = lookup(self.results, reference, self.current.path, line)
        try:
            return format(value, spec)
        except (ValueError, TypeError) as e:
            raise DeckError(self.current.path, line, f"cannot format {reference}={value!r} with '{spec}': {e}") from None


# ---------------------------------------------------------------- helpers


def _classes(value: str) -> list[str]:
    return [c for c in re.split(r"[\s,]+", value) if c]


def _last_line(text: str) -> str:
    stripped = text.rstrip("\n")
    return stripped[stripped.rfind("\n") + 1:]


def _escape(value: str) -> str:
    """A result as element text: no HTML, and nothing Markdown would read as markup."""
    return UNSAFE.sub(lambda m: f"&#{ord(m.group())};", value)


def _entities(text: str) -> str:
    return "".join(c if c.isalnum() and c.isascii() or c == " " else f"&#{ord(c)};" for c in text)


def _dollars(text: str) -> str:
    """A `$` that starts no math is a dollar sign (`\\$` too, as MathJax's processEscapes has it)."""
    return re.sub(r"\\?\$", "&#36;", text)


def _highlight_lines(text: str) -> str:
    """remark's `*` line emphasis in a fenced block → `hl_lines` on the fence (pymdownx.highlight)."""
    lines = text.split("\n")
    opener = next((i for i, t in enumerate(lines) if FENCE.match(t)), None)
    if opener is None:
        return text
    closer = max((i for i, t in enumerate(lines) if FENCE.match(t) and i > opener), default=len(lines))
    marked = []
    for row, i in enumerate(range(opener + 1, closer), start=1):
        if lines[i].startswith("*"):
            marked.append(row)
            lines[i] = lines[i][1:]
    if marked:
        indent, fence, info = FENCE.match(lines[opener]).groups()
        lines[opener] = f'{indent}{fence}{info or "text"} hl_lines="{" ".join(map(str, marked))}"'
    return "\n".join(lines)


def _set_attribute(tag_text: str, name: str, value: str) -> str:
    pattern = re.compile(r"(\s" + re.escape(name) + r"\s*=\s*)(\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+)", re.I)
    return pattern.sub(lambda m: m.group(1) + '"' + html.escape(value) + '"', tag_text, count=1)
