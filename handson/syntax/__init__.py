"""Remark-style slide syntax, split by job: `parse` (remark.js's rules), `render` (Markdown for the
reader page, which `handson.slideshow` cuts into reveal.js sections), `check` (what a deck points
at), `talk` (talks cut from the decks) and `inspect` (counts as remark.js would report them).

Errors carry the file and line: `slides/deck.md:12: reason`.
"""

from handson.syntax.check import check
from handson.syntax.model import Deck, DeckError, DeckErrors, Slide
from handson.syntax.parse import parse, read
from handson.syntax.render import Links, demos_used, render, slide_title
from handson.syntax.render import definitions as render_definitions

__all__ = ["Deck", "DeckError", "DeckErrors", "Links", "Slide", "check", "demos_used", "parse", "read",
           "render", "render_definitions", "slide_title"]
