"""Parse a remark-style deck as remark.js does: lex, cut into slides and steps, read properties.

remark.js is the reference (gnab/remark: src/remark/lexer.js, parser.js, models/slideshow.js,
models/slide.js). Its lexer looks for the earliest construct; where two start at the same
place, an indented code block wins over inline code, inline code over a `.class[`, a
`.class[` over a code fence, and a fence over the separators. A `.class[` takes everything
up to its balancing `]` (brackets counted as written, code included) and what is inside is
lexed again, without separators: a fence closed by "```]" ends where the bracket ends.
Properties are the `key: value` lines at the top of a slide or step (blank lines between
them allowed) and `<!-- key: value -->` comments in its first block (before any `.class[`).

Where remark fails silently, this parser says so instead (errors and warnings carry the
file and line): an unknown property, an unclosed `.class[`, a `---` or `???` inside a class
block, a template that does not exist. Two extensions: `--` inside a class block is a step
(remark shows it as text), and `x.shape[0]` (a dot right after a word) is not a class.
An excluded slide takes its steps with it (remark would show them on the previous slide).
"""

import bisect
import re
from pathlib import Path

from handson.syntax.model import Block, Code, Deck, DeckError, Part, Slide, StepMark, Text
from handson.syntax.scan import walk

PROPERTIES = {"class", "name", "count", "exclude", "layout", "template", "background-image",
              "background-size", "background-position", "background-color"}
BOOLEAN_PROPERTIES = {"count", "exclude", "layout"}
# Only in talks: `include:` names deck slides; the duration estimate reads the other two.
TALK_SETTINGS = {"minutes-per-slide", "minutes-per-step"}
TALK_PROPERTIES = {"include"} | TALK_SETTINGS
NOT_INHERITED = {"name", "layout", "count"}  # remark's layouts and templates keep these to themselves

# The constructs remark's lexer knows, in its order of precedence at one position. `\A` is
# "where the lexer stands" (remark cuts the consumed text off), `\Z` the end of the text
# being lexed: the whole deck, or the inside of a `.class[...]`.
_INDENTED = r"(?P<indented>(?:\A|\n\n)(?:\ {4}[^\n]+\n*)+)"
_INLINE = r"(?P<inline>`[^`][^\n]*?`)"
# `.red[`, `.medium.red[`, or escaped `\.red[`; not after a word character (`x.shape[0]`).
_CLASS = r"(?P<klass>(?:\\|(?<![A-Za-z0-9_.\\]))(?:\.[A-Za-z_-][A-Za-z0-9_-]*)+\[)"
# A fence ends at the first run of the same backticks that ends a line (or the text).
_FENCE = r"(?P<fence>(?:\A|\n)\ *(?P<tick>`{3,}|~{3,})\ *(?:\S+)?\ *\n[\s\S]+?\s*(?P=tick)\ *(?:\n+|\Z))"
_SLIDE = r"(?P<slide>(?:\A|\n)(?:---|<!--\s*break\s*-->)(?:\n|\Z))"
_STEP = r"(?P<step>(?:\A|\n)--(?![^\n]))"
_NOTES = r"(?P<notes>(?:\A|\n)\?\?\?(?:\n|\Z))"
LEXER = re.compile("|".join([_INDENTED, _INLINE, _CLASS, _FENCE, _SLIDE, _STEP, _NOTES]))

LEADING_PROPERTY = re.compile(r"\n*([-A-Za-z0-9_]+):([^$\n]*)")
COMMENT_PROPERTY = re.compile(r"<!--\s*([-A-Za-z0-9_]+):([^$\n]*?)\s*-->")
CONTENT = re.compile(r"(?<!\\)\{\{\s*content\s*\}\}")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S", re.M)
NOT_QUITE_SEPARATOR = re.compile(r"^(---|--|\?\?\?)[ \t]+$", re.M)
COMMENTS = re.compile(r"<!--.*?-->", re.S)


def read(path: str | Path) -> str:
    """The text of a deck file; a byte that is not UTF-8 is an error at its line."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - data.rfind(b"\n", 0, e.start)
        raise DeckError(path, line, f"not valid UTF-8 (byte 0x{data[e.start]:02x} at column {column}); "
                                    "save the file as UTF-8") from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def parse(text: str, path: str | Path = "<deck>", *, talk: bool = False) -> Deck:
    """Parse a deck (or, with `talk=True`, a talk file that may hold `include:` slides)."""
    path = str(path)
    text = _dedent(text.replace("\r\n", "\n"))
    lines = _Lines(text)
    raw = _slides(_lex(text, 0, lines, path, None), lines, path)
    deck = Deck(path, [], [])
    for slide in raw:
        for part in slide.parts:
            _read_properties(part, path, talk)
        deck.definitions += _definitions(slide)
    if talk:
        _talk_settings(raw, deck)
    _apply_layouts(raw, deck)
    deck.warnings += _warnings(text, lines, deck)
    return deck


class _Lines:
    """Offsets in the deck text → 1-based line numbers."""

    def __init__(self, text: str):
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def __call__(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)


def _dedent(text: str) -> str:
    """remark trims the indentation every line shares (a deck written inside an indented tag)."""
    indents = [len(m.group(1)) for m in re.finditer(r"^([ \t]*)[^ \t\n]", text, re.M)]
    if not indents or not min(indents):
        return text
    return re.sub(r"^[ \t]{0,%d}" % min(indents), "", text, flags=re.M)


# ---------------------------------------------------------------- lexing


def _lex(text: str, offset: int, lines: _Lines, path: str, opener: tuple[str, int] | None) -> list:
    """Tokens of `text` (which starts at `offset` in the deck). Inside a class, `opener` is set.

    Returns Text, Code, Block and StepMark nodes, and ("slide" | "step" | "notes", line)
    separators at the top level.
    """
    tokens, pos = [], 0
    while pos < len(text):
        rest = text[pos:]  # remark re-matches on what is left: `\A` is the current position
        m = LEXER.search(rest)
        if m is None:
            tokens.append(Text(rest, lines(offset + pos)))
            break
        if m.start():
            tokens.append(Text(rest[:m.start()], lines(offset + pos)))
        at = offset + pos + m.start()
        kind = m.lastgroup if m.lastgroup != "tick" else "fence"
        end = m.end()
        if kind == "klass":
            end = _class(m, rest, offset + pos, lines, path, tokens)
        elif kind in ("indented", "inline", "fence"):
            tokens.append(Code(m.group(), lines(at), kind))
        else:
            line = lines(at + (m.group().startswith("\n")))
            if opener is None:
                tokens.append((kind, line))
            elif kind == "step":
                tokens.append(StepMark(line))
            else:
                what = "slide separator" if kind == "slide" else "notes separator '???'"
                raise DeckError(path, line, f"{what} inside '{opener[0]}' (opened at line {opener[1]}): "
                                            "close the class with ']' before it")
        pos += end
    return tokens


def _class(m: re.Match, rest: str, offset: int, lines: _Lines, path: str, tokens: list) -> int:
    """Lex `.name[...]` (its `[` ends the match); returns where its closing `]` ends."""
    opening = m.group()
    escaped = opening.startswith("\\")
    name = opening.lstrip("\\")
    line = lines(offset + m.start())
    close = _balance(rest, m.end())
    if close is None:
        raise DeckError(path, line, f"unclosed '{name}': no matching ']' (remark counts every bracket "
                                    "after it, in code and math too)")
    inner = rest[m.end():close]
    if escaped:  # `\.red[x]` shows `.red[x]`
        tokens.append(Text(name + inner + "]", line))
    else:
        children = _lex(inner, offset + m.end(), lines, path, (name, line))
        tokens.append(Block(name[1:-1].split("."), line, children, "\n" in inner))
    return close + 1


def _balance(text: str, start: int) -> int | None:
    depth = 1
    for i in range(start, len(text)):
        depth += {"[": 1, "]": -1}.get(text[i], 0)
        if not depth:
            return i
    return None


def _slides(tokens: list, lines: _Lines, path: str) -> list[Slide]:
    """Cut the token stream at `---` into slides, at `--` into steps, at `???` into notes."""
    slides = [Slide(path, [Part(1)])]
    for token in tokens:
        if isinstance(token, tuple):
            kind, line = token
            if kind == "slide":
                slides.append(Slide(path, [Part(line + 1)]))
            elif kind == "step":
                slides[-1].parts.append(Part(line))
            else:
                slides[-1].parts[-1].notes = []
            continue
        part = slides[-1].parts[-1]
        (part.children if part.notes is None else part.notes).append(token)
    return slides


# ---------------------------------------------------------------- properties


def _read_properties(part: Part, path: str, talk: bool) -> None:
    """remark's properties: leading `key: value` lines, and `<!-- key: value -->` in the first block.

    The property text is blanked, its newlines kept, so later line numbers stay right.
    """
    first_block = []
    for child in part.children:
        if isinstance(child, Block):
            break
        first_block.append(child)
    if first_block and isinstance(first_block[0], Text):
        text, pos = first_block[0].text, 0
        while m := LEADING_PROPERTY.match(text, pos):
            line = first_block[0].line + text.count("\n", 0, m.start(1))
            _set_property(part, m.group(1), m.group(2).strip(), line, path, talk, comment=False)
            text = text[:m.start(1)] + text[m.end():]
            pos = m.start(1)
        first_block[0].text = text
    for child in first_block:
        if isinstance(child, Text):
            def take(m, child=child):
                line = child.line + child.text.count("\n", 0, m.start())
                _set_property(part, m.group(1), m.group(2).strip(), line, path, talk, comment=True)
                return "<!---->"  # an empty comment: nothing shows, the paragraph stays whole
            child.text = COMMENT_PROPERTY.sub(take, child.text)


def _set_property(part: Part, key: str, value: str, line: int, path: str, talk: bool, comment: bool) -> None:
    known = PROPERTIES | (TALK_PROPERTIES if talk else set())
    if key not in known:
        if comment:  # remark keeps any key; a comment that is not one of ours stays a comment
            part.other_props[key] = value
            return
        hint = f"did you mean '{key.lower()}'? " if key.lower() in known else ""
        raise DeckError(path, line, f"unknown slide property '{key}' ({hint}known: {', '.join(sorted(known))}); "
                        "remark reads every `key: value` line at the top of a slide or step as a property: "
                        "if it is content, start the slide with other text or write it as `**Key:** value`")
    if key in BOOLEAN_PROPERTIES:
        if value.lower() not in ("true", "false"):
            raise DeckError(path, line, f"property '{key}' must be true or false, not '{value}'")
        value = value.lower()
    if key == "name" and not re.fullmatch(r"[\w-]+", value):
        raise DeckError(path, line, f"slide name '{value}' must be letters, digits, '-' or '_'")
    if key in TALK_SETTINGS and not re.fullmatch(r"\d+(\.\d+)?", value):
        raise DeckError(path, line, f"'{key}' must be a number of minutes, not '{value}'")
    if key == "include":
        part.includes.append((line, value))
        return
    part.props[key] = value
    part.prop_lines[key] = line


def _talk_settings(raw: list[Slide], deck: Deck) -> None:
    for index, slide in enumerate(raw):
        for part in slide.parts:
            for key in TALK_SETTINGS & part.props.keys():
                if index or part is not slide.parts[0]:
                    raise DeckError(deck.path, part.prop_lines[key], f"'{key}' belongs on the talk's first slide")
                deck.settings[key] = part.props.pop(key)
                part.prop_lines.pop(key)
        part = slide.parts[0]
        if part.includes:
            busy = (set(part.props) - {"exclude"} or len(slide.parts) > 1 or part.notes is not None
                    or not _blank(part.children))
            if busy:
                raise DeckError(deck.path, part.includes[0][0], "a slide with `include:` lines holds nothing else "
                                "(write the talk's own slides between `---` separators)")
        for step in slide.parts[1:]:
            if step.includes:
                raise DeckError(deck.path, step.includes[0][0], "`include:` names whole slides: put it after a `---`")


def _definitions(slide: Slide) -> list[str]:
    texts = [c.text for part in slide.parts for c in walk(part.children + (part.notes or []))
             if isinstance(c, Text)]
    return [line for text in texts for line in text.split("\n") if REFERENCE.match(line)]


def _blank(children: list) -> bool:
    return all(isinstance(c, Text) and not COMMENTS.sub("", c.text).strip() for c in children)


# ---------------------------------------------------------------- layouts and templates


def _apply_layouts(raw: list[Slide], deck: Deck) -> None:
    """remark's order: a step continues its slide, `template:` names an earlier slide, `layout: true`
    applies to the following slides until `layout: false` or the next layout."""
    every_name = {s.props["name"]: s for s in raw if "name" in s.props}
    named: dict[str, Part] = {}
    layout: Part | None = None
    for slide in raw:
        base = slide.parts[0]
        if base.props.get("exclude") == "true":
            deck.references += _definitions(slide)
            continue
        slide.parts[1:] = [p for p in slide.parts[1:] if p.props.get("exclude") != "true"]
        if base.includes:  # a talk's include slide: resolved later, never a layout or template
            deck.slides.append(slide)
            continue
        template = None
        if "template" in base.props:
            template = named.get(base.props["template"])
            if template is None:
                raise DeckError(deck.path, base.prop_lines["template"], _no_template(base.props["template"], every_name, slide))
        elif base.props.get("layout") == "false":
            layout = None
        elif layout is not None and base.props.get("layout") != "true":
            template = layout
        if template is not None:
            _inherit(base, template)
        if "name" in base.props:
            named[base.props["name"]] = base
        if base.props.get("layout") == "true":
            if len(slide.parts) > 1:
                raise DeckError(deck.path, slide.parts[1].line, "a layout slide (`layout: true`) cannot have steps")
            layout = base
            deck.layouts += 1
        else:
            deck.slides.append(slide)


def _no_template(name: str, every_name: dict[str, Slide], slide: Slide) -> str:
    other = every_name.get(name)
    if other is None:
        return f"template '{name}' is not a slide name"
    if other.props.get("exclude") == "true":
        return f"template '{name}' is an excluded slide (exclude: true)"
    return f"template '{name}' is defined after this slide (line {other.line}); remark only looks back"


def _inherit(part: Part, template: Part) -> None:
    """What a slide takes from its layout or template (remark's models/slide.js)."""
    for key, value in template.props.items():
        if key in NOT_INHERITED:
            continue
        if key == "class" and "class" in part.props:
            part.props["class"] = f"{value}, {part.props['class']}"
        elif key not in part.props:
            part.props[key] = value
            part.prop_lines[key] = template.prop_lines[key]
    spliced, found = _splice(template.children, part.children)
    part.children = spliced if found else template.children + part.children
    part.inherited_notes = template.inherited_notes + ([template.notes] if template.notes else [])


def _splice(children: list, content: list) -> tuple[list, bool]:
    """Put `content` where the template says `{{content}}` (at any depth)."""
    out, found = [], False
    for child in children:
        if isinstance(child, Text) and CONTENT.search(child.text):
            line = child.line
            pieces = CONTENT.split(child.text)
            for i, piece in enumerate(pieces):
                if i:
                    out += content
                out.append(Text(piece, line))
                line += piece.count("\n")
            found = True
        elif isinstance(child, Block):
            inner, inner_found = _splice(child.children, content)
            out.append(Block(child.classes, child.line, inner, child.block))
            found |= inner_found
        else:
            out.append(child)
    return out, found


# ---------------------------------------------------------------- warnings


def _warnings(text: str, lines: _Lines, deck: Deck) -> list[DeckError]:
    warnings = []
    for slide in deck.slides:
        base = slide.parts[0]
        if not base.includes and _blank(base.children) and "background-image" not in base.props:
            warnings.append(DeckError(deck.path, slide.line, "empty slide (two `---` in a row, or one at the end?)"))
        for step in slide.parts[1:]:
            if _blank(step.children) and not step.notes:
                warnings.append(DeckError(deck.path, step.line, "empty step (a `--` with nothing after it)"))
    for m in NOT_QUITE_SEPARATOR.finditer(text):
        if not _in_code(m.start(), text):
            warnings.append(DeckError(deck.path, lines(m.start()), f"'{m.group(1)}' followed by spaces is not a "
                                      "separator in remark; remove the trailing spaces"))
    return warnings


def _in_code(offset: int, text: str) -> bool:
    """Whether `offset` falls inside a fenced code block (for warnings only)."""
    fences = [m.span() for m in re.finditer(_FENCE, text)]
    return any(a <= offset < b for a, b in fences)
