"""Headless Chromium on the built site: a local server (optionally under a sub-path) and a watched page.

Debian's /usr/bin/chromium driven by Playwright for Python; never a browser download. Used by
`python -m handson preflight` and `python -m handson pdf`, and by the tests.
"""

import contextlib
import functools
import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = Path("/usr/bin/chromium")
# Flags for a closed network: no background calls home, no GPU, a throwaway profile.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
LOCAL_HOSTS = ("127.0.0.1", "localhost")  # the only hosts a page may ask anything of
# The sub-path GitHub Pages serves a project page under: the preflight and the browser tests
# serve the site there, so every page they open also checks that the hosted site works.
PAGES_PREFIX = "/handson-deep-learning/"


class _Handler(http.server.SimpleHTTPRequestHandler):
    prefix = "/"  # the sub-path the site is served under; anything outside it is a 404

    def translate_path(self, path: str) -> str:
        if not path.startswith(self.prefix):
            return str(Path(self.directory) / "__outside_the_prefix__" / "404")  # no such file
        return super().translate_path("/" + path[len(self.prefix):])

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # Chromium drops connections it no longer needs (a slide changed, a page closed): that is
        # no error of the site's, so say nothing; anything else still prints its traceback.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(site: Path, prefix: str = "/") -> Iterator[str]:
    """Serve `site` on the loopback address under `prefix` ("/repo/"); yield the site's base URL."""
    prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
    handler = functools.partial(type("Handler", (_Handler,), {"prefix": prefix}), directory=str(site))
    httpd = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}{prefix}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def launch(playwright):
    """Start Debian's Chromium headless (fails with the install command when it is missing)."""
    if not CHROMIUM.exists():
        raise RuntimeError("Debian chromium is missing: apt-get install chromium chromium-driver (.ci/run does it)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)


def watch(context, problems: list[str]) -> None:
    """Collect console errors, page errors, HTTP errors and blocked non-local requests into `problems`."""

    def route(r):
        url = r.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in LOCAL_HOSTS:
            r.continue_()
        else:
            problems.append(f"request to a non-local host: {url}")
            r.abort()

    def on_page(page):
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

    context.route("**/*", route)
    context.on("page", on_page)
