"""Running a demo on its own: `python demos/<deck>/<name>.py [OUT_DIR]`."""

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from handson.paths import BUILD


def enable_compile_cache(cache_dir: Path = BUILD / "jax_cache") -> None:
    """Use JAX's persistent compilation cache under the (gitignored) build folder."""
    import jax

    jax.config.update("jax_compilation_cache_dir", os.environ.get("JAX_COMPILATION_CACHE_DIR", str(cache_dir)))
    # Tiny demos compile in well under a second each, so cache every compilation.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def standalone(main: Callable[..., dict], demo_file: str) -> None:
    """Call `main(out_dir)` with OUT_DIR from argv, default build/out/<deck>/<name>; print results.

    A demo's `ENV = {...}` (environment variables it needs before JAX starts, e.g. XLA_FLAGS)
    is honoured by running this script again with them set, as the runner's workers do.
    """
    env = main.__globals__.get("ENV") or {}
    if any(os.environ.get(name) != value for name, value in env.items()):
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], {**os.environ, **env})
    demo = Path(demo_file).resolve()
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else BUILD / "out" / demo.parent.name / demo.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    enable_compile_cache()
    results = main(out_dir)
    print(json.dumps(results, indent=2, sort_keys=True))
    print(f"outputs in {out_dir}", file=sys.stderr)
