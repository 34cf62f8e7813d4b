"""Provenance: every demo figure names its demo, device, date and versions; the demos page lists them all."""

import json
import os
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from handson import provenance
from handson.paths import MANIFEST, ROOT

SITE = Path(os.environ.get("HANDSON_SITE", ROOT / "site"))
ENTRY = {"caption": "Activation functions.", "device": "cpu", "duration_s": 1.25,
         "versions": {"jax": "0.10.2", "flax": "0.12.8", "optax": "0.2.8", "numpy": "2.4.6"},
         "outputs": {"activations.svg": "ab12"}}


@pytest.fixture
def demos(tmp_path):
    manifest = tmp_path / "_generated" / "manifest.json"
    out = manifest.parent / "02_nn" / "activations"
    out.mkdir(parents=True)
    (out / "activations.svg").write_bytes(b"x" * 2048)
    (out / "result.json").write_text("{}")
    os.utime(out / "result.json", (1767225600, 1767225600))  # 2026-01-01 UTC
    later = dict(ENTRY, duration_s=9.0, outputs={}, date="2026-02-03")
    manifest.write_text(json.dumps({"demos": {"02_nn/activations": ENTRY, "02_nn/slow": later}}))
    return provenance.load(manifest)


def test_load_reads_the_manifest_and_dates_a_run_by_its_results(demos):
    record = demos["02_nn/activations"]
    assert (record["name"], record["deck"], record["device"], record["date"]) == ("activations", "02_nn", "cpu", "2026-01-01")
    assert record["outputs"] == {"activations.svg": 2048}
    assert demos["02_nn/slow"]["date"] == "2026-02-03"  # a date the manifest records wins


def test_annotate_titles_every_figure_and_links_the_source(demos):
    page = ('<section class="slide" id="a"><p><img src="../_generated/02_nn/activations/activations.svg">'
            '<img src="../img/photo.png"></p><aside class="notes">n</aside></section>')
    soup = BeautifulSoup(provenance.annotate(page, demos, "../"), "html.parser")
    figure, photo = soup.find_all("img")
    assert figure["title"] == ("Made by demo activations on cpu, 2026-01-01, 1.2 s; "
                               "jax 0.10.2, flax 0.12.8, optax 0.2.8, numpy 2.4.6")
    assert "title" not in photo.attrs
    line = soup.select_one("section > p.provenance")
    assert line.find_next_sibling("aside")  # before the notes
    assert line.a["href"] == "../demos/activations/" and line.a["title"] == "demos/02_nn/activations.py"
    assert line.get_text() == "Made by activations on cpu, 2026-01-01, 1.2 s; jax 0.10.2, flax 0.12.8, optax 0.2.8"


def test_demos_page_is_sorted_by_time_and_source_pages_hold_the_code(demos):
    pages = provenance.pages(demos, {"02_nn.md"})
    assert set(pages) == {"demos/index.md", "demos/activations.md", "demos/slow.md"}
    names = re.findall(r'<tr><td><a href="(\w+)/">', pages["demos/index.md"])
    assert names == ["slow", "activations"]  # slowest first
    assert "activations.svg (2.0 KB)" in pages["demos/index.md"]
    source = pages["demos/activations.md"]
    assert "- Deck: [02_nn](../02_nn.md)" in source
    assert "[activations.svg](../_generated/02_nn/activations/activations.svg)" in source


# The built site (`make site`): every figure of every deck carries its provenance.

def built_pages(pattern: str) -> list[Path]:
    if not (SITE / "index.html").is_file():
        pytest.fail("site/ is not built: run `make site` (make test does it first)")
    return sorted(SITE.glob(pattern))


@pytest.mark.parametrize("view", ["*/index.html", "*/slides.html"])
def test_every_demo_figure_in_the_site_names_its_demo(view):
    manifest = json.loads(MANIFEST.read_text())["demos"]
    checked = 0
    for path in built_pages(view):
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        for img in soup.find_all("img"):
            src = img.get("src") or img.get("data-src") or ""
            match = provenance.GENERATED.search(src)
            if not match:
                continue
            entry = manifest["/".join(match.groups())]
            title = img.get("title", "")
            assert title.startswith(f"Made by demo {match.group(2)} on {entry['device']}, 20"), (path, src, title)
            assert all(f"{k} {v}" in title for k, v in entry["versions"].items()), title
            checked += 1
    assert checked > 0


def test_reader_pages_link_each_slides_demos_to_their_source_page():
    for path in built_pages("*/index.html"):
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        for section in soup.select("section.slide"):
            demos = {img["data-demo"] for img in section.select("img[data-demo]")}
            links = section.select("p.provenance a")
            assert {a.get_text() for a in links} == demos, (path, section.get("id"))
            for a in links:
                assert (path.parent / a["href"] / "index.html").resolve().is_file(), a["href"]


def test_demos_page_lists_every_demo():
    page = built_pages("demos/index.html")[0]
    names = {a.get_text() for a in BeautifulSoup(page.read_text(), "html.parser").select("table.demos td:first-child a")}
    manifest = json.loads(MANIFEST.read_text())["demos"]
    assert names == {demo_id.split("/")[1] for demo_id in manifest}
