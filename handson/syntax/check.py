"""Check what a deck points at: images, media and other resources, snippets, demo results.

Every problem of a deck is collected (each with its file and line) before anything fails, so
one build lists every missing file. The site must work offline: a resource on another host
(an image, a script, a stylesheet, a font, a video...) is an error; a link to read is not.
"""

import re
from pathlib import Path

from handson.syntax.model import Code, DeckError, Slide, Text
from handson.syntax.scan import CSS_URL, IMAGE, RESULT, html_tags, lookup, math_split, resource_urls, walk

SNIPPET = re.compile(r"^\s*(-{1,}8<-{1,})\s*(?:[\"']([^\"']*)[\"'])?\s*$")
CSS_IMPORT = re.compile(r"@import\s+(?:url\()?\s*['\"]?([^'\")\s;]+)")


def check(slides: list[Slide], base_dirs: list[Path], results: dict | None = None) -> list[DeckError]:
    """Every problem in the slides: missing or external resources, bad snippets, unknown results.

    Relative paths are resolved from each slide's own file; snippets from `base_dirs`. Results
    are checked only when `results` is given.
    """
    problems: dict[tuple, DeckError] = {}
    for slide in slides:
        for error in _check_slide(slide, base_dirs, results):
            problems.setdefault((error.path, error.line, error.reason), error)
    return sorted(problems.values(), key=lambda e: (e.path, e.line))


def _check_slide(slide: Slide, base_dirs: list[Path], results: dict | None):
    folder = Path(slide.path).parent
    base = slide.parts[0]
    if "background-image" in base.props:
        for m in CSS_URL.finditer(base.props["background-image"]):
            yield from _local(m.group(2), folder, slide.path, base.prop_lines["background-image"])
    nodes = []
    for part in slide.parts:
        nodes += walk(part.children + (part.notes or []) + [n for notes in part.inherited_notes for n in notes])
    for node in nodes:
        if not isinstance(node, (Text, Code)):
            continue
        for offset, text in enumerate(node.text.split("\n")):
            m = SNIPPET.match(text)
            if m and m.group(2) is not None:
                yield from _snippet(m.group(2), base_dirs, slide.path, node.line + offset)
        if results is not None:
            for m in RESULT.finditer(node.text):
                if not m.group(1):
                    try:
                        lookup(results, m.group(2), slide.path, node.line + node.text.count("\n", 0, m.start()))
                    except DeckError as e:
                        yield e
        if isinstance(node, Text):
            yield from _resources(node, folder, slide.path)


def _resources(node: Text, folder: Path, path: str):
    line = node.line
    for is_math, _, piece in math_split(node.text):
        if not is_math:
            at = lambda offset: line + piece.count("\n", 0, offset)  # noqa: E731
            for m in IMAGE.finditer(piece):
                yield from _local(m.group(2), folder, path, at(m.start()))
            for start, _, tag, attrs in html_tags(piece):
                for _, url in resource_urls(tag, attrs):
                    yield from _local(url, folder, path, at(start))
            for m in CSS_IMPORT.finditer(piece):
                yield from _local(m.group(1), folder, path, at(m.start()))
        line += piece.count("\n")


def _local(src: str, folder: Path, path: str, line: int):
    """A resource must be a file shipped with the site."""
    if src.startswith(("data:", "#", "{{")):
        return
    if re.match(r"^([a-zA-Z][\w+.-]*:)?//", src) or re.match(r"^[a-zA-Z][\w+.-]*:", src):
        yield DeckError(path, line, f"external resource '{src}': the site must work offline; "
                                    "ship the file (or make it a link the reader follows)")
        return
    target = (folder / src.split("#")[0].split("?")[0]).resolve()
    if not target.is_file():
        hint = ("run `make figures`: it is a demo output" if "_generated/" in src
                else f"looked for {target}")
        yield DeckError(path, line, f"missing file '{src}' ({hint})")


def _snippet(spec: str, base_dirs: list[Path], path: str, line: int):
    if not spec.strip():
        return
    if re.match(r"^[a-z]+://", spec):
        yield DeckError(path, line, f"snippet '{spec}' is a URL: includes must be local files")
        return
    file, _, rest = spec.partition(":")
    candidate = next((base / file for base in base_dirs if (base / file).is_file()), None)
    if candidate is None:
        hint = "; run `make figures`: it is a demo output" if "_generated/" in file else ""
        yield DeckError(path, line, f"snippet file '{file}' not found (looked in {', '.join(map(str, base_dirs))}){hint}")
        return
    if not rest:
        return
    text = candidate.read_text(encoding="utf-8")
    if re.fullmatch(r"[\d:,-]+", rest):
        total = text.count("\n") + 1
        for bound in re.findall(r"\d+", rest):
            if int(bound) > total:
                yield DeckError(path, line, f"snippet '{spec}': line {bound} is past the end of {file} ({total} lines)")
        return
    if f"[start:{rest}]" not in text or f"[end:{rest}]" not in text:
        yield DeckError(path, line, f"snippet section '{rest}' not found in {file} "
                                    f"(mark it with `--8<-- [start:{rest}]` and `--8<-- [end:{rest}]`)")
