"""The services' errors say Ukrainian when the moment speaks it (issue 30): real calls of
the planning, backup, vault, records, table-of-uses and red-flag-config services, each
refused, said under ``language("uk")`` with no English words left, while ``str()`` (the
API's and the log's words) stays English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kuznia
from kuznia.errors import BackupError, KuzniaError, NotFoundError, UsageError
from kuznia.i18n import language
from kuznia.services import backup as backups
from kuznia.services import (
    oversight_config,
    planning,
    records,
    use_table,
    vault_copies,
    vault_crypto,
)
from kuznia.services.access import EVERYTHING

ENGLISH = re.compile(r"\b(no|not|is|the|of|and|or|nothing|was|takes|must|named|file|"
                     r"filters?|backup|restored|vault|empty|setting|number)\b")


def _said(e: KuzniaError, name=str) -> str:  # type: ignore[no-untyped-def]
    with language("uk"):
        return e.say(name)


def test_a_missing_plan_is_said_in_ukrainian(ws: kuznia.Workspace) -> None:
    with pytest.raises(NotFoundError) as caught:
        planning.show_plan(ws.store, "spring buy")
    said = _said(caught.value)
    assert str(caught.value) == ("no plan named 'spring buy'; the list of plans shows the "
                                 "saved ones")
    assert said.startswith("немає плану з назвою 'spring buy'")
    assert not ENGLISH.search(said.replace("'spring buy'", ""))


def test_a_damaged_backup_is_refused_in_ukrainian(tmp_path: Path) -> None:
    path = tmp_path / "cut.zip"
    path.write_bytes(b"PK\x03\x04 not the rest of an archive")
    with pytest.raises(BackupError) as caught:
        backups.open_backup(path)
    said = _said(caught.value)
    assert str(caught.value).endswith("(damaged or cut short: its index is missing); "
                                      "nothing was restored")
    assert said == (f"{path} не є повною резервною копією Kuznia (пошкоджена або обрізана: "
                    "бракує її змісту); нічого не відновлено")
    check = backups.verify(path)  # the check says the problem alone, in either language
    assert not check.ok and check.reason is not None and check.said is not None
    assert check.reason.endswith("its index is missing)")
    with language("uk"):
        assert check.said.say() == said.removesuffix("; нічого не відновлено")


def test_the_vault_refuses_in_ukrainian(tmp_path: Path) -> None:
    empty = tmp_path / "blank.txt"
    empty.write_bytes(b"")
    with pytest.raises(UsageError) as caught:
        vault_copies.media_type(empty)
    said = _said(caught.value)
    assert str(caught.value) == f"blank.txt is empty; the vault takes {vault_copies.TAKES}"
    assert said.startswith("blank.txt порожній; сховище приймає: PDF, простий текст (UTF-8), "
                           "зображення PNG")
    assert not ENGLISH.search(said.replace("blank.txt", ""))
    with pytest.raises(vault_crypto.VaultKeyError) as no_key:
        vault_crypto.master_key(None, may_create=True)
    said = _said(no_key.value)
    assert said.startswith("сховищу потрібен головний ключ: вкажіть у KUZNIA_VAULT_KEY_FILE")
    assert not ENGLISH.search(said)


@pytest.mark.parametrize(("unknown", "words"), [
    ({"colour": "red"}, "немає фільтра з назвою colour"),
    ({"colour": "red", "size": "xl"}, "немає фільтрів з назвами colour, size")])
def test_a_count_before_a_noun_takes_its_form(unknown: dict[str, str], words: str) -> None:
    with pytest.raises(UsageError) as caught:
        use_table._conditions(unknown, EVERYTHING)
    assert _said(caught.value) == words
    assert str(caught.value).startswith("no filters named" if len(unknown) > 1
                                        else "no filter named")


def test_parameters_and_figures_in_the_language_the_adapter_names_them() -> None:
    with pytest.raises(UsageError) as caught:
        records.list_records(None, "contracts", limit=0)  # type: ignore[arg-type]
    assert caught.value.render() == "limit must be from 1 to 1000"
    assert _said(caught.value, lambda p: f"--{p}") == "--limit має бути від 1 до 1000"


def test_each_problem_of_a_config_is_said_in_ukrainian(tmp_path: Path) -> None:
    path = tmp_path / "flags.toml"
    path.write_text("[effects]\nalpha = 2\n[colours]\nred = 1\n", encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        oversight_config.load(path)
    english = caught.value.render()
    assert "effects.alpha must be from 0 to 1, not 2" in english
    assert "[colours] is not a section of the red flags' config" in english
    said = _said(caught.value)
    assert "effects.alpha має бути від 0 до 1, а не 2" in said
    assert "[colours] не є розділом налаштувань червоних прапорців" in said
    assert not ENGLISH.search(re.sub(r"\(.*?\)|\S*flags\.toml", "", said))
