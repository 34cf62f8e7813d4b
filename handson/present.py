"""`make present`: the site on the loopback address, with a run API beside it for live demos.

`python -m handson present [--port N]` brings the figures and the site up to date, then serves
`site/` on 127.0.0.1 only. Every HTML page it serves gets `window.handsonLive` (the demos and
their knobs) and the live script and stylesheet (handson/assets/live.*, the "live" view of
handson/vendor.py): the static site never loads them, so without this server no control shows
and nothing is requested. The API:

    POST /api/run     {"demo", "knobs": {name: value}, "formats": [[reference, spec], ...]}
                      -> 200 and one JSON event per line as the run goes (queued, start,
                         progress..., then done with outputs/values/device or failed with a
                         reason); 400 bad knob (named, with its allowed values), 404 unknown
                         demo, 409 that demo is running: nothing is started for those.
    GET  /api/demos   {name: {"deck", "knobs"}}
    GET  /api/status  runs started, workers, what runs and warms
    GET  /_live/<run>/<file>   a live run's outputs (build/live/runs/)

Requests whose Host is not the address served, or whose Origin is another site, are refused
(403): a page elsewhere cannot start runs, even through DNS rebinding. Ctrl-C (or SIGTERM)
stops the server and every worker.
"""

import http.server
import io
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

from handson import present_knobs, safety, vendor
from handson.paths import PROJECT, Layout
from handson.present_pool import Busy, Live, NotFound

LOOPBACK = "127.0.0.1"  # the only address served
DEFAULT_PORT = 8765  # `--port` changes it; 0 picks a free one
MAX_BODY = 64 * 1024  # bytes of a request body
DEMOS_ATTRIBUTE = re.compile(rb'data-demos="([^"]*)"')  # a slide's demos, in slide order


def main(port: int = DEFAULT_PORT, *, layout: Layout = PROJECT, site: Path | None = None,
         build: bool = True, workers: int = 2, time_limit: float | None = None) -> int:
    """Build what is stale, serve until Ctrl-C; the exit status."""
    site = Path(site or layout.root / "site")
    if build:
        code = _build(layout)
        if code:
            return code
    if not (site / "index.html").is_file():
        print(f"error: {site} has no index.html: run `make site` (or drop --no-build)", file=sys.stderr)
        return 2
    live = Live(layout, workers=workers, time_limit=time_limit)
    try:
        server = serve(site, live, port)
    except OSError as error:
        print(f"error: cannot listen on {LOOPBACK}:{port}: {error.strerror or error}", file=sys.stderr)
        return 2
    live.open()
    url = f"http://{LOOPBACK}:{server.server_address[1]}/"
    print(f"Presenting {layout.rel(site)} at {url} (live demos: R runs a slide's demo, K its knobs, "
          f"X the recorded output). Ctrl-C stops.", flush=True)
    try:
        with safety.stop_on_signals():
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        live.close()
        print("stopped: server and workers", flush=True)
    return 0


def _build(layout: Layout) -> int:
    """`make figures`, then `mkdocs build` (the site the server shows is the current one)."""
    from handson import runner

    code = runner.run(layout=layout)
    if code not in (0, 1):  # failed demos keep their last good outputs: present anyway
        return code
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet"], cwd=layout.root, env=env).returncode


def serve(site: Path, live: Live, port: int) -> http.server.ThreadingHTTPServer:
    """The server, bound to the loopback address (not yet serving)."""
    handler = type("Handler", (Handler,), {"live": live, "site": Path(site)})
    server = http.server.ThreadingHTTPServer((LOOPBACK, port), lambda *a: handler(*a, directory=str(site)))
    server.daemon_threads = True
    handler.hosts = {f"{LOOPBACK}:{server.server_address[1]}", f"localhost:{server.server_address[1]}"}
    return server


class Handler(http.server.SimpleHTTPRequestHandler):
    live: Live
    site: Path
    hosts: set[str]  # Host values that name this server

    def log_message(self, *args):
        pass

    # ------------------------------------------------------------ who may ask

    def _allowed(self) -> bool:
        host = self.headers.get("Host", "")
        origin = self.headers.get("Origin")
        if host not in self.hosts:
            self._json(403, {"error": f"refused: Host {host!r} is not this server ({', '.join(sorted(self.hosts))})"})
            return False
        if origin is not None and origin not in {f"http://{h}" for h in self.hosts}:
            self._json(403, {"error": f"refused: requests from {origin} may not use this server"})
            return False
        return True

    # ------------------------------------------------------------ methods

    def do_GET(self):
        if not self._allowed():
            return
        path = urlsplit(self.path).path
        if path == "/api/demos":
            return self._json(200, {"demos": self.live.describe()})
        if path == "/api/status":
            return self._json(200, self.live.status())
        if path.startswith("/api/"):
            return self._json(404, {"error": f"no API {path}"})
        super().do_GET()

    def do_HEAD(self):
        if self._allowed():
            super().do_HEAD()

    def do_POST(self):
        if not self._allowed():
            return
        if urlsplit(self.path).path != "/api/run":
            return self._json(404, {"error": f"no API {urlsplit(self.path).path}"})
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            return self._json(415, {"error": "send JSON (Content-Type: application/json)"})
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 < length <= MAX_BODY:
                raise ValueError(f"a body of 1 to {MAX_BODY} bytes")
            body = json.loads(self.rfile.read(length))
            if not isinstance(body, dict):
                raise ValueError("a JSON object")
        except ValueError as error:
            return self._json(400, {"error": f"bad request: expected {error}"})
        try:
            run = self.live.submit(body.get("demo"), body.get("knobs"), body.get("formats"))
        except NotFound as error:
            return self._json(404, {"error": str(error)})
        except present_knobs.BadValue as error:
            return self._json(400, {"error": str(error)})
        except Busy as error:
            return self._json(409, {"error": str(error)})
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        try:
            for event in run.stream():
                self.wfile.write(json.dumps(event).encode() + b"\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page went away; the run finishes and is kept

    def do_PUT(self):
        self._json(405, {"error": "method not allowed"})

    do_DELETE = do_PATCH = do_PUT

    # ------------------------------------------------------------ files

    def translate_path(self, path: str) -> str:
        """`/_live/<run>/<file>`: build/live/runs; the rest: the site."""
        clean = unquote(urlsplit(path).path)
        if clean.startswith("/_live/"):
            root = self.live.runs_dir.resolve()
            target = (root / clean[len("/_live/"):]).resolve()
            return str(target) if target.is_relative_to(root) and target != root else str(root / "-missing-")
        return super().translate_path(path)

    def send_head(self):
        """HTML pages get the live hooks; opening a page warms its demos."""
        fs_path = Path(self.translate_path(self.path))
        if fs_path.is_dir() and urlsplit(self.path).path.endswith("/"):
            fs_path = fs_path / "index.html"
        if fs_path.suffix != ".html" or not fs_path.is_file() or not fs_path.resolve().is_relative_to(self.site.resolve()):
            return super().send_head()
        page = fs_path.read_bytes()
        demos = list(dict.fromkeys(n.decode() for m in DEMOS_ATTRIBUTE.findall(page) for n in m.split()))
        if demos:
            self.live.warm(demos)
        body = inject(page, hooks(self.live.describe()))
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        return io.BytesIO(body)

    def _json(self, status: int, data: dict) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def hooks(demos: dict) -> bytes:
    """What the server adds to a page: the demos and their knobs, then the live assets."""
    data = json.dumps({"api": "/api/", "demos": demos}).replace("</", "<\\/")
    tags = [f"<script>window.handsonLive = {data};</script>"]
    tags += [f'<link rel="stylesheet" href="/{href}">' for href in vendor.stylesheets("live")]
    tags += [f'<script src="/{src}"></script>' for src in vendor.scripts("live")]
    return "\n".join(tags).encode() + b"\n"


def inject(page: bytes, snippet: bytes) -> bytes:
    """`snippet` just before the page's last `</body>` (at the end if it has none)."""
    at = page.lower().rfind(b"</body>")
    return page + snippet if at < 0 else page[:at] + snippet + page[at:]


def serve_in_thread(site: Path, live: Live, port: int = 0):
    """For tests and benchmarks: (server, base URL), serving in a daemon thread."""
    server = serve(site, live, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{LOOPBACK}:{server.server_address[1]}"
