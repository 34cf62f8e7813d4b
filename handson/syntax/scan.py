"""What is in a slide's text: math spans, HTML tags and the resources they load, demo results.

Shared by rendering and checking, so both read a slide the same way.
"""

import re
from html.parser import HTMLParser

from handson.syntax.model import Block, Code, DeckError, Slide, Text

RESULT = re.compile(r"(\\)?\{\{\s*([A-Za-z_]\w*(?:\.[\w-]+)+)(?::([^}]*))?\s*\}\}")
IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
GENERATED = re.compile(r"_generated/[^/\s\"')]+/([^/\s\"')]+)/")
DEMO_SOURCE = re.compile(r"demos/[^/\s\"')]+/([A-Za-z_]\w*)\.py")
CSS_URL = re.compile(r"url\(\s*(['\"]?)([^'\")]+)\1\s*\)")
# Attributes that make a browser fetch something (an <a href> is a link the reader follows).
RESOURCE_ATTRIBUTES = {"src", "poster", "data", "srcset", "href", "xlink:href", "background"}
LINK_TAGS = {"a", "area", "base"}


def walk(children: list):
    for child in children:
        yield child
        if isinstance(child, Block):
            yield from walk(child.children)


def lookup(results: dict, reference: str, path: str, line: int):
    """The value of `demo.key[.key...]` in the demos' results, or a DeckError."""
    name, *keys = reference.split(".")
    if name not in results:
        raise DeckError(path, line, f"no results for demo '{name}' (run `make figures`; known: "
                                    f"{', '.join(sorted(results)) or 'none'})")
    value = results[name]
    for key in keys:  # dict keys, or list indices (`mlp.params.0`)
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        elif isinstance(value, dict) and key in value:
            value = value[key]
        else:
            known = ", ".join(sorted(value)) if isinstance(value, dict) else type(value).__name__
            raise DeckError(path, line, f"demo '{name}' has no result '{reference}' (known: {known})")
    return value


def demos_used(slide: Slide) -> list[str]:
    """Demos whose outputs or results the slide shows, in order of first use."""
    texts = [slide.props.get("background-image", "")]
    for part in slide.parts:
        for child in walk(part.children + (part.notes or []) + [n for notes in part.inherited_notes for n in notes]):
            if isinstance(child, (Text, Code)):
                texts.append(child.text)
    names = []
    for text in texts:
        found = [(m.start(), m.group(1)) for p in (GENERATED, DEMO_SOURCE) for m in p.finditer(text)]
        found += [(m.start(), m.group(2).split(".")[0]) for m in RESULT.finditer(text) if not m.group(1)]
        names += [name for _, name in sorted(found)]
    return list(dict.fromkeys(names))


def math_split(text: str) -> list[tuple[bool, bool, str]]:
    """Cut text into (is_math, display, piece) as MathJax finds `$...$` and `$$...$$`.

    A `\\$` is a dollar sign; math never runs across a blank line. Spaces inside the dollars
    are allowed (`$ x $` is math, as in MathJax).
    """
    out, pos, start = [], 0, 0
    while True:
        i = find_dollar(text, pos)
        if i is None:
            break
        display = text.startswith("$$", i)
        delimiter = "$$" if display else "$"
        j = find_dollar(text, i + len(delimiter), delimiter)
        body = text[i + len(delimiter):j] if j is not None else ""
        if j is None or not body.strip() or re.search(r"\n[ \t]*\n", body):
            pos = i + len(delimiter)
            continue
        out.append((False, False, text[start:i]))
        out.append((True, display, body))
        start = pos = j + len(delimiter)
    out.append((False, False, text[start:]))
    return [piece for piece in out if piece[2] or piece[0]]


def find_dollar(text: str, pos: int, delimiter: str = "$") -> int | None:
    while True:
        i = text.find(delimiter, pos)
        if i < 0:
            return None
        backslashes = len(text[:i]) - len(text[:i].rstrip("\\"))
        if backslashes % 2 == 0:
            return i
        pos = i + 1


class _TagFinder(HTMLParser):
    """Start tags with their offsets; tags inside comments are not tags."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.found = []

    def handle_starttag(self, tag, attrs):
        line, column = self.getpos()
        self.found.append((line, column, self.get_starttag_text(), tag, attrs))

    handle_startendtag = handle_starttag


def html_tags(text: str) -> list[tuple[int, int, str, list]]:
    """(start, end, tag, attrs) of every HTML start tag in `text`."""
    if "<" not in text:
        return []
    finder = _TagFinder()
    finder.feed(text)
    finder.close()
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    out = []
    for line, column, raw, tag, attrs in finder.found:
        start = starts[line - 1] + column
        if raw and text.startswith(raw, start):
            out.append((start, start + len(raw), tag, attrs))
    return out




def resource_urls(tag: str, attrs: list) -> list[tuple[str, str]]:
    """(attribute, URL) for everything a start tag makes the browser fetch."""
    urls = []
    for name, value in attrs:
        if value is None:
            continue
        if name == "srcset":
            urls += [(name, entry.split()[0]) for entry in value.split(",") if entry.strip()]
        elif name in RESOURCE_ATTRIBUTES and not (name == "href" and tag in LINK_TAGS):
            urls.append((name, value))
        elif name == "style":
            urls += [(name, m.group(2)) for m in CSS_URL.finditer(value)]
    return urls
