"""Remark-style slide syntax, one job per module: `parse` (remark.js's rules), `render` (Markdown
for the reader page, which `handson.slideshow` cuts into reveal.js sections), `check` (what a
deck points at), `talk` (talks cut from the decks), `inspect` (counts as remark.js reports
them); `scan` (math, HTML tags and results in a slide's text) and `links` (URLs from a slide's
file to the page showing it) serve them.

Errors carry the file and line: `slides/deck.md:12: reason`.
"""

from handson.syntax.check import check
from handson.syntax.model import Deck, DeckError, DeckErrors, Slide
from handson.syntax.links import Links
from handson.syntax.parse import parse, read
from handson.syntax.render import definitions as render_definitions
from handson.syntax.render import render, slide_title
from handson.syntax.scan import demos_used

__all__ = ["Deck", "DeckError", "DeckErrors", "Links", "Slide", "check", "demos_used", "parse", "read",
           "render", "render_definitions", "slide_title"]
