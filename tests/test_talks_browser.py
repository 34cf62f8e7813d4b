"""Each built talk in headless Chromium: its slideshow holds exactly the slides it lists, in order.

Uses the browser, server and page fixtures of test_browser (offline, under the Pages sub-path,
console errors fail). Stepping through every slide of every talk, with each image loaded, is the
preflight's job (`make test` runs it after pytest, under the same sub-path).
"""

import pytest

from handson.paths import SLIDES
from handson.syntax.inspect import inspect
from test_browser import browser, images_loaded, page, server  # noqa: F401 (pytest fixtures)
from test_talks import course_talk

pytestmark = pytest.mark.browser


def talk_names() -> list[str]:
    return sorted(p.stem for p in (SLIDES / "talks").glob("*.md"))


def section_ids(talk: str) -> list[str]:
    """The ids the talk's named slides get: the name, or `deck-name` where two slides share it."""
    resolved = course_talk(talk)
    return [resolved.ids.get(id(s), s.name) for s in resolved.slides if s.name]


@pytest.mark.parametrize("talk", talk_names())
def test_talk_slideshow_has_exactly_the_listed_slides(page, server, talk):
    listed = inspect(SLIDES / "talks" / f"{talk}.md")
    page.goto(f"{server}/talks/{talk}/slides.html")
    page.wait_for_function("window.Reveal && Reveal.isReady() && document.documentElement.dataset.mathRendered")
    ids = page.evaluate("[...document.querySelectorAll('.reveal .slides > section')].map(s => s.id || null)")
    assert len(ids) == listed["slides"]
    # reveal's own total leaves out `count: false` slides (data-visibility="uncounted")
    counted = page.evaluate("document.querySelectorAll('.reveal .slides > section:not([data-visibility=uncounted])').length")
    assert page.evaluate("Reveal.getTotalSlides()") == counted
    assert [i for i, name in zip(ids, listed["names"]) if name] == section_ids(talk)
    fragments = page.evaluate("document.querySelectorAll('.reveal .slides .fragment').length")
    assert fragments == listed["steps"]


@pytest.mark.parametrize("talk", talk_names())
def test_talk_reader_page_and_home_page_entry(page, server, talk):
    listed = inspect(SLIDES / "talks" / f"{talk}.md")
    page.goto(f"{server}/talks/{talk}/")
    page.wait_for_function("document.documentElement.dataset.mathRendered === 'true'")
    assert page.locator("section.slide").count() == listed["slides"]
    page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function("[...document.images].every(i => i.complete)")
    assert images_loaded(page) == []
    page.goto(f"{server}/")
    row = page.locator(f"article table tr:has(a[href*='talks/{talk}/'])")
    assert row.locator("td").all_inner_texts()[1:] == [str(listed["slides"]), str(listed["steps"]),
                                                       f"{listed['minutes']} min"]
