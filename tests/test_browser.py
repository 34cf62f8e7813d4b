"""The built site in headless Chromium: both views work, offline, without console errors.

Debian's /usr/bin/chromium driven by Playwright for Python (never a browser download).
Any request to a host other than the local server is blocked and fails the test. The site is
served under a sub-path, as GitHub Pages serves a project page (/<repo>/), so every page these
tests and test_talks_browser open also checks that the site works there.
"""

import os
from pathlib import Path

import pytest

from handson import browser as chromium
from handson.paths import ROOT

pytestmark = pytest.mark.browser
# HANDSON_SITE points the tests at another built site (e.g. a fixture build).
SITE = Path(os.environ.get("HANDSON_SITE", ROOT / "site"))
PREFIX = chromium.PAGES_PREFIX  # the sub-path of a GitHub project page


def decks() -> list[str]:
    return sorted(p.parent.name for p in SITE.glob("*/slides.html"))


@pytest.fixture(scope="module")
def server():
    """The site's base URL, without its final slash (tests append "/deck/")."""
    if not (SITE / "index.html").is_file():
        pytest.fail("site/ is not built: run `make site` (make test does it first)")
    with chromium.serve(SITE, PREFIX) as url:
        yield url.rstrip("/")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        try:
            browser = chromium.launch(p)
        except RuntimeError as error:  # Debian's chromium is missing: say how to install it
            pytest.fail(str(error))
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A page whose console errors, failed requests and non-local requests are collected."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    problems: list[str] = []
    chromium.watch(context, problems)
    page = context.new_page()
    page.problems = problems
    yield page
    context.close()
    assert not problems, problems


def images_loaded(page, selector: str = "img") -> list[str]:
    """The sources of visible-or-not images that failed to load (naturalWidth 0)."""
    return page.eval_on_selector_all(
        selector, "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")


def test_home_page_links_every_deck(page, server):
    page.goto(server + "/")
    hrefs = page.eval_on_selector_all("article a", "as => as.map(a => a.getAttribute('href'))")
    for deck in decks():
        assert any(deck in h for h in hrefs), (deck, hrefs)


@pytest.mark.parametrize("deck", decks())
def test_reader_page(page, server, deck):
    page.goto(f"{server}/{deck}/")
    page.wait_for_function("document.documentElement.dataset.mathRendered === 'true'")
    assert page.locator("section.slide").count() >= 3
    if page.locator(".arithmatex").count():
        assert page.locator(".arithmatex .katex").count() == page.locator(".arithmatex").count()
        assert page.locator(".katex-error").count() == 0
    assert page.locator("img").count() > 0
    assert page.eval_on_selector_all("section.slide img", "imgs => imgs.every(i => i.loading === 'lazy')")
    page.evaluate("document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_function("[...document.images].every(i => i.complete)")
    assert images_loaded(page) == []
    assert page.locator("p.present a").first.get_attribute("href") == "slides.html"


@pytest.mark.parametrize("deck", decks())
def test_slideshow_steps_through_every_fragment_and_slide(page, server, deck):
    page.goto(f"{server}/{deck}/slides.html")
    page.wait_for_function("window.Reveal && Reveal.isReady() && document.documentElement.dataset.mathRendered")
    total = page.evaluate("document.querySelectorAll('.reveal .slides > section').length")
    fragments = page.evaluate("document.querySelectorAll('.reveal .slides .fragment').length")
    assert total >= 3
    seen_fragments = 0
    for _ in range(total + fragments + 5):
        before = page.evaluate("JSON.stringify(Reveal.getIndices())")
        shown = page.evaluate("document.querySelectorAll('.reveal .slides .fragment.visible').length")
        seen_fragments = max(seen_fragments, shown)
        page.wait_for_function("[...Reveal.getCurrentSlide().querySelectorAll('img')].every(i => i.src && i.complete)")
        assert images_loaded(page, ".reveal .slides section.present img") == []
        page.keyboard.press("ArrowRight")
        if page.evaluate("JSON.stringify(Reveal.getIndices())") == before:
            break
    assert page.evaluate("Reveal.isLastSlide()")
    assert seen_fragments == fragments  # every step was revealed on the way
    if page.locator(".reveal .arithmatex").count():
        assert page.locator(".reveal .katex-error").count() == 0
        assert page.locator(".reveal .arithmatex .katex").count() == page.locator(".reveal .arithmatex").count()


def test_speaker_view_deep_links_and_pdf(page, server):
    deck = decks()[0]
    page.goto(f"{server}/{deck}/slides.html")
    page.wait_for_function("window.Reveal && Reveal.isReady()")
    with page.context.expect_page() as popup:
        page.keyboard.press("s")
    speaker = popup.value
    speaker.wait_for_load_state()
    speaker.wait_for_selector(".speaker-controls-time", state="attached")
    assert speaker.locator(".speaker-controls-notes").count() == 1
    speaker.close()

    names = page.evaluate("[...document.querySelectorAll('.reveal .slides > section[id]')].map(s => s.id)")
    assert names, "the deck names at least one slide"
    page.goto(f"{server}/{deck}/slides.html#/{names[-1]}")
    page.wait_for_function("window.Reveal && Reveal.isReady()")
    assert page.evaluate("Reveal.getCurrentSlide().id") == names[-1]

    page.goto(f"{server}/{deck}/slides.html?print-pdf")
    page.wait_for_function("document.querySelectorAll('.pdf-page').length > 0")
    assert page.locator(".pdf-page").count() >= page.evaluate("document.querySelectorAll('.reveal .slides > section').length")


def test_aspect_ratio_option(page, server):
    deck = decks()[0]
    for query, width in (("", 1280), ("?aspect=4:3", 960)):
        page.goto(f"{server}/{deck}/slides.html{query}")
        page.wait_for_function("window.Reveal && Reveal.isReady()")
        assert page.evaluate("Reveal.getConfig().width") == width
