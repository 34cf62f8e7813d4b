"""Talks: a talk file names deck slides by `deck#name` (ranges allowed) between slides of its own.

A talk is a deck file under `slides/talks/`. A slide of it that holds only `include:` lines is
replaced by the deck slides they name, in the order given; its other slides are its own
(a title, a closing slide). Nothing is copied: the talk is rendered from the decks' files at
build time, so a change to a deck slide shows in every talk that includes it, and an error
inside an included slide points at the deck's own file and line.

    include: 02_neural_networks#neuron             one slide
    include: 02_neural_networks#neuron..mlp         a range, in deck order (ends included)
    include: 02_neural_networks                    every shown slide of the deck
"""

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from handson.syntax.model import Block, Deck, DeckError, Slide, StepMark

INCLUDE = re.compile(r"^(?P<deck>[\w-]+)(?:#(?P<first>[\w-]+)(?:\s*\.\.\s*(?:(?P<deck2>[\w-]+)#)?(?P<last>[\w-]+))?)?$")
MINUTES_PER_SLIDE = 1.5  # a slide shown and talked through
MINUTES_PER_STEP = 0.25  # each `--` reveal adds a little


@dataclass
class Talk:
    path: str
    slides: list[Slide]  # the talk's own slides and the included ones, in order
    decks: list[Deck]  # the decks it draws from, in order of first use
    ids: dict[int, str]  # id(slide) → section id, where a name is taken twice in the talk
    anchors: dict[tuple[str, str], str]  # (file, name) → section id on the talk's page
    settings: dict[str, str]

    @property
    def steps(self) -> int:
        return sum(count_steps(s) for s in self.slides)

    @property
    def minutes(self) -> int:
        per_slide = float(self.settings.get("minutes-per-slide", MINUTES_PER_SLIDE))
        per_step = float(self.settings.get("minutes-per-step", MINUTES_PER_STEP))
        return math.ceil(len(self.slides) * per_slide + self.steps * per_step)


def resolve(talk: Deck, load: Callable[[str], Deck | None]) -> Talk:
    """Replace the talk's `include:` slides by the deck slides they name (`load(deck_id)`)."""
    slides, decks, seen = [], {}, {}
    for slide in talk.slides:
        if not slide.parts[0].includes:
            slides.append(slide)
            continue
        for line, spec in slide.parts[0].includes:
            chosen = _select(spec.strip(), talk.path, line, load, decks)
            for s in chosen:
                if id(s) in seen:
                    raise DeckError(talk.path, line, f"slide '{Path(s.path).stem}#{s.name or s.line}' is already "
                                                     f"in this talk (line {seen[id(s)]})")
                seen[id(s)] = line
            slides += chosen
    ids, anchors = _ids(slides, talk.path)
    return Talk(talk.path, slides, list(decks.values()), ids, anchors, dict(talk.settings))


def count_steps(slide: Slide) -> int:
    """The slide's `--` steps: the slide's own and those inside class blocks."""
    def marks(children):
        return sum(1 if isinstance(c, StepMark) else marks(c.children) if isinstance(c, Block) else 0
                   for c in children)
    return len(slide.parts) - 1 + sum(marks(p.children) for p in slide.parts)


def _select(spec: str, path: str, line: int, load, decks: dict) -> list[Slide]:
    m = INCLUDE.match(spec)
    if m is None:
        raise DeckError(path, line, f"cannot read include '{spec}': write deck#name, deck#first..last or deck")
    deck_id = m["deck"]
    deck = decks.get(deck_id) or load(deck_id)
    if deck is None:
        raise DeckError(path, line, f"unknown deck '{deck_id}'")
    decks.setdefault(deck_id, deck)
    if m["first"] is None:
        return list(deck.slides)
    if m["deck2"] not in (None, deck_id):
        raise DeckError(path, line, f"range '{spec}' runs across decks: name one range per deck")
    names = [s.name for s in deck.slides]

    def index(name):
        if name not in names:
            raise DeckError(path, line, f"unknown slide '{deck_id}#{name}'")
        return names.index(name)

    first = index(m["first"])
    last = index(m["last"]) if m["last"] else first
    if last < first:
        raise DeckError(path, line, f"range '{spec}' runs backwards: '{m['last']}' comes before "
                                    f"'{m['first']}' in {deck_id}")
    return deck.slides[first:last + 1]


def _ids(slides: list[Slide], talk_path: str) -> tuple[dict[int, str], dict[tuple[str, str], str]]:
    """Section ids: a slide's name, or `deck-name` where two slides of the talk share the name."""
    taken = Counter(s.name for s in slides if s.name)
    ids, anchors = {}, {}
    for slide in slides:
        if not slide.name:
            continue
        section_id = slide.name
        if taken[slide.name] > 1 and slide.path != talk_path:
            section_id = f"{Path(slide.path).stem}-{slide.name}"
            ids[id(slide)] = section_id
        anchors[(slide.path, slide.name)] = section_id
    for name, count in taken.items():  # the talk's own slides may link to any name it holds once
        if count == 1:
            anchors.setdefault((talk_path, name), name)
    return ids, anchors
