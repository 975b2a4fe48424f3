"""The house rules a newcomer relies on, checked: no import cycle, no module over 350
lines, the documented error codes and settings are the ones the code has, and the README
stays a front door."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from accounts import errors

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "schema", "project")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module of ours that `name` imports, at its top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def test_no_import_cycle():
    known = modules()
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    # A package importing its own submodules is how Python loads them, not a cycle.
    for name in graph:
        graph[name] = {
            t for t in graph[name] if not (t.startswith(name + ".") or name.startswith(t + "."))
        }
    visiting, done, cycles = [], set(), []

    def visit(node):
        if node in done:
            return
        if node in visiting:
            cycles.append(visiting[visiting.index(node) :] + [node])
            return
        visiting.append(node)
        for target in sorted(graph[node]):
            visit(target)
        visiting.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)
    assert cycles == []


def test_no_module_over_350_lines():
    long = {
        name: lines
        for name, path in modules().items()
        if name != "project.settings" and (lines := len(path.read_text().splitlines())) > 350
    }
    assert long == {}


def test_the_readme_is_a_front_door():
    assert len((ROOT / "README.md").read_bytes()) <= 15_000


def documented_errors() -> dict[str, tuple[int, str]]:
    """The table of docs/errors.md: code -> (HTTP status, REST code)."""
    rows = re.findall(
        r"^\| `([A-Z_]+)` \| (\d{3}) \| `([A-Za-z_]+)`",
        (ROOT / "docs" / "errors.md").read_text(),
        re.MULTILINE,
    )
    return {code: (int(status), rest) for code, status, rest in rows}


def test_the_error_table_is_the_catalogue():
    catalogue = errors.catalogue()
    assert documented_errors() == {
        code: (kind.status, kind.rest()) for code, kind in catalogue.items()
    }
    for code, kind in catalogue.items():
        assert getattr(errors, kind.__name__) is kind, code


def settings_read_by_the_code() -> set[str]:
    """Every variable `project/settings.py` and `gunicorn.conf.py` read from the environment."""
    settings = (ROOT / "project" / "settings.py").read_text()
    gunicorn = (ROOT / "gunicorn.conf.py").read_text()
    return set(re.findall(r"env(?:\.\w+)?\(\s*\"([A-Z0-9_]+)\"", settings)) | set(
        re.findall(r"os\.environ(?:\.get\(|\[)[\"']([A-Z0-9_]+)[\"']", gunicorn)
    )


def test_every_setting_is_documented():
    table = (ROOT / "docs" / "configuration.md").read_text()
    first_cells = re.findall(r"^\| (.+?) \|", table, re.MULTILINE)
    documented = {name for cell in first_cells for name in re.findall(r"`([A-Z0-9_]+)`", cell)}
    read = settings_read_by_the_code()
    assert len(read) > 60
    assert read - documented == set()


def test_the_fuzzed_codes_are_the_documented_ones():
    from tests.test_fuzz import GRAPHQL_CODES, REST_CODES

    documented = documented_errors()
    assert {rest for _, rest in documented.values()} >= REST_CODES
    assert set(documented) >= GRAPHQL_CODES
