"""CI installs locked versions: every dependency in pyproject.toml (the test extra's too)
is pinned in requirements/ci-constraints.txt, within its bounds, and .ci/run uses the file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "ci-constraints.txt"


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _required() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"]
            + project["optional-dependencies"]["test"]]


def test_every_dependency_is_pinned_within_its_bounds():
    pins = _pins()
    for req in _required():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in {LOCK.name}: run scripts/refresh-lock"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"{req.name}=={pins[name]} is outside {req.specifier}: run scripts/refresh-lock"
        assert "<" in str(req.specifier), f"{req.name} has no upper bound"


def test_every_line_of_the_lock_is_one_exact_pin():
    for line in LOCK.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[a-z0-9][a-z0-9.-]*==[0-9][^\s=]*", line), line
    assert "kuznia" not in _pins()


def test_ci_installs_from_the_lock():
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'export PIP_CONSTRAINT="$PWD/requirements/ci-constraints.txt"' in ci
    assert ci.index("PIP_CONSTRAINT=") < ci.index("pip install")
