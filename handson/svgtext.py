"""The smallest text in an SVG figure, in the SVG's own units, so a browser check can scale it.

Matplotlib writes text either as `<text>` (`svg.fonttype: none`) or, as the course style does
(`svg.fonttype: path`), as glyph outlines: a group `translate(x y) scale(s -s)` of `<use>`d
glyphs, where s = font size / 100 (matplotlib's TextToPath.FONT_SCALE) and a comment before
the group holds the string. Both are read here. Mathtext sub- and superscripts (glyphs scaled
0.7 inside the group) count at the size of their text, as a label's exponent is meant to be
smaller than the label.
"""

import html
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SVG = "{http://www.w3.org/2000/svg}"
FONT_SCALE = 100  # matplotlib.textpath.TextToPath.FONT_SCALE: glyph units per point of font size
# Absolute lengths in CSS px (an SVG user unit is one px when there is no viewBox).
UNITS = {"": 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4}
TRANSFORM = re.compile(r"(matrix|translate|scale|rotate|skewX|skewY)\s*\(([^)]*)\)")
FONT_SIZE = re.compile(r"font-size\s*:\s*([\d.]+)\s*(px|pt)?|font\s*:[^;]*?([\d.]+)\s*(px|pt)")


@dataclass(frozen=True)
class SvgText:
    """View box size (user units) and the smallest text in it (user units, with its string)."""

    width: float
    height: float
    min_size: float | None  # None: the figure has no text
    label: str = ""


@lru_cache(maxsize=None)
def _read(path: str, mtime: float) -> SvgText:
    root = ET.parse(path, parser=ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))).getroot()
    width, height = _view_size(root)
    sizes = list(_texts(root, 1.0, ""))
    if not sizes:
        return SvgText(width, height, None)
    size, label = min(sizes, key=lambda s: s[0])
    return SvgText(width, height, round(size, 3), label)


def smallest_text(path: Path) -> SvgText:
    """The view box and smallest text of the SVG at `path` (cached while the file is unchanged)."""
    return _read(str(path), path.stat().st_mtime)


def _view_size(root) -> tuple[float, float]:
    box = root.get("viewBox")
    if box:
        _, _, w, h = (float(v) for v in re.split(r"[\s,]+", box.strip()))
        return w, h
    return _length(root.get("width", "300")), _length(root.get("height", "150"))


def _length(text: str) -> float:
    match = re.fullmatch(r"\s*([\d.]+)\s*([a-z]*)\s*", text)
    return float(match.group(1)) * UNITS.get(match.group(2), 1.0) if match else 0.0


def _scale(transform: str | None) -> tuple[float, bool]:
    """(linear scale factor, flips y) of an SVG transform list."""
    a, b, c, d = 1.0, 0.0, 0.0, 1.0
    for name, args in TRANSFORM.findall(transform or ""):
        v = [float(x) for x in re.split(r"[\s,]+", args.strip()) if x]
        if name == "matrix":
            m = v[:4]
        elif name == "scale":
            m = [v[0], 0.0, 0.0, v[1] if len(v) > 1 else v[0]]
        elif name == "rotate":
            t = math.radians(v[0])
            m = [math.cos(t), math.sin(t), -math.sin(t), math.cos(t)]
        elif name in ("skewX", "skewY"):
            t = math.tan(math.radians(v[0]))
            m = [1.0, 0.0, t, 1.0] if name == "skewX" else [1.0, t, 0.0, 1.0]
        else:
            continue
        a, b, c, d = a * m[0] + c * m[1], b * m[0] + d * m[1], a * m[2] + c * m[3], b * m[2] + d * m[3]
    det = a * d - b * c
    return math.sqrt(abs(det)), det < 0


def _texts(element, scale: float, comment: str):
    """Yield (size in user units, string) for every text under `element`."""
    for child in element:
        if child.tag is ET.Comment:
            comment = html.unescape((child.text or "").strip())  # matplotlib escapes &, <, >
            continue
        factor, flips = _scale(child.get("transform"))
        here = scale * factor
        tag = child.tag.removeprefix(SVG) if isinstance(child.tag, str) else ""
        if tag == "g" and flips and child.find(f".//{SVG}use") is not None:
            yield here * FONT_SCALE, comment  # matplotlib text as glyph paths
        elif tag in ("text", "tspan"):
            size = _font_size(child)
            if size and "".join(child.itertext()).strip():
                yield here * size, "".join(child.itertext()).strip()
            yield from _texts(child, here, comment)
        elif tag not in ("defs", "clipPath", "mask", "symbol", "metadata", "style"):
            yield from _texts(child, here, comment)


def _font_size(element) -> float | None:
    if element.get("font-size"):
        return _length(element.get("font-size"))
    match = FONT_SIZE.search(element.get("style", ""))
    if not match:
        return None
    value, unit = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    return float(value) * UNITS[unit or "px"]
