"""Live presenting in headless Chromium, against the real server (`python -m handson present`).

On the digits-training slide: change a knob, press R, see the progress bar, then the new figure
and numbers with a badge, and X back to the recorded ones; the same through the reader page's
Run button; a run that dies keeps the recorded output. No console error anywhere.
"""

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from handson import browser
from handson.paths import ROOT

from test_present import wait_for

pytestmark = pytest.mark.browser
SITE = ROOT / "site"
DECK = "02_neural_networks"
SLIDE = "training"  # the slide showing train_digits (knobs: learning_rate, epochs)


@pytest.fixture(scope="module")
def server():
    """`python -m handson present --no-build` on the built site; stopped with Ctrl-C at the end."""
    if not (SITE / DECK / "slides.html").is_file():
        pytest.fail("site/ is not built: run `make site` (make test does it first)")
    process = subprocess.Popen([sys.executable, "-m", "handson", "present", "--no-build", "--port", "0"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = process.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
    if not match:
        process.kill()
        pytest.fail(f"the server did not start: {line}{process.stdout.read()}")
    url = match.group(1)
    wait_for(lambda: len(status(url)["workers"]) == 2 and not status(url)["starting"], "two warm workers", 180)
    yield url
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0


def status(url: str) -> dict:
    with urllib.request.urlopen(url + "/api/status", timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = browser.launch(p)
        yield instance
        instance.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    problems: list[str] = []
    browser.watch(context, problems)
    page = context.new_page()
    page.problems = problems
    # Every live event the page handles, to check that progress was shown.
    page.add_init_script("window.liveLog = [];")
    yield page
    context.close()
    assert not problems, problems


def loss_image(page, scope: str) -> str:
    return page.eval_on_selector(f"{scope} img[src*='train_digits/loss.svg'], {scope} img.live-output",
                                 "img => img.getAttribute('src')")


def numbers(page, scope: str) -> dict:
    return page.eval_on_selector_all(
        f"{scope} span.result[data-result^='train_digits.']",
        "spans => Object.fromEntries(spans.map(s => [s.dataset.result, s.textContent]))")


def watch_progress(page) -> None:
    """Record the progress rows' labels as they appear (a short run may show them briefly)."""
    page.evaluate("""() => new MutationObserver(() => {
        document.querySelectorAll('.live-progress .live-label').forEach(l => window.liveLog.push(l.textContent));
    }).observe(document.querySelector('.live-progress'), {subtree: true, childList: true, characterData: true})""")


def test_slideshow_knob_run_swap_badge_and_revert(page, server):
    page.goto(f"{server}/{DECK}/slides.html#/{SLIDE}")
    page.wait_for_function("window.Reveal && Reveal.isReady() && document.documentElement.dataset.live === 'ready'")
    scope = "section#training"
    page.wait_for_function("[...Reveal.getCurrentSlide().querySelectorAll('img')].every(i => i.src && i.complete)")
    recorded_image, recorded = loss_image(page, scope), numbers(page, scope)
    assert recorded["train_digits.epochs"] == "50"
    assert page.locator(".live-hint.live-shown").count() == 1
    # K: the knob panel; set 12 epochs and a 10x larger learning rate, Esc closes it.
    page.keyboard.press("k")
    page.wait_for_selector(".live-panel.live-open")
    page.fill("input[name='train_digits.epochs']", "12")
    page.click(".live-panel .live-knob:has(input[name='train_digits.learning_rate']) button:has-text('×10')")
    assert page.input_value("input[name='train_digits.learning_rate']") == "0.01"
    page.keyboard.press("Escape")
    assert page.locator(".live-panel").count() == 0
    assert page.evaluate("Reveal.isOverview()") is False  # Esc stayed in the panel
    watch_progress(page)
    page.keyboard.press("r")
    page.wait_for_selector(f"{scope} .live-badge", timeout=120_000)
    labels = page.evaluate("window.liveLog")
    assert any(re.search(r"train_digits · epoch \d+/12 · loss", label) for label in labels), labels
    live_image = loss_image(page, scope)
    assert live_image.startswith("/_live/train_digits-") and live_image.endswith("/loss.svg")
    page.wait_for_function(f"document.querySelector(\"{scope} img.live-output\").complete")
    assert page.eval_on_selector(f"{scope} img.live-output", "img => img.naturalWidth") > 0
    live = numbers(page, scope)
    assert live["train_digits.epochs"] == "12" and live != recorded
    assert re.fullmatch(r"\d+\.\d%", live["train_digits.final_val_acc"])
    badge = page.inner_text(f"{scope} .live-badge")
    assert re.match(r"live · cpu · \d+\.\d s · learning rate 0\.01 · epochs 12", badge), badge
    page.keyboard.press("x")
    assert page.locator(f"{scope} .live-badge").count() == 0
    assert loss_image(page, scope) == recorded_image and numbers(page, scope) == recorded


def test_reader_page_run_button(page, server):
    page.goto(f"{server}/{DECK}/")
    page.wait_for_function("document.documentElement.dataset.live === 'ready'")
    scope = "section#training"
    controls = page.locator(f"{scope} .live-controls[data-demo='train_digits']")
    assert controls.count() == 1
    recorded_image, recorded = loss_image(page, scope), numbers(page, scope)
    controls.locator(".live-knobs-button").click()
    page.fill(f"{scope} input[name='train_digits.epochs']", "7")
    watch_progress(page)
    controls.locator(".live-run-button").click()
    page.wait_for_selector(f"{scope} .live-badge", timeout=120_000)
    assert any("epoch" in label and "/7" in label for label in page.evaluate("window.liveLog"))
    assert loss_image(page, scope).startswith("/_live/") and numbers(page, scope)["train_digits.epochs"] == "7"
    controls.locator(".live-revert").click()
    assert loss_image(page, scope) == recorded_image and numbers(page, scope) == recorded
    # Slides without demo outputs get no controls.
    assert page.locator("section#next .live-controls").count() == 0


def test_a_run_that_dies_keeps_the_recorded_output(page, server):
    page.goto(f"{server}/{DECK}/slides.html#/{SLIDE}")
    page.wait_for_function("window.Reveal && Reveal.isReady() && document.documentElement.dataset.live === 'ready'")
    scope = "section#training"
    recorded_image, recorded = loss_image(page, scope), numbers(page, scope)
    page.keyboard.press("k")
    page.fill("input[name='train_digits.epochs']", "100")
    page.keyboard.press("Enter")  # Enter in the panel runs
    wait_for(lambda: (status(server)["running"].get("train_digits") or {}).get("worker"), "the run to start")
    # Kill the worker running it: the run fails, the slide keeps its recorded output.
    pid = status(server)["running"]["train_digits"]["worker"]
    os.kill(pid, signal.SIGKILL)
    page.wait_for_selector(".live-toast.live-error.live-shown", timeout=60_000)
    assert "train_digits failed live: worker died (signal 9)" in page.inner_text(".live-toast")
    assert "recorded output kept" in page.inner_text(".live-toast")
    assert page.locator(f"{scope} .live-badge").count() == 0
    assert loss_image(page, scope) == recorded_image and numbers(page, scope) == recorded
    wait_for(lambda: len(status(server)["workers"]) == 2 and not status(server)["starting"], "a fresh worker", 180)



def test_r_in_the_speaker_view_runs_on_the_presentation(page, server):
    """The speaker view sends keys to its current-slide iframe; R there runs in the main window."""
    page.goto(f"{server}/{DECK}/slides.html#/{SLIDE}")
    page.wait_for_function("window.Reveal && Reveal.isReady() && document.documentElement.dataset.live === 'ready'")
    page.keyboard.press("k")
    page.fill("input[name='train_digits.epochs']", "6")
    page.keyboard.press("Escape")
    with page.context.expect_page() as popup:
        page.keyboard.press("s")
    speaker = popup.value
    speaker.wait_for_load_state()
    current = speaker.wait_for_selector("#current-slide iframe").content_frame()
    current.wait_for_function("document.documentElement.dataset.live === 'ready'")
    speaker.keyboard.press("r")
    page.wait_for_selector("section#training .live-badge", timeout=120_000)
    assert "epochs 6" in page.inner_text("section#training .live-badge")
    assert current.locator(".live-badge").count() == 0  # the preview keeps the recorded output
    speaker.keyboard.press("x")
    page.wait_for_selector("section#training .live-badge", state="detached")
    speaker.close()
