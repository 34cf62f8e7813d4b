"""What a parsed deck is made of: slides, their steps and notes, as trees of text, code and classes.

Every node keeps the file and line it came from, so an error inside a slide that a talk
includes still points at the deck's own line.
"""

from dataclasses import dataclass, field


class DeckError(Exception):
    """A mistake in a deck, reported as `path:line: reason`."""

    def __init__(self, path: str, line: int, reason: str):
        self.path, self.line, self.reason = str(path), line, reason
        super().__init__(f"{path}:{line}: {reason}")


class DeckErrors(Exception):
    """Several mistakes found in one pass (every missing file of a deck, not just the first)."""

    def __init__(self, errors: list[DeckError]):
        self.errors = errors
        super().__init__("\n".join(map(str, errors)))


@dataclass
class Text:
    """Markdown text, exactly as written (separators and property lines aside)."""

    text: str
    line: int  # line of the first character


@dataclass
class Code:
    """Verbatim source: a fenced or indented code block, or an inline code span."""

    text: str
    line: int
    kind: str  # "fence", "indented" or "inline"


@dataclass
class Block:
    """`.name[...]`: content wrapped in classes; a block (div) when it spans lines, else a span."""

    classes: list[str]
    line: int
    children: list  # Text | Code | Block | StepMark
    block: bool


@dataclass
class StepMark:
    """A `--` line inside a class block (an extension: remark reads it as text)."""

    line: int


@dataclass
class Part:
    """A slide's first view, or one of its `--` steps (remark: a continued slide)."""

    line: int  # line of the slide's first line, or of the `--`
    children: list = field(default_factory=list)
    notes: list | None = None  # content after `???`, up to the next separator
    props: dict[str, str] = field(default_factory=dict)
    prop_lines: dict[str, int] = field(default_factory=dict)
    other_props: dict[str, str] = field(default_factory=dict)  # unknown keys in `<!-- k: v -->`
    includes: list[tuple[int, str]] = field(default_factory=list)  # talks: (line, "deck#name")
    inherited_notes: list = field(default_factory=list)  # notes of its layout or template


@dataclass
class Slide:
    path: str  # the file it was written in
    parts: list[Part]  # parts[0] is the slide, parts[1:] its steps

    @property
    def line(self) -> int:
        return self.parts[0].line

    @property
    def props(self) -> dict[str, str]:
        return self.parts[0].props

    @property
    def name(self) -> str | None:
        return self.props.get("name")

    @property
    def counted(self) -> bool:
        return self.props.get("count", "true").lower() != "false"


@dataclass
class Deck:
    path: str
    slides: list[Slide]  # shown slides, layouts and templates applied, excluded ones dropped
    references: list[str]  # link reference definitions of excluded slides (deck-global in remark)
    definitions: list[str] = field(default_factory=list)  # every link definition (talks need them all)
    warnings: list[DeckError] = field(default_factory=list)
    layouts: int = 0  # `layout: true` slides seen
    settings: dict[str, str] = field(default_factory=dict)  # talk header (minutes-per-slide, ...)
