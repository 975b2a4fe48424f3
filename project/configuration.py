"""Every setting, declared once in `project/configuration.toml`: its name, type, default,
group, whether production must set it, a one-line doc and its bounds.

`project/settings.py` and gunicorn.conf.py read the environment through `read`,
`project/checks.py` checks the bounds, and `make docs` (`python -m project.configuration`)
writes the tables of docs/configuration.md and the whole of .env.example from it (a test
fails when either is stale). Defaults that depend on other settings are computed in
`DERIVED`, the one place besides the file that knows a default.
"""

from __future__ import annotations

import multiprocessing
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
SOURCE = Path(__file__).with_suffix(".toml")
TYPES = ("str", "int", "float", "bool", "list", "dict", "json", "path")
READERS = ("django", "gunicorn", "opentelemetry")
_HOST_NAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}")


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    doc: str = ""


@dataclass(frozen=True)
class Setting:
    """One setting: read from the environment variable of the same name."""

    name: str
    group: str
    type: str
    doc: str
    default: Any = None  # None: derived (DERIVED) or none at all (`default_doc` says)
    default_doc: str = ""  # the default in words, where it is not a plain value
    production: bool = False  # production must set it
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    check: str = "accounts.E002"  # the system check's id when a bound is broken
    example: str | None = None  # the value .env.example shows, when not the default
    commented: bool = False  # .env.example shows it commented out
    reader: str = "django"

    def bounds(self) -> str:
        """The bounds in words, or ''."""
        if self.choices:
            return "one of " + ", ".join(f"`{choice}`" for choice in self.choices)
        if self.min is not None and self.max is not None:
            return f"{_number(self.min)} to {_number(self.max)}"
        if self.min is not None:
            return f"at least {_number(self.min)}"
        if self.max is not None:
            return f"at most {_number(self.max)}"
        return ""

    def problem(self, value: Any) -> str:
        """Why `value` breaks this setting's bounds, or ''."""
        if self.choices and value not in self.choices:
            return f"{self.name} must be {self.bounds().replace('`', '')}."
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        low, high = self.min, self.max
        if numeric and ((low is not None and value < low) or (high is not None and value > high)):
            return f"{self.name} must be {self.bounds()}."
        return ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _load() -> tuple[tuple[Group, ...], dict[str, Setting]]:
    data = tomllib.loads(SOURCE.read_text(encoding="utf-8"))
    groups = tuple(Group(key=key, **fields) for key, fields in data["groups"].items())
    settings: dict[str, Setting] = {}
    for entry in data["setting"]:
        entry = dict(entry)
        entry["choices"] = tuple(entry.get("choices", ()))
        setting = Setting(**entry)
        if setting.name in settings:
            raise ValueError(f"{setting.name} is declared twice in {SOURCE.name}")
        if setting.type not in TYPES or setting.reader not in READERS:
            raise ValueError(f"{setting.name}: type or reader unknown")
        if setting.group not in {group.key for group in groups}:
            raise ValueError(f"{setting.name}: group {setting.group!r} unknown")
        settings[setting.name] = setting
    return groups, settings


GROUPS, SETTINGS = _load()


def _first_host_name(values: Mapping[str, Any]) -> str:
    hosts = values["ALLOWED_HOSTS"]
    return next((host for host in hosts if _HOST_NAME.fullmatch(host.lower())), "")


# Defaults computed from the settings read before them (in the file's order).
DERIVED: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "ALLOWED_HOSTS": lambda v: ["127.0.0.1", "localhost"] if v["DEBUG"] else [],
    "DATABASE_URL": lambda v: f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
    "STATIC_ROOT": lambda v: str(BASE_DIR / "staticfiles"),
    "DEFAULT_LANGUAGE": lambda v: "fa" if v["PHONE_DEFAULT_REGION"].upper() == "IR" else "en",
    "RATE_LIMIT_STORE": lambda v: "redis" if v["REDIS_URL"] else "database",
    "TRUSTED_PROXY_COUNT": lambda v: 1 if v["TRUSTED_PROXIES"] else 0,
    "SMS_FILE_PATH": lambda v: str(BASE_DIR / "sent_sms"),
    "OTP_WEBOTP_DOMAIN": _first_host_name,
    "JWT_ISSUER": lambda v: (
        next((h for h in v["ALLOWED_HOSTS"] if h and h[0] not in ".*"), "") or "localhost"
    ),
    "GRAPHIQL_ENABLED": lambda v: v["DEBUG"],
    "GRAPHQL_INTROSPECTION": lambda v: v["GRAPHIQL_ENABLED"],
    "GRAPHQL_MAX_TOKENS": lambda v: 400 if v["GRAPHQL_INTROSPECTION"] else 64,
    "GUNICORN_BIND": lambda v: f"127.0.0.1:{v['PORT']}",
    "WEB_CONCURRENCY": lambda v: multiprocessing.cpu_count() * 2 + 1,
}


def _parse(env: environ.Env, setting: Setting, default: Any) -> Any:
    if setting.type == "path":
        return str(env.path(setting.name, default=default))
    if setting.type == "json":  # read as text: the system checks say what is wrong with it
        return env.str(setting.name, default=default)
    return getattr(env, setting.type)(setting.name, default=default)


def read(env: environ.Env | None = None, reader: str = "django") -> dict[str, Any]:
    """Every setting `reader` reads, by name: the environment's value, or the default."""
    env = env or environ.Env()
    values: dict[str, Any] = {}
    for setting in SETTINGS.values():
        if setting.reader != reader:
            continue
        default = DERIVED[setting.name](values) if setting.name in DERIVED else setting.default
        if default is None and setting.name not in DERIVED:
            default = {"list": [], "dict": {}}.get(setting.type, "")
        values[setting.name] = _parse(env, setting, default)
    return values


def in_group(key: str) -> Iterator[Setting]:
    return (setting for setting in SETTINGS.values() if setting.group == key)


# --- The documents made from the declarations (`make docs`) --------------------------

DOCS = BASE_DIR / "docs" / "configuration.md"
ENV_EXAMPLE = BASE_DIR / ".env.example"
DOCS_START = "<!-- settings: made by `make docs` from project/configuration.toml -->"
DOCS_END = "<!-- /settings -->"


def shown(setting: Setting, value: Any) -> str:
    """A value as the environment variable would be written."""
    if setting.type == "bool":
        return "1" if value else "0"
    if setting.type == "list":
        return ",".join(value)
    if setting.type == "dict":
        return ",".join(f"{key}={item}" for key, item in value.items())
    return _number(value) if isinstance(value, float) else str(value)


def default_in_words(setting: Setting) -> str:
    if setting.default_doc:
        return setting.default_doc
    if setting.default in (None, "", [], {}):
        return "empty"
    return f"`{shown(setting, setting.default)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def settings_tables() -> str:
    """docs/configuration.md's part made from the declarations, markers included."""
    lines = [DOCS_START, "", "## Minimal production environment", ""]
    lines.append("What production must set (every other setting has a safe default):")
    lines += ["", "```sh", "DEBUG=0"]
    for setting in SETTINGS.values():
        if setting.production:
            lines.append(f"{setting.name}={setting.example or ''}")
    lines += ["```", "", "## Settings by group", ""]
    for group in GROUPS:
        lines += [f"### {group.title}", ""]
        if group.doc:
            lines += [group.doc, ""]
        lines += ["| variable | default | production | meaning |", "|---|---|---|---|"]
        for setting in in_group(group.key):
            bounds = setting.bounds()
            meaning = setting.doc + (f" {bounds[0].upper()}{bounds[1:]}." if bounds else "")
            row = (
                f"`{setting.name}`",
                default_in_words(setting),
                "set" if setting.production else "",
            )
            lines.append("| " + " | ".join(_cell(cell) for cell in (*row, meaning)) + " |")
        lines.append("")
    lines.append(DOCS_END)
    return "\n".join(lines)


def _comment(text: str, width: int = 88) -> list[str]:
    words, lines, line = text.split(), [], "#"
    for word in words:
        if len(line) + 1 + len(word) > width:
            lines.append(line)
            line = "#"
        line += " " + word
    return [*lines, line] if line != "#" else lines


def env_example() -> str:
    """.env.example, whole."""
    lines = [
        "# Made by `make docs` from project/configuration.toml: edit that file, not this one.",
        "# Copy to .env (or set these in the environment; the environment wins).",
    ]
    for group in GROUPS:
        lines += ["", f"# --- {group.title} ---"]
        for setting in in_group(group.key):
            doc = setting.doc
            if setting.default_doc:
                doc += f" Default: {setting.default_doc}."
            lines += _comment(doc.replace("`", ""))
            if setting.default not in (None, "", [], {}):
                value = shown(setting, setting.default)
            else:
                value = setting.example or ""
            blank = value == "" and not setting.production
            prefix = "# " if setting.commented or blank else ""
            lines.append(f"{prefix}{setting.name}={value}")
    return "\n".join(lines) + "\n"


def docs_with_tables(current: str) -> str:
    """docs/configuration.md with its made part replaced."""
    start, end = current.index(DOCS_START), current.index(DOCS_END) + len(DOCS_END)
    return current[:start] + settings_tables() + current[end:]


if __name__ == "__main__":
    DOCS.write_text(docs_with_tables(DOCS.read_text(encoding="utf-8")), encoding="utf-8")
    ENV_EXAMPLE.write_text(env_example(), encoding="utf-8")
