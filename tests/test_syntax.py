"""The remark-style slide syntax: parsing as remark.js does, rendering, checks, errors with file:line.

tests/fixtures/remark/ holds one minimal deck per remark rule, with remark.js's own counts
for each in expected.json.
"""

import json
import subprocess
import sys
from pathlib import Path

import markdown
import pytest
from bs4 import BeautifulSoup

from handson import syntax
from handson.slideshow import build_slideshow

CORPUS = Path(__file__).parent / "fixtures" / "remark"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())
EXTENSIONS = ["md_in_html", "tables", "attr_list", "pymdownx.superfences", "pymdownx.highlight",
              "pymdownx.arithmatex"]
CONFIGS = {"pymdownx.arithmatex": {"generic": True}, "pymdownx.highlight": {"use_pygments": True}}


def to_html(source: str, path: str = "deck.md", **kw) -> BeautifulSoup:
    md = syntax.render(syntax.parse(source, path), **kw)
    return BeautifulSoup(markdown.markdown(md, extensions=EXTENSIONS, extension_configs=CONFIGS), "html.parser")


def slides(source: str, **kw):
    return to_html(source, **kw).find_all("section", class_="slide")


def corpus(name: str) -> str:
    return (CORPUS / name).read_text()


# ---------------------------------------------------------------- remark.js's counts


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_counts_match_remark_js(name):
    from handson.syntax.inspect import inspect

    counts = inspect(CORPUS / name)
    assert {k: counts[k] for k in EXPECTED[name]} == EXPECTED[name]


def test_inspect_prints_remark_counts_as_json():
    out = subprocess.run([sys.executable, "-m", "handson", "inspect", str(CORPUS / "separators.md")],
                         capture_output=True, text=True, check=True).stdout
    (counts,) = json.loads(out)
    assert (counts["slides"], counts["steps"], counts["remark_slides"], counts["notes"]) == (2, 2, 4, 1)


# ---------------------------------------------------------------- issue 8, items 1-7


def test_fence_closed_by_a_bracket_closes_the_class_block():  # item 1
    sections = slides(corpus("fence_bracket.md"))
    assert [s.get("id") for s in sections] == ["code", "after"]
    left = sections[0].find("div", class_="left-column")
    assert left.find("code").get_text() == "x = [1, 2]\n"
    assert "ends with its bracket" in sections[0].find("div", class_="right-column").get_text()
    assert "A hidden slide" not in str(sections)


def test_comment_properties_in_the_first_block():  # item 2
    first, second = slides(corpus("comment_properties.md"))
    assert first["class"] == ["slide", "center", "middle"] and first["id"] == "hello"
    assert "media/dot.svg" in first["style"]
    assert "Text after the comment property." in first.get_text()
    assert second["class"] == ["slide"]  # a comment after a class block is not a property


def test_properties_after_a_step_belong_to_the_step():  # item 3
    (section,) = slides(corpus("step_properties.md"))
    (fragment,) = section.find_all("div", class_="fragment")
    assert fragment["class"] == ["fragment", "highlight"] and fragment["id"] == "third-step"
    assert "hidden" not in section.get_text() and "exclude" not in section.get_text()


def test_layouts_end_replace_keep_count_and_pass_on_notes():  # item 4
    one, two, three, base, four = slides(corpus("layouts.md"))
    assert one["class"] == ["slide", "layout-one"] and one.get("data-count") is None
    assert one.find(class_="footnote").get_text() == "First layout"
    notes = one.find("aside", class_="notes").get_text()
    assert notes.index("Layout notes.") < notes.index("Own notes.")
    assert two["class"] == ["slide", "layout-two"] and two.find(class_="footnote").get_text() == "Second layout"
    assert three["class"] == ["slide"] and three.find(class_="footnote") is None
    assert base.h1.get_text() == "Base" and "content" not in base.get_text()
    assert four["class"] == ["slide", "based"] and four.h1.get_text() == "Base"
    assert four.p.get_text() == "from a template"  # where the template says {{content}}


def test_a_templates_notes_come_before_the_slides_own():  # item 4
    base, derived = slides(corpus("template_notes.md"))
    assert base.find("aside", class_="notes").get_text().strip() == "Template notes."
    assert derived["class"] == ["slide", "based"] and derived.h1.get_text() == "Base"
    notes = derived.find("aside", class_="notes").get_text()
    assert notes.index("Template notes.") < notes.index("Own notes.")  # as a layout's (remark)


def test_raw_html_media_are_rewritten_and_checked(tmp_path):  # item 5
    deck = syntax.parse(corpus("html_media.md"), CORPUS / "html_media.md")
    links = syntax.Links(str(CORPUS), "", "html_media")  # the page's URL is html_media/
    soup = BeautifulSoup(markdown.markdown(syntax.render(deck, links=links), extensions=EXTENSIONS), "html.parser")
    assert soup.find("img")["src"] == "../media/dot.svg"
    assert soup.find("video")["poster"] == "../media/dot.svg"
    assert [s["src"] for s in soup.find_all(["source", "audio"])] == ["../media/clip.webm"] * 2
    assert "<!-- <img src=\"media/commented-out.svg\"> -->" in str(soup)  # comments are left alone
    assert syntax.check(deck.slides, [CORPUS]) == []
    moved = tmp_path / "html_media.md"
    moved.write_text(corpus("html_media.md"))
    errors = syntax.check(syntax.parse(moved.read_text(), moved).slides, [tmp_path])
    assert [(e.line, e.reason.split(" (")[0]) for e in errors] == [
        (5, "missing file 'media/dot.svg'"), (7, "missing file 'media/dot.svg'"),
        (7, "missing file 'media/clip.webm'"), (9, "missing file 'media/clip.webm'")]


def test_math_with_spaces_is_math_as_in_mathjax():  # item 6
    first, _ = slides(corpus("math_and_headings.md"))
    math = [m.get_text() for m in first.find_all(class_="arithmatex")]
    assert math == [r"\( a + b \)", r"\(\alpha_1\)", r"\[ \sum_i x_i \]"]
    assert "a dollar $5." in first.get_text()


def test_indented_heading_in_a_class_block_is_a_heading():  # item 6
    _, second = slides(corpus("math_and_headings.md"))
    column = second.find("div", class_="left-column")
    assert column.h1.get_text() == "Indented heading" and column.h2.get_text() == "Second level"


def test_every_missing_file_is_reported_with_its_line():  # item 7
    deck = syntax.parse(corpus("missing_files.md"), CORPUS / "missing_files.md")
    errors = syntax.check(deck.slides, [CORPUS])
    assert [e.line for e in errors] == [1, 6, 8, 10]  # the background image at its property's line
    assert [("make figures" in e.reason) for e in errors] == [False, False, False, True]


def test_unknown_property_hint_says_what_remark_does():  # item 7
    with pytest.raises(syntax.DeckError) as e:
        syntax.parse("# A\n---\n\nNote: a sentence\n", "deck.md")
    assert str(e.value).startswith("deck.md:4: unknown slide property 'Note'")
    assert "blank line" not in e.value.reason and "**Key:** value" in e.value.reason


# ---------------------------------------------------------------- issue 8, items 13, 14, 16


def test_string_results_are_escaped():  # item 13
    results = {"demo": {"text": "<script>alert('x')</script> *bold* | cell"}}
    source = "It says {{ demo.text }}\n\n<img alt=\"{{ demo.text }}\" src=\"data:,\">\n\n`{{ demo.text }}`\n"
    soup = to_html(source, results=results)
    assert soup.find("script") is None and soup.find("strong") is None
    assert soup.find("span", class_="result").get_text() == results["demo"]["text"]
    assert soup.find("img")["alt"] == results["demo"]["text"]
    assert soup.find("code").get_text() == results["demo"]["text"]


def test_external_resources_fail_the_offline_check():  # item 13
    deck = syntax.parse(corpus("external_resources.md"), CORPUS / "external_resources.md")
    errors = syntax.check(deck.slides, [CORPUS])
    assert [(e.line, e.reason.split("'")[1]) for e in errors] == [
        (5, "https://cdn.example.com/lib.js"), (7, "//cdn.example.com/style.css"), (9, "https://example.com/embed")]
    assert all("offline" in e.reason for e in errors)


def test_non_utf8_deck_is_an_error_at_its_line(tmp_path):  # item 14
    deck = tmp_path / "deck.md"
    deck.write_bytes("# Caf\u00e9\n\nline two\n".encode("utf-8") + "caf\u00e9 in Latin-1\n".encode("latin-1"))
    with pytest.raises(syntax.DeckError, match=r"deck.md:4: not valid UTF-8 \(byte 0xe9 at column 4\)"):
        syntax.read(deck)


def test_empty_slide_is_a_warning_with_its_line():  # item 14
    deck = syntax.parse(corpus("empty_slide.md"), "empty_slide.md")
    assert [str(w).split(" (")[0] for w in deck.warnings] == ["empty_slide.md:6: empty slide",
                                                              "empty_slide.md:11: empty step"]


def test_syntax_is_split_into_parse_render_check():  # item 16
    import importlib

    jobs = {job: importlib.import_module(f"handson.syntax.{job}") for job in ("parse", "render", "check")}
    assert (jobs["parse"].parse, jobs["render"].render, jobs["check"].check) == (syntax.parse, syntax.render, syntax.check)
    source = Path(jobs["parse"].__file__).read_text()
    assert "render" not in source.split('"""', 2)[2].split("def ", 1)[0]  # parsing imports no rendering


# ---------------------------------------------------------------- hooks for live presenting


def test_results_in_prose_are_spans_and_plain_values_elsewhere():
    results = {"fit": {"acc": 0.97312}}
    soup = to_html("Accuracy {{ fit.acc:.1% }}, $a = {{ fit.acc:.2f }}$, `{{ fit.acc }}`\n\n"
                   "```\nacc = {{ fit.acc:.3f }}\n```\n", results=results)
    (span,) = soup.find_all("span", class_="result")
    assert (span["data-result"], span["data-format"], span.get_text()) == ("fit.acc", ".1%", "97.3%")
    assert soup.find(class_="arithmatex").get_text() == r"\(a = 0.97\)"
    assert [c.get_text() for c in soup.find_all("code")] == ["0.97312", "acc = 0.973\n"]


def test_sections_list_the_demos_they_use():
    source = ("![](_generated/02_nn/act/act.svg)\n---\n```\n--8<-- \"demos/02_nn/mlp.py:model\"\n```\n"
              "{{ fit.acc }} and ![](_generated/02_nn/mlp/x.svg)\n---\nbackground-image: url(_generated/03_cnn/conv/c.svg)\n"
              "---\n# Nothing\n")
    sections = slides(source, results={"fit": {"acc": 1}})
    assert [s["data-demos"] for s in sections] == ["act", "mlp fit", "conv", ""]
    show = BeautifulSoup(build_slideshow("".join(map(str, sections)), title="t", root="../"), "html.parser")
    assert [s["data-demos"] for s in show.select(".reveal .slides > section")] == ["act", "mlp fit", "conv", ""]


# ---------------------------------------------------------------- the rest of the syntax


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


def test_notes_belong_to_their_step():
    (section,) = slides(corpus("separators.md").split("---\nname: second")[0])
    fragment = section.find("div", class_="fragment")
    assert fragment.find("aside", class_="notes").get_text(strip=True) == "Notes of the step."


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
    soup = to_html("x.shape[0] and `a.b[c]` and [link](#x) and .hidden[aa] and \\.red[escaped]\n")
    assert "x.shape[0]" in soup.get_text() and ".red[escaped]" in soup.get_text()
    assert soup.code.text == "a.b[c]"
    assert soup.find("span", class_="hidden").text == "aa"


def test_unclosed_class_reports_its_line():
    with pytest.raises(syntax.DeckError, match=r"^deck.md:5: unclosed '.red\['"):
        syntax.parse("# A\n---\n# B\n\n.red[oops\n\nmore\n", "deck.md")


def test_separator_inside_a_class_block_is_an_error():
    with pytest.raises(syntax.DeckError, match=r"^deck.md:3: slide separator inside '.left-column\[' \(opened at line 1\)"):
        syntax.parse(".left-column[\ntext\n---\nmore]\n", "deck.md")


def test_starred_code_lines_are_highlighted():
    soup = to_html("```python\nx = 1\n*y = 2\nz = 3\n```\n")
    assert soup.find("span", class_="hll").get_text() == "y = 2\n"
    assert "*y" not in soup.get_text()


def test_link_references_are_deck_global_even_from_excluded_slides():
    soup = to_html("[before][r1] [after][r2]\n---\n[r2]: https://b.example\n---\nexclude: true\n[r1]: https://a.example\n")
    hrefs = [a["href"] for a in soup.find_all("a")]
    assert hrefs == ["https://a.example", "https://b.example"]


def test_template_must_be_an_earlier_slide():
    with pytest.raises(syntax.DeckError, match=r"deck.md:1: template 'later' is defined after this slide"):
        syntax.parse("template: later\n# A\n---\nname: later\n# B\n", "deck.md")


def test_results_are_substituted_and_unknown_keys_fail():
    results = {"train": {"acc": 0.97312, "n": 1258, "nested": {"x": 2}, "params": [16, 20]}}
    text = to_html("acc {{ train.acc:.1% }} n={{ train.n:, }} x={{train.nested.x}} {{ train.params.1 }}\n",
                   results=results).get_text()
    assert "acc 97.3% n=1,258 x=2 20" in text
    with pytest.raises(syntax.DeckError, match=r"deck.md:2: demo 'train' has no result 'train.loss'"):
        syntax.render(syntax.parse("ok\n{{ train.loss }}\n", "deck.md"), results)
    with pytest.raises(syntax.DeckError, match=r"deck.md:1: no results for demo 'nope'"):
        syntax.render(syntax.parse("{{ nope.x }}\n", "deck.md"), results)
    errors = syntax.check(syntax.parse("{{ nope.x }}\n---\n{{ train.loss }}\n", "deck.md").slides, [], results)
    assert [e.line for e in errors] == [1, 3]  # every unknown result, in one pass


def test_step_between_table_rows_reveals_rows():
    soup = to_html("| a | b |\n|---|---|\n| 1 | 2 |\n--\n| 3 | 4 |\n")
    rows = soup.find_all("tr")
    assert len(rows) == 3 and rows[2].find("span", class_="step-row") is not None
    show = BeautifulSoup(build_slideshow(str(soup), title="t", root="../"), "html.parser")
    assert [r.get("class") for r in show.find_all("tr")] == [None, None, ["fragment"]]


def test_empty_alt_text_comes_from_the_demo_caption():
    soup = to_html("![](_generated/02_nn/act/act.svg)\n", captions={"02_nn/act": "Activation functions"})
    assert soup.find("img")["alt"] == "Activation functions"


def test_snippets_are_checked(tmp_path):
    (tmp_path / "demo.py").write_text("# --8<-- [start:model]\nx = 1\n# --8<-- [end:model]\n")

    def check(source):
        return [str(e) for e in syntax.check(syntax.parse(source, tmp_path / "deck.md").slides, [tmp_path])]

    assert check('```\n--8<-- "demo.py:model"\n```\n') == []
    assert check('```\n--8<-- "demo.py:other"\n```\n')[0].endswith("deck.md:2: snippet section 'other' not found "
                                                                  "in demo.py (mark it with `--8<-- [start:other]` "
                                                                  "and `--8<-- [end:other]`)")
    assert "deck.md:1: snippet file 'nope.py' not found" in check('--8<-- "nope.py"\n')[0]


def test_slideshow_sections_notes_and_links():
    soup = to_html("name: intro\n# A\n[next](#two)\n???\nnote\n---\nname: two\ncount: false\n# B\n")
    show = BeautifulSoup(build_slideshow(str(soup), title="Deck", root="../"), "html.parser")
    first, second = show.select(".reveal .slides > section")
    assert first.find("a", string="next")["href"] == "#/two"
    assert first.find("aside", class_="notes", recursive=False).get_text(strip=True) == "note"
    assert second["data-visibility"] == "uncounted"
    assert not [s for s in show.find_all(["script", "link"]) if "//" in (s.get("src") or s.get("href") or "")]
