"""The preflight fails, naming deck, slide and pixels, on each kind of slide that does not fit or read.

A fixture deck (tests/fixtures/preflight) has one offending slide per rule; it is built with
mkdocs and checked in headless Chromium at both aspects.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from handson import browser, preflight, svgtext
from handson.figures import save, style
from handson.paths import ROOT

FIXTURE = Path(__file__).parent / "fixtures" / "preflight"
DECK = "01_offenders"


def build_fixture(tmp: Path, fixture: Path = FIXTURE) -> Path:
    """Copy a fixture project to `tmp`, build it with mkdocs, return its site folder."""
    project = tmp / "project"
    shutil.copytree(fixture, project)
    config = (project / "mkdocs.yml.in").read_text().replace("@NODE_MODULES@", str(ROOT / "node_modules"))
    (project / "mkdocs.yml").write_text(config)
    with style():  # course style, text as glyph paths; a wide figure shrunk to fit: ~6 px text
        fig = Figure(figsize=(16, 4))
        fig.add_subplot().set_title("tiny title", fontsize=6)
    save(fig, project / "docs" / "img" / "tiny.svg")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "-f", str(project / "mkdocs.yml")],
                            cwd=project, capture_output=True, text=True,
                            env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    # The build refuses a remote image; slip one into the slideshow as a bug in the build could.
    show = project / "site" / DECK / "slides.html"
    text = re.sub(r"<p>EXTERNAL-PICTURE[^<]*</p>", '<img src="http://example.com/picture.png" alt="remote">',
                  show.read_text())
    show.write_text(text)
    return project / "site"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build_fixture(tmp_path_factory.mktemp("preflight"))


@pytest.fixture(scope="module")
def problems(site) -> list[str]:
    return [str(p) for p in preflight.check(site)]


def lines(problems: list[str], pattern: str) -> list[str]:
    return [p for p in problems if re.search(pattern, p)]


def px(line: str) -> float:
    return float(re.search(r"by ([\d.]+) px$", line).group(1))


@pytest.mark.browser
@pytest.mark.parametrize("aspect", ["16:9", "4:3"])
def test_a_slide_that_fits_passes(problems, aspect):
    assert lines(problems, rf"^\[{aspect}\] {DECK} slide 1 \(fits\)") == []


@pytest.mark.browser
@pytest.mark.parametrize("aspect", ["16:9", "4:3"])
def test_too_long_code_block(problems, aspect):
    found = lines(problems, rf"^\[{aspect}\] {DECK} slide 2 \(long-code\): code block wider than its box, by [\d.]+ px$")
    assert found and px(found[0]) > 100, problems


@pytest.mark.browser
def test_overflowing_slide(problems):
    found = lines(problems, rf"^\[16:9\] {DECK} slide 3 \(overflow\): text \"twenty\" beyond the canvas bottom, by [\d.]+ px$")
    assert found and px(found[0]) > 20, problems


@pytest.mark.browser
def test_tiny_text_figure(problems):
    found = lines(problems, rf"^\[16:9\] {DECK} slide 4 \(tiny-text\): figure text \"tiny title\" in tiny.svg "
                            r"([\d.]+) px, under 16 px, by [\d.]+ px$")
    assert found, problems
    size = float(re.search(r"tiny.svg ([\d.]+) px", found[0]).group(1))
    assert 4 < size < 8  # 6 pt in a 1152-pt-wide figure, shown ~1200 px wide


@pytest.mark.browser
def test_footnote_over_content(problems):
    found = lines(problems, rf"^\[16:9\] {DECK} slide 5 \(footnote\): footnote overlaps text \"line [a-z]+\", by [\d.]+ px$")
    assert found, problems


@pytest.mark.browser
def test_non_local_request_and_broken_image(problems):
    assert lines(problems, rf"^\[16:9\] {DECK}: request to a non-local host: http://example.com/picture.png$")
    assert lines(problems, rf"^\[16:9\] {DECK} slide 6 \(external\): broken image picture.png$")


@pytest.mark.browser
def test_only_the_offending_slides_are_named(problems):
    slides = {re.match(r"\[[\d:]+\] \S+(?: slide (\d+))?", p).group(1) for p in problems}
    assert slides <= {"2", "3", "4", "5", "6", None}, problems


@pytest.mark.browser
@pytest.mark.parametrize("aspect", ["16:9", "4:3"])
def test_slide_number_and_reader_link_cover_neither_the_arrows_nor_the_canvas(site, aspect):
    from playwright.sync_api import sync_playwright

    (width, height), query = preflight.ASPECTS[aspect]
    with browser.serve(site) as base, sync_playwright() as p:
        chromium = browser.launch(p)
        page = chromium.new_page(viewport={"width": width, "height": height})
        page.goto(f"{base}{DECK}/slides.html{query}#/1")
        page.wait_for_function("window.Reveal && Reveal.isReady()")
        boxes = page.evaluate("""Object.fromEntries(Object.entries({canvas: '.reveal .slides', number: '.slide-number',
            link: '.reader-link', next: '.navigate-right', previous: '.navigate-left'})
            .map(([k, sel]) => { const r = document.querySelector(sel).getBoundingClientRect();
                                 return [k, [r.left, r.top, r.right, r.bottom]]; }))""")
        chromium.close()

    def meet(a, b):
        return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])

    for label in ("number", "link"):
        assert not meet(boxes[label], boxes["canvas"]), boxes
        assert not any(meet(boxes[label], boxes[arrow]) for arrow in ("next", "previous")), boxes


def test_smallest_text_of_a_matplotlib_svg_with_glyph_paths(tmp_path):
    with style():
        fig = Figure(figsize=(4, 3))
        ax = fig.add_subplot()
        ax.set_title("title", fontsize=20)
        ax.set_xlabel("$10^{-3}$ small", fontsize=9)
        ax.tick_params(labelsize=12)
    path = save(fig, tmp_path / "f.svg")
    text = svgtext.smallest_text(path)
    assert "<text" not in path.read_text()  # the style writes glyph outlines
    assert (text.min_size, text.label) == (9.0, "$10^{-3}$ small")  # the exponent counts as its label
    assert 250 < text.width < 300  # view box in points: 4 in ≈ 288 pt less the tight crop


def test_smallest_text_of_an_svg_with_text_elements(tmp_path):
    path = tmp_path / "t.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 100">'
                    '<text font-size="20">big</text><g transform="scale(0.5)">'
                    '<text style="font: 12px sans-serif">half</text></g></svg>')
    assert svgtext.smallest_text(path) == svgtext.SvgText(200, 100, 6.0, "half")


def test_allowlist_needs_a_reason(tmp_path):
    allow = tmp_path / "allow.yml"
    allow.write_text("- slide: 01_offenders#long-code\n  what: code block\n")
    with pytest.raises(SystemExit, match="reason"):
        preflight.load_allowlist(allow)
    allow.write_text("- slide: 01_offenders#long-code\n  what: code block\n  reason: shown scrolled on purpose\n")
    entries = preflight.load_allowlist(allow)
    problem = preflight.Problem("4:3", DECK, 2, "long-code", "code block wider than its box", 40)
    assert preflight.allowed(problem, entries)
    assert not preflight.allowed(preflight.Problem("4:3", DECK, 3, "overflow", "code block wider", 1), entries)
    assert str(problem) == "[4:3] 01_offenders slide 2 (long-code): code block wider than its box, by 40 px"


def test_raster_text_size_comes_from_the_style(tmp_path):
    path = tmp_path / "s.mplstyle"
    path.write_text("figure.dpi: 80\nfont.size: 16\nxtick.labelsize: 12  # ticks\nlegend.fontsize: medium\n")
    assert preflight.raster_text_px(path) == pytest.approx(12 * 80 / 72)  # the smallest size, at the dpi
