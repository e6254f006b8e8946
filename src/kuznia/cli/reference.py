"""The command reference (docs/commands.md), made from the CLI itself so that it cannot drift.

    python -m kuznia.cli.reference          # print the Markdown table

``tests/test_docs.py`` checks that docs/commands.md holds exactly this table between its
``commands:start`` and ``commands:end`` markers.
"""

from __future__ import annotations

from typing import Any

from typer.main import get_command

from kuznia.cli import app

COMMON = {"db", "actor", "json"}  # described once, above the table


def _synopsis(path: list[str], cmd: Any) -> str:
    parts = ["kuznia", *path]
    for p in cmd.params:
        if p.name in COMMON:
            continue
        if p.param_type_name == "argument":
            parts.append(p.name.upper())
            continue
        opt = max(p.opts, key=len) if p.opts else f"--{p.name}"
        if getattr(p, "is_flag", False):
            shown = [*p.opts, *p.secondary_opts] if p.default is None else p.opts
            text = "/".join(shown)
        else:
            text = f"{opt} {p.metavar or opt.lstrip('-').upper().replace('-', '_')}"
            if p.multiple:
                text += " ..."
        parts.append(text if p.required else f"[{text}]")
    if any(p.name == "json" for p in cmd.params):
        parts.append("[--json]")
    return " ".join(parts).replace("|", "\\|")


def first_sentence(text: str) -> str:
    r"""The first sentence of a help text's first paragraph, its lines joined: up to the
    first full stop (or ! ?) that ends a word outside brackets.

    >>> first_sentence("Walk the chain (see docs.\n kuznia.md); exit 1.\nMore.")
    'Walk the chain (see docs. kuznia.md); exit 1'
    """
    words = " ".join(text.strip().split("\n\n")[0].split())
    depth = 0
    for i, ch in enumerate(words):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(depth - 1, 0)
        elif ch in ".!?" and depth == 0 and (i + 1 == len(words) or words[i + 1] == " "):
            return words[:i]
    return words.rstrip(".")


def _summary(cmd: Any) -> str:
    return first_sentence(cmd.help or "").replace("|", "\\|")


def rows() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs and any(p.name not in COMMON for p in cmd.params):  # a group that also
            out.append((_synopsis(path, cmd), _summary(cmd)))  # acts alone (licences)
        if subs:
            for name in subs:
                walk(subs[name], [*path, name])
        else:
            out.append((_synopsis(path, cmd), _summary(cmd)))

    walk(get_command(app), [])
    return out


def table() -> str:
    lines = ["| command | what it does |", "| --- | --- |"]
    lines += [f"| `{s}` | {h} |" for s, h in rows()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(table())
