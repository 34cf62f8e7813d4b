"""Talks: deck slides named by `deck#name` (ranges allowed), built like a deck, never copied."""

import math
import re
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

from handson import syntax
from handson.paths import ROOT, SLIDES
from handson.syntax import talk as talks
from test_build import build, make_project

DECK = "name: a\n# A\n---\nname: b\n## B {{ demo.x }}\n--\nstep\n---\n## unnamed\n---\nname: c\n## C ![](img/dot.svg) [back](#a)\n"


def resolve(talk_source: str, decks: dict[str, str], folder: Path = Path("/docs")) -> talks.Talk:
    parsed = {name: syntax.parse(text, folder / f"{name}.md") for name, text in decks.items()}
    return talks.resolve(syntax.parse(talk_source, folder / "talks" / "t.md", talk=True), parsed.get)


def test_includes_and_ranges_keep_the_order_given():
    talk = resolve("# Title\n---\ninclude: d#c\ninclude: d#a..d#b\ninclude: e\n---\n# End\n",
                   {"d": DECK, "e": "name: only\n# E\n"})
    assert [s.name for s in talk.slides] == [None, "c", "a", "b", "only", None]
    assert talk.steps == 1 and talk.minutes == math.ceil(6 * talks.MINUTES_PER_SLIDE + talks.MINUTES_PER_STEP)
    assert resolve("include: d#b..c\n", {"d": DECK}).slides[1].props == {}  # the unnamed slide between


@pytest.mark.parametrize("line, message", [
    ("include: d#nope", "t.md:3: unknown slide 'd#nope'"),
    ("include: x#a", "t.md:3: unknown deck 'x'"),
    ("include: d#c..a", "t.md:3: range 'd#c..a' runs backwards"),
    ("include: d#a\ninclude: d#a..b", "t.md:4: slide 'd#a' is already in this talk (line 3)"),
])
def test_bad_include_is_an_error_at_the_talks_line(line, message):
    with pytest.raises(syntax.DeckError) as e:
        resolve(f"# Title\n---\n{line}\n", {"d": DECK})
    assert str(e.value).startswith(str(Path("/docs/talks") / message))


def test_include_slide_holds_nothing_else():
    with pytest.raises(syntax.DeckError, match=r"t.md:2: a slide with `include:` lines holds nothing else"):
        resolve("class: x\ninclude: d#a\n\nsome text\n", {"d": DECK})


def test_error_inside_an_included_slide_points_at_the_deck(tmp_path):
    talk = resolve("include: d#b\n", {"d": DECK}, tmp_path)
    with pytest.raises(syntax.DeckError) as e:
        syntax.render(talk.slides, results={}, links=syntax.Links(str(tmp_path), "talks", "talks/t", talk=True))
    assert (e.value.path, e.value.line) == (str(tmp_path / "d.md"), 5)
    errors = syntax.check(talk.slides, [tmp_path], results={})
    assert [(e.path, e.line) for e in errors] == [(str(tmp_path / "d.md"), 5)]


def test_urls_and_links_resolve_from_the_talks_page(tmp_path):
    talk = resolve("include: d#c\n", {"d": DECK}, tmp_path)
    links = syntax.Links(str(tmp_path), "talks", "talks/t", talk.ids, talk.anchors, talk=True)
    md = syntax.render(talk.slides, links=links)
    assert "![](../img/dot.svg)" in md  # relative to talks/, where MkDocs reads the page
    assert "[back](../d.md#a)" in md  # slide a is not in the talk: its deck's page


def test_a_link_with_brackets_in_its_text_goes_to_the_deck_when_its_slide_is_left_out(tmp_path):
    # deck 5 cites a table as `[[4]](#references)`; the trends talk leaves that slide out
    deck = "name: a\n## A, cited [[4]](#refs), [![](img/dot.svg)](#refs)\n---\nname: refs\n## References\n"
    talk = resolve("include: d#a\n", {"d": deck}, tmp_path)
    md = syntax.render(talk.slides, links=syntax.Links(str(tmp_path), "talks", "talks/t", talk.ids,
                                                       talk.anchors, talk=True))
    assert "[[4]](../d.md#refs)" in md and "[![](../img/dot.svg)](../d.md#refs)" in md


def test_two_decks_with_the_same_name_get_distinct_ids():
    talk = resolve("include: d#a\ninclude: e#a\n", {"d": DECK, "e": "name: a\n# Other A\n"})
    assert sorted(talk.ids.values()) == ["d-a", "e-a"]


# ---------------------------------------------------------------- in a strict build


@pytest.fixture(scope="module")
def talk_site(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("talk"))
    result = build(project)
    assert result.returncode == 0, result.stderr
    return project


def sections(path: Path, selector: str = "section.slide") -> list:
    return BeautifulSoup(path.read_text(), "html.parser").select(selector)


def test_talk_builds_to_a_reader_page_and_a_slideshow_of_exactly_its_slides(talk_site):
    site = talk_site / "site" / "talks" / "short"
    listed = ["talk-title", "title", "first", "middle", "last", "closing"]
    assert [s.get("id") for s in sections(site / "index.html")] == listed
    assert [s.get("id") for s in sections(site / "slides.html", ".reveal .slides > section")] == listed
    closing = sections(site / "index.html")[-1]
    assert [a["href"] for a in closing.select("p a")] == ["#title", "../../01_fixture/#steps"]
    image = sections(site / "index.html")[2].find("img")
    assert (site / image["src"]).resolve() == (talk_site / "site" / "img" / "dot.svg")


def test_home_page_lists_the_talk_with_its_length(talk_site):
    home = BeautifulSoup((talk_site / "site" / "index.html").read_text(), "html.parser")
    row = [td.get_text() for td in home.select("table tbody tr td")]
    # minutes-per-slide: 2 in the talk's header; 6 slides, 1 step of a quarter minute
    assert row == ["A short talk", "6", "1", f"{math.ceil(6 * 2 + 0.25)} min"]
    assert home.select_one("table a")["href"] == "talks/short/"


def test_unknown_slide_fails_the_build_at_the_talks_line(tmp_path):
    project = make_project(tmp_path)
    talk = project / "docs" / "talks" / "short.md"
    talk.write_text(talk.read_text().replace("include: 01_fixture#title", "include: 01_fixture#nope"))
    result = build(project)
    assert result.returncode != 0
    assert "docs/talks/short.md:10: unknown slide '01_fixture#nope'" in result.stderr


def test_a_change_to_a_deck_slide_shows_in_the_talk(tmp_path):
    project = make_project(tmp_path)
    assert build(project).returncode == 0
    page = project / "site" / "talks" / "short" / "index.html"
    assert "A middle slide" in page.read_text()
    deck = project / "docs" / "02_second.md"
    deck.write_text(deck.read_text().replace("A middle slide", "An edited middle slide"))
    assert build(project).returncode == 0
    assert re.search(r"<h2[^>]*>An edited middle slide", page.read_text())
    assert "An edited middle slide" in (project / "site" / "talks" / "short" / "slides.html").read_text()


# ---------------------------------------------------------------- the course's own talks


def course_talk(name: str) -> talks.Talk:
    def load(deck_id: str):
        path = SLIDES / f"{deck_id}.md"
        return syntax.parse(syntax.read(path), path) if path.is_file() else None

    path = SLIDES / "talks" / f"{name}.md"
    return talks.resolve(syntax.parse(syntax.read(path), path, talk=True), load)


def test_every_talk_is_in_the_nav_under_talks():
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    listed = [next(iter(entry.values())) for entry in nav if "Talks" in entry][0]
    files = sorted(f"talks/{p.name}" for p in (SLIDES / "talks").glob("*.md"))
    assert sorted(next(iter(e.values())) for e in listed) == files


@pytest.mark.parametrize("name, minutes", [
    ("introduction-lecture", (50, 65)),  # the one-hour lecture
    ("trends", (60, 100)),  # a seminar talk
    ("hands-on-course", (300, 480)),  # a day, with the exercises
    ("gpu-workshop", (300, 480)),
])
def test_talk_lengths_fit_their_occasion(name, minutes):
    low, high = minutes
    assert low <= course_talk(name).minutes <= high


def test_gpu_workshop_adds_the_math_the_solutions_and_the_zoo_to_the_course():
    course, workshop = (
        {(Path(s.path).stem, s.name) for s in talk.slides if s.path != talk.path}
        for talk in map(course_talk, ("hands-on-course", "gpu-workshop")))
    assert workshop - course == {
        ("01_introduction", "today-more"), ("01_introduction", "play-time-faces"),
        ("02_neural_networks", "network-update"), ("02_neural_networks", "network-update-code"),
        ("03_convolutional_networks", "cnn-solution"), ("03_convolutional_networks", "cnn-solution-summary"),
        ("06_architectures", "zoo")}
    assert course - workshop == set()


def test_trends_talk_takes_the_e_items_in_order_as_its_comments_map_them():
    """The talk's comments map E01-E43 (the 2017 talk) to deck slides: every item once, in order,
    and the slides the talk includes are exactly those, in that order."""
    text = (SLIDES / "talks" / "trends.md").read_text()
    mapping = re.findall(r"^(E\d\d(?:, E\d\d)*) ([\w-]+)#([\w, -]+?)(?: \(.*\))?$", text, re.M)
    items = [int(e[1:]) for group, _, _ in mapping for e in group.split(", ")]
    assert items == list(range(1, 44))
    mapped = [(deck, name.strip()) for _, deck, names in mapping for name in names.split(",")]
    talk = course_talk("trends")
    included = [(Path(s.path).stem, s.name) for s in talk.slides if s.path != talk.path]
    assert included == mapped
