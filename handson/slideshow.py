"""The slideshow view: cut a rendered reader page into reveal.js sections.

A plain function of HTML (no MkDocs import), so moving to another static-site tool only
changes the adapter in `handson.plugin`.
"""

import html

from bs4 import BeautifulSoup

from handson import vendor


def build_slideshow(content_html: str, *, title: str, root: str, reader_href: str = "./") -> str:
    """Return a reveal.js page holding the `<section class="slide">`s of `content_html`.

    `root` is the relative path from the slideshow page to the site root ("../").
    """
    soup = BeautifulSoup(content_html, "html.parser")
    sections = soup.find_all("section", class_="slide")
    ids = {s["id"] for s in sections if s.get("id")}
    for section in sections:
        _to_reveal(section, ids, root)
    slides = "\n".join(str(s) for s in sections)
    head = "\n".join(f'<link rel="stylesheet" href="{root}{href}">' for href in vendor.stylesheets("slides"))
    scripts = "\n".join(f'<script src="{root}{src}"></script>' for src in vendor.scripts("slides"))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} (slides)</title>
<link rel="icon" href="{root}assets/images/favicon.png">
{head}
</head>
<body>
<div class="reveal"><div class="slides">
{slides}
</div></div>
<a class="reader-link" href="{html.escape(reader_href)}" title="Back to the reader page (Esc then R)">Reader view</a>
{scripts}
</body>
</html>
"""


def _to_reveal(section, ids: set[str], root: str) -> None:
    if section.get("data-count") == "false":
        section["data-visibility"] = "uncounted"  # reveal keeps the previous slide's number
    for link in section.find_all("a", class_="headerlink"):
        link.decompose()  # mkdocs permalinks clutter a projected slide
    for link in section.find_all("a", href=True):
        if link["href"].startswith("#") and link["href"][1:] in ids:
            link["href"] = "#/" + link["href"][1:]  # reveal's deep link to a named slide
    for img in section.find_all("img", src=True):
        img["data-src"] = img.attrs.pop("src")  # reveal loads it when the slide comes near
    for marker in section.find_all("span", class_="step-row"):
        row = marker.find_parent("tr")
        if row is not None:
            row["class"] = row.get("class", []) + ["fragment"]
    notes = section.find_all("aside", class_="notes", recursive=False)
    for aside in notes:
        aside.extract()
    # One inner box per slide: reveal lays sections out; the box centres or floats columns.
    body = BeautifulSoup("", "html.parser").new_tag("div", attrs={"class": "slide-body"})
    for child in list(section.contents):
        body.append(child.extract())
    section.append(body)
    for aside in notes:
        section.append(aside)
