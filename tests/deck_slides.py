"""A deck's slides as plain records, for tests of what a deck contains (names, notes, questions).

Deliberately independent of `handson.syntax`: `---` lines outside code fences separate slides,
leading `key: value` lines are properties, `???` starts the notes.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

from handson.paths import ROOT

PROPERTY = re.compile(r"^([a-z-]+):\s*(.*)$")
LINK = re.compile(r"\]\(#([\w-]+)\)")
SNIPPET = re.compile(r'--8<--\s+"([^"]+)"')
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


@dataclass
class Slide:
    props: dict = field(default_factory=dict)
    body: str = ""
    notes: str = ""

    @property
    def name(self) -> str:
        return self.props.get("name", "")

    @property
    def counted(self) -> bool:
        return self.props.get("count", "true") != "false"


def slides(deck: str) -> list[Slide]:
    """The slides of slides/<deck>.md, in order."""
    chunks, fence = [[]], False
    for line in (ROOT / "slides" / f"{deck}.md").read_text(encoding="utf-8").split("\n"):
        if line.lstrip().startswith("```"):
            fence = not fence
        if not fence and line.rstrip() == "---":
            chunks.append([])
        else:
            chunks[-1].append(line)
    out = []
    for chunk in chunks:
        slide, i = Slide(), 0
        while i < len(chunk) and (m := PROPERTY.match(chunk[i])):
            slide.props[m.group(1)] = m.group(2).strip()
            i += 1
        text = "\n".join(chunk[i:])
        slide.body, _, slide.notes = text.partition("\n???\n")
        out.append(slide)
    return out


def by_name(deck: str) -> dict[str, Slide]:
    return {s.name: s for s in slides(deck)}


def snippets(slide: Slide) -> list[str]:
    """The files (and sections) a slide includes, in order."""
    return SNIPPET.findall(slide.body)


def images(slide: Slide) -> list[Path]:
    return [Path(src) for src in IMAGE.findall(slide.body)]


def check_structure(deck: str, questions: range = range(2, 5)) -> list[Slide]:
    """What every deck must have: unique names, notes, a full outline, questions with answers
    on uncounted slides, a recap and a references slide listing every arXiv id cited."""
    deck_slides = slides(deck)
    names = [s.name for s in deck_slides]
    assert all(names), [s.body[:60] for s in deck_slides if not s.name]
    assert len(names) == len(set(names)), "slide names must be unique"
    assert not [n for s, n in zip(deck_slides, names) if not s.notes.strip()], "slides without notes"
    assert "cited" in deck_slides[0].body, "the title slide says which numbers are cited"

    outline = by_name(deck)["outline"]
    targets = LINK.findall(outline.body)
    assert set(targets) <= set(names), set(targets) - set(names)
    assert {"recap", "references"} <= set(targets)

    asked = [i for i, s in enumerate(deck_slides) if s.body.lstrip().startswith(("## Question", "## Exercise"))]
    assert len(asked) in questions, len(asked)
    for i in asked:  # each question is followed by its answer, which keeps the slide number
        assert deck_slides[i].counted and not deck_slides[i + 1].counted, deck_slides[i].name
        assert deck_slides[i].name in targets, f"the outline lists question {deck_slides[i].name}"

    text = "\n".join(s.body for s in deck_slides)
    references = by_name(deck)["references"].body
    for arxiv in set(re.findall(r"arXiv:\d{4}\.\d{4,5}", text)):
        assert arxiv in references, f"{arxiv} is cited but not in the references"
    return deck_slides
