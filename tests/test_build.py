"""A strict MkDocs build of a small fixture deck, and the errors bad input must give."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from handson import vendor
from handson.paths import ROOT

FIXTURE = Path(__file__).parent / "fixtures" / "site"
MKDOCS = [sys.executable, "-m", "mkdocs"]
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import\s+["']?(?:https?:)?//""")


def make_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    config = (project / "mkdocs.yml.in").read_text().replace("@NODE_MODULES@", str(ROOT / "node_modules"))
    (project / "mkdocs.yml").write_text(config)
    manifest = {"demos": {"01_fixture/fixture_demo": {"caption": "A fixture", "results": {"accuracy": 0.9731}}}}
    (project / "docs" / "_generated").mkdir()
    (project / "docs" / "_generated" / "manifest.json").write_text(json.dumps(manifest))
    return project


def build(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(MKDOCS + ["build", "-f", str(project / "mkdocs.yml")], cwd=project,
                          capture_output=True, text=True, env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"})


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("build"))
    result = build(project)
    assert result.returncode == 0, result.stderr
    return project / "site"


def test_reader_page_has_slides_steps_notes_and_numbers(built):
    page = BeautifulSoup((built / "01_fixture" / "index.html").read_text(), "html.parser")
    sections = page.select("section.slide")
    assert [s.get("id") for s in sections] == ["title", "steps", None]  # the excluded slide is gone
    assert sections[0].find("span", class_=["medium", "red"]).em.text == "small"
    assert sections[0].find("aside", class_="notes")
    assert sections[1].select_one(".left-column .fragment li").text == "second"
    assert sections[2].find("span", class_="hll").get_text() == "y = double(x)\n"
    assert "def double(x):" in sections[2].get_text()  # the snippet was included
    assert "Accuracy 97.3%" in sections[2].get_text()
    assert sections[2].find("a", string="the docs")["href"] == "https://www.mkdocs.org/"
    assert page.select_one("p.present a")["href"] == "slides.html"


def test_slideshow_is_written_beside_the_reader_page(built):
    show = BeautifulSoup((built / "01_fixture" / "slides.html").read_text(), "html.parser")
    sections = show.select(".reveal .slides > section")
    assert len(sections) == 3
    assert [img.get("data-src") for img in show.find_all("img")] == ["../img/dot.svg"]  # lazy
    assert sections[2]["data-visibility"] == "uncounted"
    assert sections[2].find("a", string="title")["href"] == "#/title"
    for tag in show.find_all(["script", "link"]):
        target = built / "01_fixture" / (tag.get("src") or tag.get("href"))
        assert target.resolve().is_file(), target


def test_no_external_url_in_any_page_stylesheet_or_script(built):
    offenders = []
    for path in built.rglob("*"):
        if path.suffix in {".html", ".css", ".js"}:
            text = path.read_text(errors="replace")
            # Reader-facing hyperlinks (<a href>) to sources are allowed; fetched resources are not.
            text = re.sub(r"<a\b[^>]*>", "", text)
            offenders += [f"{path.relative_to(built)}: {m.group(0)}" for m in EXTERNAL.finditer(text)]
    assert not [o for o in offenders if "www.w3.org" not in o], offenders[:5]


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace(".medium.red[A *small* deck]", ".medium.red[A *small* deck"), r"docs/01_fixture.md:6: unclosed '.medium.red\['"),
    (lambda s: s.replace("count: false", "count: false\ncolour: red"), r"docs/01_fixture.md:29: unknown slide property 'colour'"),
    (lambda s: s.replace("example.py:model", "example.py:missing"), r"docs/01_fixture.md:33: snippet section 'missing' not found"),
    (lambda s: s.replace("img/dot.svg", "img/nope.svg"), r"docs/01_fixture.md:22: missing file 'img/nope.svg'"),
    (lambda s: s.replace("fixture_demo.accuracy", "fixture_demo.loss"), r"docs/01_fixture.md:41: demo 'fixture_demo' has no result"),
])
def test_bad_input_fails_the_build_with_file_and_line(tmp_path, edit, message):
    project = make_project(tmp_path)
    deck = project / "docs" / "01_fixture.md"
    deck.write_text(edit(deck.read_text()))
    result = build(project)
    assert result.returncode != 0
    assert re.search(message, result.stderr), result.stderr[-2000:]


def test_broken_link_on_a_plain_page_fails_the_strict_build(tmp_path):
    project = make_project(tmp_path)
    (project / "docs" / "index.md").write_text("# Fixture\n\n![](img/missing.png) [x](nowhere.md)\n")
    result = build(project)
    assert result.returncode != 0 and "nowhere.md" in result.stderr


def test_raw_html_image_resolves_in_both_views(built):  # issue 8, item 5
    page = BeautifulSoup((built / "02_second" / "index.html").read_text(), "html.parser")
    show = BeautifulSoup((built / "02_second" / "slides.html").read_text(), "html.parser")
    (img,) = page.select("section.slide img")
    (lazy,) = show.select("section img")
    assert img["src"] == lazy["data-src"] == "../img/dot.svg"
    assert (built / "02_second" / img["src"]).resolve().is_file()


def test_every_missing_file_is_listed_before_the_build_fails(tmp_path):  # issue 8, item 7
    project = make_project(tmp_path)
    deck = project / "docs" / "01_fixture.md"
    deck.write_text(deck.read_text().replace("img/dot.svg", "img/nope.svg") + "---\n![](_generated/01_fixture/x/y.svg)\n")
    result = build(project)
    assert result.returncode != 0
    assert "docs/01_fixture.md:22: missing file 'img/nope.svg'" in result.stderr
    assert "docs/01_fixture.md:50: missing file '_generated/01_fixture/x/y.svg' (run `make figures`" in result.stderr


@pytest.mark.parametrize("edit, message", [
    (lambda s: s + "---\n<script src=\"https://cdn.example.com/x.js\"></script>\n", r"docs/01_fixture.md:50: external resource 'https://cdn.example.com/x.js'"),
    (lambda s: s.replace("---\ncount: false", "---\n\n---\ncount: false"), r"docs/01_fixture.md:28: empty slide"),
    (lambda s: s.encode("utf-8") + "\nna\xefve\n".encode("latin-1"), r"docs/01_fixture.md:50: not valid UTF-8 \(byte 0xef at column 3\)"),
])
def test_offline_check_empty_slides_and_encoding_fail_the_build(tmp_path, edit, message):  # items 13, 14
    project = make_project(tmp_path)
    deck = project / "docs" / "01_fixture.md"
    new = edit(deck.read_text())
    deck.write_bytes(new if isinstance(new, bytes) else new.encode())
    result = build(project)
    assert result.returncode != 0
    assert re.search(message, result.stderr), result.stderr[-2000:]


def test_corrupt_manifest_is_named_not_a_traceback(tmp_path):  # issue 8, item 12 (the build's part)
    project = make_project(tmp_path)
    (project / "docs" / "_generated" / "manifest.json").write_text('{"demos": {')
    result = build(project)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "docs/_generated/manifest.json: not valid JSON (" in result.stderr


def test_slideshows_are_files_mkdocs_knows(tmp_path):  # issue 8, item 16
    project = make_project(tmp_path)
    (project / "hooks.py").write_text(
        "import json, pathlib\n"
        "def on_env(env, config, files):\n"
        "    shows = sorted((f.src_uri, f.generated_by) for f in files if f.src_uri.endswith('slides.html'))\n"
        "    pathlib.Path(config.config_file_path).with_name('shows.json').write_text(json.dumps(shows))\n")
    with open(project / "mkdocs.yml", "a") as config:
        config.write("hooks:\n  - hooks.py\n")
    assert build(project).returncode == 0
    shows = json.loads((project / "shows.json").read_text())
    assert shows == [[f"{page}/slides.html", "handson"] for page in ("01_fixture", "02_second", "talks/short")]


def test_both_views_load_the_assets_of_the_one_table(built):  # issue 8, item 16
    reader = BeautifulSoup((built / "01_fixture" / "index.html").read_text(), "html.parser")
    show = BeautifulSoup((built / "01_fixture" / "slides.html").read_text(), "html.parser")
    for soup, view in ((reader, "reader"), (show, "slides")):
        css = [l["href"].removeprefix("../") for l in soup.find_all("link", rel="stylesheet") if "assets/vendor" in l["href"] or "assets/handson" in l["href"]]
        js = [s["src"].removeprefix("../") for s in soup.find_all("script", src=True) if "assets/vendor" in s["src"] or "assets/handson" in s["src"]]
        assert css == vendor.stylesheets(view) and js == vendor.scripts(view)
    for dest, _, _ in vendor.ASSETS:
        assert (built / dest).is_file(), dest
