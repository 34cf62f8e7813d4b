"""The remark-style slide syntax: parsing, rendering to Markdown, and errors with file:line."""

import markdown
import pytest
from bs4 import BeautifulSoup

from handson import syntax
from handson.slideshow import build_slideshow

EXTENSIONS = ["md_in_html", "tables", "pymdownx.superfences", "pymdownx.highlight",
              "pymdownx.arithmatex"]
CONFIGS = {"pymdownx.arithmatex": {"generic": True}, "pymdownx.highlight": {"use_pygments": True}}


def to_html(source: str, **kw) -> BeautifulSoup:
    md = syntax.render(syntax.parse(source, "deck.md"), **kw)
    return BeautifulSoup(markdown.markdown(md, extensions=EXTENSIONS, extension_configs=CONFIGS), "html.parser")


def slides(source: str):
    return to_html(source).find_all("section", class_="slide")


def test_separators_make_slides_and_steps_make_fragments():
    soup = to_html("# One\n---\n# Two\n- a\n--\n- b\n--\n- c\n")
    sections = soup.find_all("section", class_="slide")
    assert [s.h1.text for s in sections] == ["One", "Two"]
    fragments = sections[1].find_all("div", class_="fragment")
    assert [f.get_text(strip=True) for f in fragments] == ["b", "c"]


def test_separators_inside_code_fences_are_code():
    soup = to_html("```\n---\n--\n???\n```\n")
    assert len(soup.find_all("section")) == 1
    assert soup.find("code").get_text() == "---\n--\n???\n"


def test_properties_become_section_attributes():
    (section,) = slides("class: center, middle\nname: intro\ncount: false\n\n# Hi\n")
    assert section["class"] == ["slide", "center", "middle"]
    assert section["id"] == "intro"
    assert section["data-count"] == "false"
    assert section.h1.text == "Hi"


@pytest.mark.parametrize("value", ["true", "True", "TRUE"])
def test_exclude_is_case_insensitive(value):
    assert [s.h1.text for s in slides(f"# A\n---\nexclude: {value}\n# B\n---\n# C\n")] == ["A", "C"]


def test_unknown_property_is_an_error_with_line():
    with pytest.raises(syntax.DeckError, match=r"^deck.md:4: unknown slide property 'colour'"):
        syntax.parse("# A\n---\nclass: x\ncolour: red\n# B\n", "deck.md")


def test_bad_boolean_is_an_error():
    with pytest.raises(syntax.DeckError, match=r"deck.md:1: property 'count' must be true or false"):
        syntax.parse("count: maybe\n# A\n", "deck.md")


def test_notes_follow_triple_question_marks():
    (section,) = slides("# A\nshown\n???\nsecret *note*\n")
    notes = section.find("aside", class_="notes")
    assert notes.get_text().strip() == "secret note"
    assert notes.em.text == "note"
    assert "secret" not in section.find("p").text


def test_inline_classes_chain_and_nest():
    soup = to_html(".medium.red[big *red*] and .medium[.blue[data] availability]\n")
    outer = soup.find_all("span", class_="medium")
    assert outer[0]["class"] == ["medium", "red"] and outer[0].em.text == "red"
    assert outer[1].find("span", class_="blue").text == "data"
    assert outer[1].get_text() == "data availability"


def test_block_class_holds_markdown_and_steps():
    soup = to_html(".left-column[\n## Left\n- a\n--\n- b\n]\n.right-column[\ntext\n]\n")
    left = soup.find("div", class_="left-column")
    assert left.h2.text == "Left"
    assert left.find("div", class_="fragment").li.text == "b"
    assert soup.find("div", class_="right-column").p.text == "text"


def test_code_and_brackets_are_not_classes():
    soup = to_html("x.shape[0] and `a.b[c]` and [link](#x) and .hidden[aa]\n")
    assert "x.shape[0]" in soup.get_text()
    assert soup.code.text == "a.b[c]"
    assert soup.find("span", class_="hidden").text == "aa"


def test_unclosed_class_reports_its_line():
    with pytest.raises(syntax.DeckError, match=r"^deck.md:5: unclosed '.red\['"):
        syntax.render(syntax.parse("# A\n---\n# B\n\n.red[oops\n\nmore\n", "deck.md"))


def test_starred_code_lines_are_highlighted():
    soup = to_html("```python\nx = 1\n*y = 2\nz = 3\n```\n")
    assert soup.find("span", class_="hll").get_text() == "y = 2\n"
    assert "*y" not in soup.get_text()


def test_math_accepts_remark_escaped_underscores():
    md = syntax.render(syntax.parse(r"$\nabla\_{z} l$ and $$a\_i = b_j$$" + "\n", "deck.md"))
    assert r"$\nabla_{z} l$" in md and "$$a_i = b_j$$" in md
    assert r"\_" in syntax.render(syntax.parse(r"not math: a\_b" + "\n", "deck.md"))


def test_link_references_are_deck_global_even_from_excluded_slides():
    soup = to_html("[before][r1] [after][r2]\n---\n[r2]: https://b.example\n---\nexclude: true\n[r1]: https://a.example\n")
    hrefs = [a["href"] for a in soup.find_all("a")]
    assert hrefs == ["https://a.example", "https://b.example"]


def test_layout_and_template():
    deck = syntax.parse("layout: true\nclass: center\n.footnote[foot]\n---\n# A\n---\nname: base\nlayout: false\n"
                        "# Base\n{{content}}\n---\ntemplate: base\nchild\n", "deck.md")
    assert [s.props.get("class") for s in deck.slides] == ["center", "center", "center"]
    assert [t for _, t in deck.slides[2].content if t] == [".footnote[foot]", "# Base", "child"]


def test_results_are_substituted_and_unknown_keys_fail():
    results = {"train": {"acc": 0.97312, "n": 1258, "nested": {"x": 2}, "params": [16, 20]}}
    md = syntax.render(syntax.parse("acc {{ train.acc:.1% }} n={{ train.n:, }} x={{train.nested.x}} {{ train.params.1 }}\n"), results)
    assert "acc 97.3% n=1,258 x=2 20" in md
    with pytest.raises(syntax.DeckError, match=r"deck.md:2: demo 'train' has no result 'train.loss'"):
        syntax.render(syntax.parse("ok\n{{ train.loss }}\n", "deck.md"), results)
    with pytest.raises(syntax.DeckError, match=r"deck.md:1: no results for demo 'nope'"):
        syntax.render(syntax.parse("{{ nope.x }}\n", "deck.md"), results)


def test_step_between_table_rows_reveals_rows():
    soup = to_html("| a | b |\n|---|---|\n| 1 | 2 |\n--\n| 3 | 4 |\n")
    rows = soup.find_all("tr")
    assert len(rows) == 3 and rows[2].find("span", class_="step-row") is not None
    show = BeautifulSoup(build_slideshow(str(soup), title="t", root="../"), "html.parser")
    assert [r.get("class") for r in show.find_all("tr")] == [None, None, ["fragment"]]


def test_empty_alt_text_comes_from_the_demo_caption():
    md = syntax.render(syntax.parse("![](_generated/02_nn/act/act.svg)\n"), captions={"02_nn/act": "Activation functions"})
    assert "![Activation functions](_generated/02_nn/act/act.svg)" in md


def test_line_numbers_account_for_an_offset():
    with pytest.raises(syntax.DeckError, match=r"deck.md:13: unknown slide property"):
        syntax.parse("bogus: 1\n", "deck.md", first_line=13)


def test_references_missing_image_snippet_and_external_sources(tmp_path):
    (tmp_path / "img.svg").write_text("<svg/>")
    (tmp_path / "demo.py").write_text("# --8<-- [start:model]\nx = 1\n# --8<-- [end:model]\n")
    deck_path = tmp_path / "deck.md"

    def check(source):
        deck = syntax.parse(source, deck_path)
        syntax.check_references(deck, tmp_path, [tmp_path])

    check('![](img.svg)\n```\n--8<-- "demo.py:model"\n```\n')
    with pytest.raises(syntax.DeckError, match=r"deck.md:3: missing file 'missing.svg'"):
        check("# A\n\n![](missing.svg)\n")
    with pytest.raises(syntax.DeckError, match=r"deck.md:2: snippet section 'other' not found"):
        check('```\n--8<-- "demo.py:other"\n```\n')
    with pytest.raises(syntax.DeckError, match=r"deck.md:1: snippet file 'nope.py' not found"):
        check('--8<-- "nope.py"\n')
    with pytest.raises(syntax.DeckError, match=r"deck.md:1: external source"):
        check('<img src="https://example.com/x.png">\n')


def test_slideshow_sections_notes_and_links():
    soup = to_html("name: intro\n# A\n[next](#two)\n???\nnote\n---\nname: two\ncount: false\n# B\n")
    show = BeautifulSoup(build_slideshow(str(soup), title="Deck", root="../"), "html.parser")
    first, second = show.select(".reveal .slides > section")
    assert first.find("a", string="next")["href"] == "#/two"
    assert first.find("aside", class_="notes", recursive=False).get_text(strip=True) == "note"
    assert second["data-visibility"] == "uncounted"
    assert not [s for s in show.find_all(["script", "link"]) if "//" in (s.get("src") or s.get("href") or "")]
