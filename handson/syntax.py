"""Remark-style slide syntax: parse a deck once, render it as Markdown for both views.

A deck is one Markdown file: `---` lines separate slides, `--` lines are steps, leading
`key: value` lines are slide properties, `???` starts speaker notes, `.name[...]` wraps
content in a class. `render()` turns the parsed deck into Markdown with HTML wrappers
(`<section class="slide">`, `<div class="fragment">`, `<aside class="notes">`) that
Python-Markdown's `md_in_html` renders; `handson.slideshow` cuts the rendered HTML into
reveal.js sections. Errors carry the deck file and line: `deck.md:12: reason`.
"""

import bisect
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

PROPERTIES = {"class", "name", "count", "exclude", "layout", "template",
              "background-image", "background-size", "background-position"}
BOOLEAN_PROPERTIES = {"count", "exclude", "layout"}

FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")
PROPERTY = re.compile(r"^([A-Za-z][\w-]*):(.*)$")
# `.red[`, `.medium.red[`; the dot must not follow a word character (`x.shape[0]` is code).
CLASS_OPEN = re.compile(r"(?<![\w.\\])\.([A-Za-z_-][\w-]*(?:\.[A-Za-z_-][\w-]*)*)\[")
STEP = re.compile(r"^--[ \t]*$", re.M)
INLINE_CODE = re.compile(r"(`+)(?:.+?)\1")
DISPLAY_MATH = re.compile(r"\$\$.+?\$\$", re.S)
INLINE_MATH = re.compile(r"(?<![\\$])\$(?![\s$])[^$\n]+?(?<![\s\\])\$(?!\d)")
RESULT = re.compile(r"\{\{\s*([A-Za-z_][\w]*(?:\.[\w-]+)+)(?::([^}]*))?\s*\}\}")
IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_SRC = re.compile(r"<(?:img|audio|video|source|iframe)\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.I)
SNIPPET = re.compile(r"^\s*(-{1,}8<-{1,})\s*(?:[\"']([^\"']*)[\"'])?\s*$")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S")
TABLE_ROW = re.compile(r"^\s*\|")


class DeckError(Exception):
    """A syntax error in a deck, reported as `path:line: reason`."""

    def __init__(self, path: str | Path, line: int, reason: str):
        self.path, self.line, self.reason = str(path), line, reason
        super().__init__(f"{path}:{line}: {reason}")


@dataclass
class Slide:
    line: int  # 1-based source line where the slide starts
    props: dict[str, str] = field(default_factory=dict)
    content: list[tuple[int, str]] = field(default_factory=list)  # (line, text)
    notes: list[tuple[int, str]] = field(default_factory=list)

    @property
    def excluded(self) -> bool:
        return self.props.get("exclude", "false").lower() == "true"

    @property
    def counted(self) -> bool:
        return self.props.get("count", "true").lower() != "false"


@dataclass
class Deck:
    path: str
    slides: list[Slide]  # shown slides, layouts and templates applied, excluded ones dropped
    references: list[str]  # link reference definitions from excluded slides (deck-global)


# ---------------------------------------------------------------- parsing


def _fence_flags(lines: list[str]) -> list[bool]:
    """True for every line inside (or delimiting) a fenced code block."""
    flags, fence = [], None
    for text in lines:
        m = FENCE.match(text)
        if fence is None and m:
            fence = m.group(1)
            flags.append(True)
        elif fence is not None:
            flags.append(True)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2).strip():
                fence = None
        else:
            flags.append(False)
    return flags


def parse(text: str, path: str | Path = "<deck>", first_line: int = 1) -> Deck:
    """Parse a remark-style deck. `first_line` is the file line of `text`'s first line."""
    lines = text.split("\n")
    in_code = _fence_flags(lines)
    chunks: list[list[tuple[int, str, bool]]] = [[]]
    for i, (line, code) in enumerate(zip(lines, in_code)):
        if not code and line.rstrip() == "---":
            chunks.append([])
        else:
            chunks[-1].append((first_line + i, line, code))
    raw = [_parse_slide(chunk, path, first_line if not n else chunk[0][0] - 1 if chunk else 0)
           for n, chunk in enumerate(chunks)]
    return _apply_layouts(raw, path)


def _parse_slide(chunk: list[tuple[int, str, bool]], path, start: int) -> Slide:
    slide = Slide(line=chunk[0][0] if chunk else start)
    i = 0
    while i < len(chunk):  # leading `key: value` lines (blank lines allowed between them)
        number, text, code = chunk[i]
        if code:
            break
        if not text.strip():
            i += 1
            continue
        m = PROPERTY.match(text)
        if not m:
            break
        key, value = m.group(1).lower(), m.group(2).strip()
        if key not in PROPERTIES:
            raise DeckError(path, number, f"unknown slide property '{m.group(1)}' "
                            f"(known: {', '.join(sorted(PROPERTIES))}); "
                            "put a blank line or text before it if it is content")
        if key in BOOLEAN_PROPERTIES and value.lower() not in ("true", "false"):
            raise DeckError(path, number, f"property '{key}' must be true or false, not '{value}'")
        if key == "name" and not re.fullmatch(r"[\w-]+", value):
            raise DeckError(path, number, f"slide name '{value}' must be letters, digits, '-' or '_'")
        slide.props[key] = value
        i += 1
    target = slide.content
    for number, text, code in chunk[i:]:
        if not code and text.rstrip() == "???":
            target = slide.notes
            continue
        target.append((number, text))
    return slide


def _apply_layouts(raw: list[Slide], path) -> Deck:
    """Apply `layout: true` and `template: name`; drop excluded slides (keeping link refs)."""
    named = {s.props["name"]: s for s in raw if "name" in s.props}
    layout: Slide | None = None
    shown, references = [], []
    for slide in raw:
        if slide.props.get("layout", "false").lower() == "true":
            layout = slide if layout is None else _inherit(slide, layout)
            continue
        if "template" in slide.props:
            template = named.get(slide.props["template"])
            if template is None:
                raise DeckError(path, slide.line, f"template '{slide.props['template']}' is not a slide name")
            slide = _inherit(slide, template)
        elif layout is not None:
            slide = _inherit(slide, layout)
        if "name" in slide.props:
            named[slide.props["name"]] = slide  # templates are used as shown, layout included
        if slide.excluded:
            references += [t for _, t in slide.content + slide.notes if REFERENCE.match(t)]
            continue
        shown.append(slide)
    for slide in shown:  # a template's own placeholder shows nothing
        slide.content = [(n, t) for n, t in slide.content if t.strip() != "{{content}}"]
    return Deck(str(path), shown, references)


def _inherit(slide: Slide, base: Slide) -> Slide:
    inherited = {k: v for k, v in base.props.items() if k not in ("name", "layout", "template", "exclude")}
    if "class" in inherited and "class" in slide.props:
        slide.props["class"] = inherited.pop("class") + ", " + slide.props["class"]
    props = {**inherited, **slide.props}
    body = [t for _, t in base.content]
    if any(t.strip() == "{{content}}" for t in body):
        content = []
        for number, text in base.content:
            content += slide.content if text.strip() == "{{content}}" else [(number, text)]
    else:
        content = base.content + slide.content
    return Slide(slide.line, props, content, slide.notes)


# ---------------------------------------------------------------- rendering


@dataclass
class _Node:
    classes: list[str]
    line: int
    children: list = field(default_factory=list)  # str | _Node | _Step
    depth: int = 0  # plain `[` brackets open inside this node


class _Step:
    pass


class _Text:
    """A slide's text plus a mask (code and math blanked out) and a line map."""

    def __init__(self, lines: list[tuple[int, str]]):
        self.text = "\n".join(t for _, t in lines)
        self.numbers = [n for n, _ in lines] or [0]
        self.starts = [0]
        for _, t in lines[:-1]:
            self.starts.append(self.starts[-1] + len(t) + 1)
        flags = _fence_flags([t for _, t in lines])
        masked = [" " * len(t) if code else t for (_, t), code in zip(lines, flags)]
        mask = "\n".join(masked)
        for pattern in (INLINE_CODE, DISPLAY_MATH, INLINE_MATH):
            mask = pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), mask)
        self.mask = mask

    def line(self, offset: int) -> int:
        return self.numbers[bisect.bisect_right(self.starts, offset) - 1]


def _tree(text: _Text, path) -> _Node:
    root = _Node([], 0)
    stack, pos = [root], 0
    token = re.compile(CLASS_OPEN.pattern + r"|(\[)|(\])|" + STEP.pattern.replace("^", "(^") + ")", re.M)
    for m in token.finditer(text.mask):
        node = stack[-1]
        if m.group(1):  # `.name[`
            node.children.append(text.text[pos:m.start()])
            child = _Node(m.group(1).split("."), text.line(m.start()))
            node.children.append(child)
            stack.append(child)
        elif m.group(2):  # a plain `[`
            node.depth += 1
            continue
        elif m.group(3):  # `]`
            if node.depth or node is root:
                node.depth = max(node.depth - 1, 0)
                continue
            node.children.append(text.text[pos:m.start()])
            stack.pop()
        else:  # a `--` step line
            node.children.append(text.text[pos:m.start()])
            node.children.append(_Step())
        pos = m.end()
    if len(stack) > 1:
        node = stack[-1]
        raise DeckError(path, node.line, f"unclosed '.{'.'.join(node.classes)}[': no matching ']' before the end of the slide")
    root.children.append(text.text[pos:])
    return root


def _render_children(children: list) -> str:
    parts = [[]]
    for child in children:
        if isinstance(child, _Step):
            parts.append([])
        else:
            parts[-1].append(child if isinstance(child, str) else _render_node(child))
    out = "".join(parts[0])
    for part in parts[1:]:
        body = "".join(part)
        if _last_line(out).lstrip().startswith("|") and body.lstrip("\n").lstrip().startswith("|"):
            # A step between table rows reveals the next row (marked; the slideshow makes it a fragment).
            out = out.rstrip("\n") + "\n" + re.sub(r"^(\s*\|)", r'\1 <span class="step-row"></span>', body.lstrip("\n"), count=1)
        else:
            out += f'\n<div class="fragment" markdown="1">\n\n{body.strip(chr(10))}\n\n</div>\n'
    return out


def _last_line(text: str) -> str:
    stripped = text.rstrip("\n")
    return stripped[stripped.rfind("\n") + 1:]


def _render_node(node: _Node) -> str:
    body = _render_children(node.children)
    classes = html.escape(" ".join(node.classes))
    if "\n" in body:
        return f'\n<div class="{classes}" markdown="1">\n\n{body.strip(chr(10))}\n\n</div>\n'
    return f'<span class="{classes}">{body}</span>'


def _highlight_lines(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Remark's `*` line emphasis in fenced code → `hl_lines` on the fence (pymdownx.highlight)."""
    out, fence_at, marked, row, fence = [], None, [], 0, None
    for number, text in lines:
        m = FENCE.match(text)
        if fence is None and m:
            fence, fence_at, marked, row = m.group(1), len(out), [], 0
            out.append((number, text))
            continue
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2).strip():
                if marked:
                    opener_number, opener = out[fence_at]
                    fm = FENCE.match(opener)
                    info = fm.group(2).strip() or "text"
                    indent = opener[:len(opener) - len(opener.lstrip())]
                    out[fence_at] = (opener_number, f'{indent}{fm.group(1)}{info} hl_lines="{" ".join(map(str, marked))}"')
                fence = None
                out.append((number, text))
                continue
            row += 1
            if text.startswith("*"):
                marked.append(row)
                text = text[1:]
            out.append((number, text))
            continue
        out.append((number, text))
    return out


def _unescape_math(text: str) -> str:
    """Remark decks escape `_` and `*` in math for Markdown's sake: `\\_` → `_`, `\\*` → `*`."""
    def fix(m):
        return m.group(0).replace(r"\_", "_").replace(r"\*", "*")
    return INLINE_MATH.sub(fix, DISPLAY_MATH.sub(fix, text))


def _substitute(lines, path, results: dict) -> list[tuple[int, str]]:
    def value(m, number):
        name, *keys = m.group(1).split(".")
        if name not in results:
            raise DeckError(path, number, f"no results for demo '{name}' (run `make figures`; known: {', '.join(sorted(results)) or 'none'})")
        v = results[name]
        for key in keys:  # dict keys, or list indices (`mlp.params.0`)
            if isinstance(v, list) and key.isdigit() and int(key) < len(v):
                v = v[int(key)]
                continue
            if not isinstance(v, dict) or key not in v:
                known = ", ".join(sorted(v)) if isinstance(v, dict) else type(v).__name__
                raise DeckError(path, number, f"demo '{name}' has no result '{m.group(1)}' (known: {known})")
            v = v[key]
        try:
            return format(v, (m.group(2) or "").strip())
        except (ValueError, TypeError) as e:
            raise DeckError(path, number, f"cannot format {m.group(1)}={v!r} with '{m.group(2)}': {e}") from None
    return [(n, RESULT.sub(lambda m, n=n: value(m, n), t)) for n, t in lines]


def check_references(deck: Deck, docs_dir: Path, base_dirs: list[Path]) -> None:
    """Fail on a missing image, an external image/iframe source, or a bad `--8<--` include."""
    deck_dir = Path(deck.path).parent
    for slide in deck.slides:
        if "background-image" in slide.props:
            _check_local(_css_url(slide.props["background-image"]), deck_dir, deck.path, slide.line)
        in_code = _fence_flags([t for _, t in slide.content + slide.notes])
        for (number, text), code in zip(slide.content + slide.notes, in_code):
            m = SNIPPET.match(text)
            if m and m.group(2) is not None:
                _check_snippet(m.group(2), base_dirs, deck.path, number)
            if code:
                continue
            masked = INLINE_CODE.sub("", text)
            for src in [i.group(2) for i in IMAGE.finditer(masked)] + HTML_SRC.findall(masked):
                _check_local(src, deck_dir, deck.path, number)


def _css_url(value: str) -> str:
    m = re.match(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)", value.strip())
    return m.group(1) if m else value.strip()


def _check_local(src: str, deck_dir: Path, path, number: int) -> None:
    if re.match(r"^([a-z][a-z0-9+.-]*:)?//", src, re.I) or src.startswith("data:"):
        if not src.startswith("data:"):
            raise DeckError(path, number, f"external source '{src}': the site must work offline; ship the file or link to it")
        return
    target = (deck_dir / src.split("#")[0].split("?")[0]).resolve()
    if not target.is_file():
        raise DeckError(path, number, f"missing file '{src}' (looked for {target}); run `make figures` if it is generated")


def _check_snippet(spec: str, base_dirs: list[Path], path, number: int) -> None:
    if not spec.strip():
        return
    if re.match(r"^[a-z]+://", spec):
        raise DeckError(path, number, f"snippet '{spec}' is a URL: includes must be local files")
    file, _, rest = spec.partition(":")
    for base in base_dirs:
        candidate = base / file
        if candidate.is_file():
            break
    else:
        raise DeckError(path, number, f"snippet file '{file}' not found (looked in {', '.join(map(str, base_dirs))})")
    text = candidate.read_text(encoding="utf-8")
    if not rest:
        return
    if re.fullmatch(r"[\d:,-]+", rest):
        total = text.count("\n") + 1
        for bound in re.findall(r"\d+", rest):
            if int(bound) > total:
                raise DeckError(path, number, f"snippet '{spec}': line {bound} is past the end of {file} ({total} lines)")
        return
    if f"[start:{rest}]" not in text or f"[end:{rest}]" not in text:
        raise DeckError(path, number, f"snippet section '{rest}' not found in {file} (mark it with `--8<-- [start:{rest}]` and `--8<-- [end:{rest}]`)")


def _fill_alt(text: str, captions: dict[str, str]) -> str:
    """`![](_generated/<deck>/<name>/x.svg)` gets the demo's caption as alt text."""
    def fill(m):
        if m.group(1).strip():
            return m.group(0)
        parts = m.group(2).split("/")
        if "_generated" in parts:
            i = parts.index("_generated")
            caption = captions.get("/".join(parts[i + 1:i + 3]), "")
            return m.group(0).replace("![]", f"![{caption.replace(']', '')}]", 1)
        return m.group(0)
    return IMAGE.sub(fill, text)


def render(deck: Deck, results: dict | None = None, captions: dict[str, str] | None = None,
           base: str = "") -> str:
    """Render the deck as Markdown (+ md_in_html wrappers) for the reader page.

    `base` turns a deck-relative URL into a page-relative one (background images are
    attributes, which MkDocs does not rewrite).
    """
    results, captions = results or {}, captions or {}
    out = []
    for index, slide in enumerate(deck.slides):
        attrs = [f'class="{html.escape(" ".join(["slide", *_classes(slide.props.get("class", ""))]))}"']
        if "name" in slide.props:
            attrs.append(f'id="{slide.props["name"]}"')
        if not slide.counted:
            attrs.append('data-count="false"')
        style = []
        for key in ("background-image", "background-size", "background-position"):
            if key in slide.props:
                value = slide.props[key]
                if key == "background-image":
                    value = _css_url(value)
                    value = value if re.match(r"^(/|data:)", value) else base + value
                    style.append(f"background-image: url('{value}')")
                else:
                    style.append(f"{key}: {value}")
                attrs.append(f'data-{key}="{html.escape(value)}"')
        if style:
            attrs.append(f'style="{html.escape("; ".join(style))}"')
        body = _render_part(slide.content, deck.path, results, captions)
        out.append(f'<section {" ".join(attrs)} markdown="1">\n\n{body}\n\n')
        if any(t.strip() for _, t in slide.notes):
            notes = _render_part(slide.notes, deck.path, results, captions)
            out.append(f'<aside class="notes" markdown="1">\n\n{notes}\n\n</aside>\n\n')
        out.append("</section>\n\n")
    out += [r + "\n" for r in deck.references]
    return "".join(out)


def _classes(value: str) -> list[str]:
    return [c for c in re.split(r"[\s,]+", value) if c]


def _render_part(lines, path, results, captions) -> str:
    lines = _substitute(lines, path, results)
    lines = _highlight_lines(lines)
    lines = [(n, _fill_alt(t, captions)) for n, t in lines]
    text = _Text(lines)
    text.text = _unescape_math(text.text)  # removes characters but never newlines
    text = _Text(list(zip(text.numbers, text.text.split("\n"))))
    return _render_children(_tree(text, path).children).strip("\n")


def slide_title(deck: Deck) -> str:
    """The deck's title: its first heading."""
    for slide in deck.slides:
        for _, text in slide.content:
            m = re.match(r"^#{1,3}\s+(.+?)\s*#*\s*$", text)
            if m:
                return m.group(1)
    return Path(deck.path).stem
