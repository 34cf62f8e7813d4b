"""Command line: `python -m handson figures|inspect|preflight|pdf|present ...` (see `--help` of each).

`inspect DECK.md...` prints a deck's counts as remark.js reports them, as JSON."""

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handson", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    figures = commands.add_parser(
        "figures", help="run the stale demos, write slides/_generated and its manifest",
        description="Run the demos whose inputs changed (source, imported project modules, "
                    "style, library and Python versions, backend, numeric environment, worker "
                    "code) or whose published outputs changed; the others are cached.")
    figures.add_argument("names", nargs="*", metavar="NAME",
                         help="demo name (activations) or id (02_neural_networks/activations); "
                              "default: all")
    figures.add_argument("--force", action="store_true", help="run even if up to date")
    figures.add_argument("--jobs", "-j", type=_positive(int), default=None,
                         help="worker processes (default: 2 or the CPU count if smaller)")
    figures.add_argument("--timeout", type=_positive(float), default=None,
                         help="seconds per demo unless it sets TIME_LIMIT (default: 600)")
    inspect = commands.add_parser(
        "inspect", help="print each deck's slide, step, notes and property counts as remark.js counts them",
        description="Counts as remark.js's slideshow.getSlides() gives them (see docs/CONTRACTS.md for the "
                    "JavaScript that prints the same JSON from remark), plus the parser's warnings.")
    inspect.add_argument("decks", nargs="+", metavar="DECK.md", help="a deck (or a talk under slides/talks/)")
    preflight = commands.add_parser(
        "preflight", help="check in headless Chromium that every slide fits and reads",
        description="Step through every slide and fragment of every deck and talk of the built site "
                    "at 16:9 and 4:3; fail on overflow, clipped code, overlaps, small text, console "
                    "errors, non-local requests and broken images.")
    preflight.add_argument("decks", nargs="*", metavar="DECK", help="deck folder (02_neural_networks); default: all")
    preflight.add_argument("--site", type=Path, default=None, help="built site (default: site/)")
    preflight.add_argument("--aspect", action="append", choices=["16:9", "4:3"], help="default: both")
    preflight.add_argument("--json", type=Path, default=None, help="also write the problems as JSON here")
    pdf = commands.add_parser(
        "pdf", help="print every deck and talk to site/<deck>/<deck>.pdf and a notes handout",
        description="Chromium's print-to-PDF of each slideshow: one page per slide with its steps shown, "
                    "and <deck>-notes.pdf with the speaker notes under each slide; linked from the reader page.")
    pdf.add_argument("decks", nargs="*", metavar="DECK", help="deck folder; default: all")
    pdf.add_argument("--site", type=Path, default=None, help="built site (default: site/)")
    present = commands.add_parser(
        "present", help="serve the site on 127.0.0.1 with live demos (R runs a slide's demo, K its knobs)",
        description="Bring the figures and the site up to date, then serve site/ on the loopback address "
                    "with a run API and warm workers: a slide's demo reruns live with changed knobs.")
    present.add_argument("--port", type=int, default=None, help="TCP port (default: 8765; 0: any free one)")
    present.add_argument("--no-build", action="store_true", help="serve site/ as it is (no make figures, no mkdocs build)")
    present.add_argument("--workers", type=_positive(int), default=2, help="warm worker processes (default: 2)")
    present.add_argument("--time-limit", type=_positive(float), default=None,
                         help="seconds a live run may take at most (default: the demo's TIME_LIMIT, else 300)")
    args = parser.parse_args(argv)
    if args.command == "present":
        from handson import present as server

        port = server.DEFAULT_PORT if args.port is None else args.port
        return server.main(port, build=not args.no_build, workers=args.workers, time_limit=args.time_limit)
    if args.command == "inspect":
        return _inspect(args.decks)

    if args.command in ("preflight", "pdf"):
        from handson import paths

        site = args.site or paths.ROOT / "site"
        if args.command == "preflight":
            from handson import preflight as check

            return check.main(site, args.decks or None, args.aspect, args.json)
        from handson import pdf as printer

        return printer.main(site, args.decks or None)

    # Imported here so `--help` stays instant; runner itself never imports JAX.
    from handson import runner

    timeout = args.timeout if args.timeout is not None else runner.DEFAULT_TIME_LIMIT
    return runner.run(args.names, force=args.force, jobs=args.jobs, timeout=timeout)


def _inspect(paths: list[str]) -> int:
    import json

    from handson.syntax import DeckError
    from handson.syntax.inspect import inspect

    try:
        print(json.dumps([inspect(path) for path in paths], indent=1, ensure_ascii=False))
    except DeckError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its error messages
    return parse


if __name__ == "__main__":
    sys.exit(main())
