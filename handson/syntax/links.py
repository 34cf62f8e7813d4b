"""Where a page sits, so that URLs written relative to a slide's own file resolve on it (talks)."""

import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Links:
    """Where the page sits, so that URLs written relative to a slide's own file resolve on it.

    Paths are relative to the docs dir, with '/' separators. Without `docs_dir`, every slide
    is taken to be written beside the page.
    """

    docs_dir: str | None = None
    page_dir: str = ""  # folder of the page's Markdown source
    url_dir: str = ""  # folder of the page's URL (attributes are not rewritten by MkDocs)
    ids: dict[int, str] = field(default_factory=dict)  # id(slide) → its section id, if not its name
    anchors: dict[tuple[str, str], str] = field(default_factory=dict)  # (file, name) → id on this page
    talk: bool = False  # links to slides not on the page go to their deck's page
    page_file: str = ""  # the talk's own file: its `#name` links stay on the page

    def source_dir(self, path: str) -> str:
        """The docs-relative folder of the file a slide was written in."""
        if self.docs_dir is None:
            return self.page_dir
        folder = Path(path).parent.relative_to(self.docs_dir).as_posix()
        return "" if folder == "." else folder

    def markdown(self, path: str, url: str) -> str:
        """A Markdown link or image target written in `path` (MkDocs resolves it from the page's source)."""
        if url.startswith("#") and self.talk:
            if (path, url[1:]) in self.anchors:
                return "#" + self.anchors[(path, url[1:])]
            if path != self.page_file:  # a slide the talk leaves out: its deck's page
                return self._relative(Path(path).name, self.source_dir(path), self.page_dir) + url
        if not _relative_url(url) or self.source_dir(path) == self.page_dir:
            return url
        return self._relative(url, self.source_dir(path), self.page_dir)

    def attribute(self, path: str, url: str) -> str:
        """A URL in an HTML attribute or CSS, which the browser resolves from the page's URL."""
        if not _relative_url(url):
            return url
        return self._relative(url, self.source_dir(path), self.url_dir)

    def page_of(self, path: str, fragment: str) -> str:
        """`#name` in a raw `<a href>`: on this page if the slide is here, else its deck's page."""
        if (path, fragment[1:]) in self.anchors:
            return "#" + self.anchors[(path, fragment[1:])]
        if path == self.page_file:
            return fragment
        page = posixpath.join(self.source_dir(path), Path(path).stem)
        return posixpath.relpath(page, self.url_dir or ".") + "/" + fragment

    @staticmethod
    def _relative(url: str, from_dir: str, to_dir: str) -> str:
        path, tail = re.match(r"([^?#]*)(.*)", url, re.S).groups()
        target = posixpath.normpath(posixpath.join(from_dir, path))
        return posixpath.relpath(target, to_dir or ".") + tail


def _relative_url(url: str) -> bool:
    return not re.match(r"^([a-zA-Z][\w+.-]*:|/|#|\{\{)", url)
