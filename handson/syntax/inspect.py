"""Counts of a deck as remark.js reports them, to compare the parser with remark on real decks.

remark turns a deck into slide objects: one per slide and one per `--` step (a "continued"
slide that inherits the previous one's properties, except name, layout and count). Its
`slideshow.getSlides()` is the list this mirrors; the JavaScript in docs/CONTRACTS.md prints
the same JSON from a deck opened in remark.
"""

from pathlib import Path

from handson.syntax.model import Deck
from handson.syntax.parse import NOT_INHERITED, parse, read
from handson.syntax.talk import count_steps, resolve


def counts(deck: Deck) -> dict:
    """slides, steps (continued slides), remark_slides (their sum), notes and property counts."""
    objects = []  # (properties, has notes) per remark slide object
    for slide in deck.slides:
        previous = None
        for part in slide.parts:
            props = {**part.other_props, **part.props}
            if previous is not None:  # a step inherits from the object before it
                inherited = {k: v for k, v in previous.items() if k not in NOT_INHERITED}
                if "class" in inherited and "class" in props:
                    props["class"] = f"{inherited['class']}, {props['class']}"
                props = {**inherited, **props}
            notes = any(getattr(n, "text", "x").strip() for n in part.notes or [])
            objects.append((props, notes))
            previous = props
    properties: dict[str, int] = {}
    for props, _ in objects:
        for key in props:
            properties[key] = properties.get(key, 0) + 1
    steps = sum(len(s.parts) - 1 for s in deck.slides)
    return {
        "path": deck.path,
        "slides": len(deck.slides),
        "steps": steps,
        "remark_slides": len(objects),
        "notes": sum(notes for _, notes in objects),
        "properties": dict(sorted(properties.items())),
        "names": [props["name"] for props, _ in objects if "name" in props],
        "layouts": deck.layouts,
        # Steps inside class blocks: fragments here, plain text in remark (not in remark's counts).
        "steps_in_class_blocks": sum(count_steps(s) for s in deck.slides) - steps,
        "warnings": [str(w) for w in deck.warnings],
    }


def inspect(path: str | Path) -> dict:
    """Counts for a deck file; for a talk (a file in a `talks/` folder), also its resolved length."""
    path = Path(path)
    is_talk = path.parent.name == "talks"
    deck = parse(read(path), str(path), talk=is_talk)
    if not is_talk:
        return counts(deck)
    docs = path.parent.parent

    def load(deck_id):
        file = docs / f"{deck_id}.md"
        return parse(read(file), str(file)) if file.is_file() else None

    talk = resolve(deck, load)
    return {"path": str(path), "talk": True, "slides": len(talk.slides), "steps": talk.steps,
            "minutes": talk.minutes, "decks": [d.path for d in talk.decks],
            "names": [s.name for s in talk.slides], "warnings": [str(w) for w in deck.warnings]}
