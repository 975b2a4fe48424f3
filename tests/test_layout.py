"""The house rules a newcomer relies on, checked: rooms by concern (at most 12 entries in
`accounts/`, no module name twice, imports only downward: doors -> flows -> services ->
sql/models), no import cycle, no module over 350 lines, the documented error codes are
the ones the code has, and the README stays a front door."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from accounts import errors

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "schema", "rest", "backoffice", "project")


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


# Each module's rank: a module imports only modules of its rank or below, and no door
# imports another door. The first prefix that matches names the rank.
RANKS = (
    # The composition root: settings, routing, the WSGI app, start-up wiring and checks.
    ("project.settings", 6, "site"),
    ("project.urls", 6, "site"),
    ("project.wsgi", 6, "site"),
    ("project.checks", 6, "site"),
    ("accounts.apps", 6, "site"),
    # The doors: each its own, none importing another.
    ("schema", 5, "door:graphql"),
    ("rest", 5, "door:rest"),
    ("backoffice", 5, "door:backoffice"),
    ("project.health", 5, "door:probes"),
    # What every door shares: reading client input, rendering errors, the middleware.
    ("project.middleware", 4, "door support"),
    ("project.cross_site", 4, "door support"),
    ("project.errors", 4, "door support"),
    ("project.client_input", 4, "door support"),
    ("accounts.flows", 3, "flows"),
    ("accounts.identity.phone", 0, "leaf"),  # every layer reads and masks numbers
    ("accounts.identity", 2, "services"),
    ("accounts.codes", 2, "services"),
    ("accounts.sessions", 2, "services"),
    ("accounts.abuse", 2, "services"),
    ("accounts.outbound", 2, "services"),
    ("accounts.sql", 1, "sql/models"),
    ("accounts.models", 1, "sql/models"),
    ("accounts.errors", 0, "leaf"),
    ("project", 0, "leaf"),  # routes, request ids, tracing, the Redis client, configuration
)


def rank_of(name: str) -> tuple[int, str]:
    if name in ("accounts", "project"):  # the packages themselves: empty
        return 0, "leaf"
    for prefix, rank, kind in RANKS:
        if name == prefix or name.startswith(prefix + "."):
            return rank, kind
    raise AssertionError(f"{name} has no rank in tests/test_layout.py")


def test_imports_go_only_downward_and_no_door_imports_another():
    known = modules()
    wrong = []
    for name, path in known.items():
        rank, kind = rank_of(name)
        for target in imports_of(name, path, known):
            if target.startswith(name + ".") or name.startswith(target + "."):
                continue  # a package and its own modules
            target_rank, target_kind = rank_of(target)
            door_to_door = kind.startswith("door:") and target_kind.startswith("door:")
            if target_rank > rank or (door_to_door and kind != target_kind):
                wrong.append(f"{name} ({kind}) imports {target} ({target_kind})")
    assert wrong == []


def test_accounts_is_grouped_by_concern():
    top = sorted(p.name for p in (ROOT / "accounts").iterdir() if p.name != "__pycache__")
    assert len(top) <= 12, top
    allowed_twice = {"__init__.py", "models.py", "admin.py", "apps.py"}
    seen: dict[str, list[str]] = {}
    for path in (ROOT / "accounts").rglob("*.py"):
        if "migrations" not in path.parts and path.name not in allowed_twice:
            seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}


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


def test_every_setting_is_read_through_the_registry():
    """No environment variable is read around project/configuration.toml: settings.py and
    gunicorn.conf.py read only through it, and every Django setting it declares is bound."""
    from django.conf import settings

    from project import configuration

    code = (ROOT / "project" / "settings.py").read_text()
    code += (ROOT / "gunicorn.conf.py").read_text()
    assert re.findall(r"env\.\w+\(|os\.environ\.get\(\s*\"(?!PROMETHEUS)", code) == []
    assert len(configuration.SETTINGS) > 100
    for setting in configuration.SETTINGS.values():
        if setting.reader == "django":
            assert hasattr(settings, setting.name), setting.name
        has_default = setting.default is not None or setting.name in configuration.DERIVED
        assert has_default or setting.type in ("str", "list", "dict", "path"), setting.name


def test_the_configuration_documents_are_made_from_the_registry():
    from project import configuration

    docs = configuration.DOCS.read_text(encoding="utf-8")
    assert docs == configuration.docs_with_tables(docs), "docs/configuration.md: run make docs"
    example = configuration.ENV_EXAMPLE.read_text(encoding="utf-8")
    assert example == configuration.env_example(), ".env.example is stale: run make docs"


def test_the_fuzzed_codes_are_the_documented_ones():
    from tests.test_fuzz import GRAPHQL_CODES, REST_CODES

    documented = documented_errors()
    assert {rest for _, rest in documented.values()} >= REST_CODES
    assert set(documented) >= GRAPHQL_CODES
