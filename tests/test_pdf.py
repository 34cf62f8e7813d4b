"""`make pdf`: one PDF page per slide (steps shown), a notes handout, both linked from the reader page."""

import pytest
from bs4 import BeautifulSoup
from pypdf import PdfReader
from test_build import build, make_project

from handson import pdf

pytestmark = pytest.mark.browser
DECK = "01_fixture"


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp("pdf"))
    deck = project / "docs" / "01_fixture.md"
    # A slide taller than the canvas still prints on one page (the preflight reports it).
    deck.write_text(deck.read_text().replace("---\nexclude: true",
                                             "---\nname: long\n\n" + "\n".join(f"- item {i}" for i in range(40))
                                             + "\n\n???\nNotes of the long slide.\n\n---\nexclude: true"))
    assert build(project).returncode == 0
    site = project / "site"
    return site, pdf.make(site)


def test_one_page_per_slide(printed):
    site, made = printed
    sections = BeautifulSoup((site / DECK / "slides.html").read_text(), "html.parser").select(".reveal .slides > section")
    assert len(sections) == 4
    assert made[DECK]["slides"] == len(sections)
    assert len(PdfReader(site / DECK / "01_fixture.pdf").pages) == len(sections)
    text = PdfReader(site / DECK / "01_fixture.pdf").pages[1].extract_text()
    assert "second" in text  # the step (a fragment) is shown complete


def test_notes_handout_has_each_slide_with_its_notes(printed):
    site, made = printed
    reader = PdfReader(site / DECK / "01_fixture-notes.pdf")
    assert len(reader.pages) == made[DECK]["slides"]
    assert "Speaker notes for the title slide." in reader.pages[0].extract_text()
    assert "Notes of the long slide." in reader.pages[3].extract_text()
    assert made[DECK]["clipped"] == []
    slide_page = PdfReader(site / DECK / "01_fixture.pdf").pages[0]
    assert reader.pages[0].mediabox.height > 1.9 * slide_page.mediabox.height  # notes below the slide


def test_reader_page_links_both(printed):
    site, _ = printed
    links = BeautifulSoup((site / DECK / "index.html").read_text(), "html.parser").select("p.present a.pdf-link")
    assert [a["href"] for a in links] == ["01_fixture.pdf", "01_fixture-notes.pdf"]
    pdf.link_from_reader(site, DECK)  # a second run adds nothing
    assert len(BeautifulSoup((site / DECK / "index.html").read_text(), "html.parser").select("a.pdf-link")) == 2
