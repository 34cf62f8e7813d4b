"""What a Python file imports and declares, found by parsing it (never by running it).

Only the runner's planning uses this, and only for files whose parse is not in the stat
cache yet: a warm no-op run does not even import `ast`.
"""

import ast
import os
from pathlib import Path


def analyse(data: bytes, path: str, package: str) -> dict:
    """What the scanner keeps of a parse: imported names and a demo's facts (JSON-able)."""
    try:
        tree = ast.parse(data, filename=path)
    except (SyntaxError, ValueError):  # the worker reports it, with file and line, when it runs
        return {"imports": [], "facts": {"caption": "", "time_limit": None, "env": {}, "env_error": None,
                                         "uses": []}}
    top_level = set(_module_level_nodes(tree))
    imports = [[name, node in top_level] for node in ast.walk(tree)
               for name in _imported_names(node, package)]
    return {"imports": imports, "facts": _facts(tree, path)}


def _facts(tree: ast.Module, path: str) -> dict:
    doc = (ast.get_docstring(tree) or "").strip()
    limit = _constant(tree, "TIME_LIMIT")
    env, line = _constant(tree, "ENV"), _constant_line(tree, "ENV")
    env_error = None
    if line and not (isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in env.items())):
        env_error = f"{os.path.basename(path)}:{line}: ENV must be a dict literal of strings"
        env = None
    # Demo files of other decks this demo loads by path (their folders are no package names,
    # so no import statement says so): `USES = ("02_neural_networks/train_digits.py",)`.
    uses = _constant(tree, "USES")
    uses = [u for u in uses if isinstance(u, str)] if isinstance(uses, (list, tuple)) else []
    return {"caption": doc.splitlines()[0].strip() if doc else "",
            "time_limit": float(limit) if isinstance(limit, (int, float)) and limit > 0 else None,
            "env": env or {}, "env_error": env_error, "uses": uses}


def _module_level_nodes(tree: ast.Module):
    """Statements that run at import: everything outside function bodies."""
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def _imported_names(node: ast.AST, package: str) -> list[str]:
    """Dotted module names an import statement may load (`from a import b` may load a.b)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        parents = package.split(".") if package else []
        if node.level - 1 > len(parents):
            return []
        parents = parents[: len(parents) - (node.level - 1)]
        base = ".".join(p for p in [*parents, base] if p)
        if not base:
            return ["." + a.name for a in node.names]  # relative outside a package: unresolvable
    return [base] + [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]


def _assignment(tree: ast.Module, name: str) -> ast.Assign | None:
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == name):
            return node
    return None


def _constant(tree: ast.Module, name: str):
    node = _assignment(tree, name)
    try:
        return ast.literal_eval(node.value) if node else None
    except ValueError:
        return None


def _constant_line(tree: ast.Module, name: str) -> int | None:
    node = _assignment(tree, name)
    return node.lineno if node else None


def time_limit(path: Path, default: float) -> float:
    """The demo's `TIME_LIMIT = <seconds>` constant if it has one, else `default`."""
    return _facts(ast.parse(path.read_bytes()), str(path))["time_limit"] or default


def caption(path: Path) -> str:
    """First line of the module docstring (the figure caption)."""
    return _facts(ast.parse(path.read_bytes()), str(path))["caption"]
