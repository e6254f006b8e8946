"""The docs cannot drift from the code: the import format (docs/import-format.md), the
command reference (docs/commands.md), the settings (docs/operations.md), the CI command
(the README's), the guides and the links between the pages."""

from __future__ import annotations

import re
from pathlib import Path

from typer.main import get_command

from kuznia.cli import app
from kuznia.ingest.tables import SPECS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")
IMPORT_FORMAT = (DOCS / "import-format.md").read_text(encoding="utf-8")
COMMANDS = (DOCS / "commands.md").read_text(encoding="utf-8")
OPERATIONS = (DOCS / "operations.md").read_text(encoding="utf-8")


def _format_table() -> dict[str, str]:
    rows = re.findall(r"^\| (\w+) \| ([^|]*(?:\([^)]*\))?[^|]*) \|$", IMPORT_FORMAT,
                      flags=re.M)
    return {t: cols for t, cols in rows if t in SPECS}


def test_import_format_table_matches_the_specs():
    documented = _format_table()
    assert set(documented) == set(SPECS)
    for name, spec in SPECS.items():
        text = re.sub(r"\([^)]*\)", "", documented[name])  # drop "(state, private, ...)"
        cells = [c.strip() for c in text.split(",")]
        expected = []
        for f in spec.fields:
            label = f.name + (f"={f.default}" if f.default is not None else "")
            expected.append(label if f.required else f"[{label}]")
        assert cells == expected, name


def test_documented_choices_match():
    assert "kind (state, private, joint_venture, trader)" in IMPORT_FORMAT
    for outcome in SPECS["uses"].field("outcome").choices:
        assert f"`{outcome}`" in IMPORT_FORMAT


def test_every_command_is_in_the_reference():
    group = get_command(app)
    names = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        names += [f"{name} {s}" for s in subs] if subs else [name]
    for name in names:
        assert f"| `kuznia {name}" in COMMANDS, name


def test_every_table_has_a_sample_file():
    for name in SPECS:
        assert (ROOT / "examples" / f"{name}.csv").exists(), name


def test_ci_runs_the_readme_test_command():
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    test_cmd = next(b.strip() for b in blocks if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd in ci
    assert "KUZNIA_TEST_POSTGRES_URL" in ci


def test_the_command_reference_is_generated_from_the_cli():
    from kuznia.cli.reference import table

    block = re.search(r"<!-- commands:start[^>]*-->\n(.*?)<!-- commands:end -->", COMMANDS,
                      flags=re.S)
    assert block is not None
    assert block.group(1) == table(), "run: python -m kuznia.cli.reference"


def test_every_setting_is_documented():
    from dataclasses import fields

    from kuznia.settings import PREFIX, Settings

    for f in fields(Settings):
        assert f"| `{PREFIX}{f.name.upper()}` |" in OPERATIONS, f.name


def test_every_role_has_a_guide_linked_from_the_readme_and_its_pictures_exist():
    guides = ROOT / "docs" / "guides"
    readme = (ROOT / "README.md").read_text()
    for role in ("analyst", "procurement", "watchdog", "producer", "field-engineer",
                 "admin"):
        assert f"(docs/guides/{role}.md)" in readme, role
    pictures = []
    for guide in sorted(guides.glob("*.md")):
        links = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", guide.read_text())
        assert links, f"{guide.name} shows no screenshot"
        for link in links:
            assert (guide.parent / link).is_file(), (guide.name, link)
            pictures.append(guide.parent / link)
    assert sum(p.stat().st_size for p in set(pictures)) < 1_600_000  # small, as said


def test_the_readme_is_a_front_door():
    """What Kuznia is, the two commands, a tour and where to go next: the rest is in docs/,
    and every page there is reachable from it."""
    assert README.count("\n") <= 300
    for page in sorted(DOCS.glob("*.md")):
        assert f"(docs/{page.name})" in README, page.name


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_between_the_pages_leads_somewhere():
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted(DOCS.rglob("*.md"))]
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), (page.name, target)
            if anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"),
                                      flags=re.M)
                assert anchor in {_slug(h) for h in headings}, (page.name, target)


def test_the_command_reference_gives_whole_sentences():
    """Each row is the first sentence of the command's --help, never a line cut short."""
    from kuznia.cli.reference import first_sentence, rows

    for synopsis, summary in rows():
        assert summary and not summary.endswith((",", ";", ":", "the", "and")), synopsis
    assert first_sentence("Walk the chain; exit 1\nnaming the first. More.") == \
        "Walk the chain; exit 1 naming the first"
    assert first_sentence("Back up (see kuznia.md. Then).\n\nDetails.") == \
        "Back up (see kuznia.md. Then)"
