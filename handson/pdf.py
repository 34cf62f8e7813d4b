"""PDF handouts: `python -m handson pdf` (`make pdf`) prints every deck and talk with Chromium.

For each `site/<deck>/slides.html` it writes `site/<deck>/<deck>.pdf` (one page per slide, its
steps shown complete) and `site/<deck>/<deck>-notes.pdf` (each slide with its speaker notes
below it), using reveal.js's print view and Chromium's print-to-PDF, and links both from the
deck's reader page. Run after `make site` (which starts from an empty site folder).
"""

import sys
import time
from pathlib import Path

from bs4 import BeautifulSoup

from handson import browser
from handson.preflight import decks

# reveal.js's print view, one page per slide with every fragment shown (overrides via the query).
PRINT = "?print-pdf&pdfSeparateFragments=false&pdfMaxPagesPerSlide=1"
NOTES_PX = 20  # font size of the speaker notes in the handout
# The handout page: the slide on top, its notes in an equal area below (reveal draws them over it).
HANDOUT_CSS = """
@page {{ size: {w}px {hp}px; margin: 0; }}
html.print-pdf body {{ height: auto !important; }}
html.print-pdf .reveal .slides .pdf-page {{ height: {h2}px !important; }}
html.print-pdf .reveal .slides .pdf-page > section {{ max-height: {hs}px; overflow: hidden; }}
html.print-pdf .reveal .speaker-notes-pdf[data-layout="inline"] {{
  top: {h}px !important; bottom: auto !important; left: 48px !important; width: {wn}px !important;
  height: {hn}px; max-height: {hn}px; overflow: hidden; box-sizing: border-box; padding: 16px 0 0;
  border-top: 1px solid #ccc; background: none; color: #222; font-size: {px}px; line-height: 1.4; }}
"""


def file_names(deck: str) -> tuple[str, str]:
    """The slides PDF and the notes handout of `deck`, named after its folder."""
    stem = Path(deck).name or "slides"
    return f"{stem}.pdf", f"{stem}-notes.pdf"


def print_deck(page, base: str, site: Path, deck: str) -> dict:
    """Write both PDFs of one deck; return {"slides": n, "pdf": path, "notes": path, "clipped": [...]}."""
    slides_pdf, notes_pdf = (site / deck / name for name in file_names(deck))
    _open(page, f"{base}{deck}/slides.html{PRINT}")
    pages = page.evaluate("document.querySelectorAll('.pdf-page').length")
    page.pdf(path=str(slides_pdf), prefer_css_page_size=True, print_background=True)

    _open(page, f"{base}{deck}/slides.html{PRINT}&showNotes=true")
    w, h, hs = page.evaluate("(() => { const p = document.querySelector('.pdf-page');"
                             " return [p.offsetWidth, p.offsetHeight, Reveal.getConfig().height]; })()")
    page.add_style_tag(content=HANDOUT_CSS.format(w=w, h=h, h2=2 * h, hp=2 * h + 1, hs=hs, wn=w - 96, hn=h - 48,
                                                  px=NOTES_PX))
    clipped = page.evaluate("""[...document.querySelectorAll('.pdf-page')].flatMap((p, i) =>
        [...p.querySelectorAll('.speaker-notes-pdf')].filter(n => n.scrollHeight > n.clientHeight + 1).map(() => i + 1))""")
    page.pdf(path=str(notes_pdf), prefer_css_page_size=True, print_background=True)
    return {"slides": pages, "pdf": slides_pdf, "notes": notes_pdf, "clipped": clipped}


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_function("window.Reveal && Reveal.isReady() && document.querySelectorAll('.pdf-page').length > 0")
    page.evaluate("""async () => {
        document.querySelectorAll('img[data-src]').forEach(i => { if (!i.getAttribute('src')) i.src = i.dataset.src; });
        await Promise.all([...document.images].map(i => i.complete ? null :
            new Promise(done => { i.addEventListener('load', done); i.addEventListener('error', done); })));
        await document.fonts.ready;
    }""")


def link_from_reader(site: Path, deck: str) -> None:
    """Add PDF and handout buttons beside Present on the deck's reader page."""
    reader = site / deck / "index.html"
    if not reader.is_file():
        return
    soup = BeautifulSoup(reader.read_text(encoding="utf-8"), "html.parser")
    if soup.select_one("a.pdf-link"):
        return
    slides_pdf, notes_pdf = file_names(deck)
    buttons = BeautifulSoup(
        f' <a class="md-button pdf-link" href="{slides_pdf}" title="One page per slide">PDF</a>'
        f' <a class="md-button pdf-link" href="{notes_pdf}" title="Each slide with its speaker notes">Handout</a>',
        "html.parser")
    holder = soup.select_one("p.present") or soup.select_one("article")
    if holder is None:
        raise RuntimeError(f"{reader}: no Present buttons or article to put the PDF links in")
    holder.append(buttons)
    reader.write_text(str(soup), encoding="utf-8")


def make(site: Path, only: list[str] | None = None) -> dict[str, dict]:
    """Print every deck (or those named) of the built `site`; return what each print made."""
    from playwright.sync_api import sync_playwright

    names = [d for d in decks(site) if not only or d in only]
    problems: list[str] = []
    made = {}
    with browser.serve(site) as base, sync_playwright() as p:
        chromium = browser.launch(p)
        context = chromium.new_context(viewport={"width": 1280, "height": 720})
        browser.watch(context, problems)
        page = context.new_page()
        for deck in names:
            made[deck] = print_deck(page, base, site, deck)
            link_from_reader(site, deck)
        chromium.close()
    if problems:
        raise RuntimeError("printing met problems:\n" + "\n".join(dict.fromkeys(problems)))
    return made


def main(site: Path, only: list[str] | None = None) -> int:
    """Print the PDFs, say what was written; non-zero if the site is missing or printing failed."""
    if not (site / "index.html").is_file():
        print(f"{site} is not built: run `make site`", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        made = make(site, only)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    for deck, m in made.items():
        note = f"; notes cut short on slide(s) {m['clipped']}" if m["clipped"] else ""
        print(f"{deck}: {m['slides']} slides -> {m['pdf'].relative_to(site)}, {m['notes'].relative_to(site)}{note}")
    print(f"pdf: {len(made)} deck(s) in {time.perf_counter() - started:.1f} s")
    return 0
