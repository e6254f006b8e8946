"""The Python API says what it takes: every public method of ``Workspace`` has a docstring
and explicit parameters (no ``**options`` to look up in a service), each of them one the
service it calls takes too."""

from __future__ import annotations

import inspect

import kuznia


def _methods() -> dict[str, object]:
    return {name: member for name, member in vars(kuznia.Workspace).items()
            if not name.startswith("_") and (callable(member) or isinstance(member, property))}


def test_every_public_method_has_a_docstring():
    assert kuznia.Workspace.__doc__
    for name, member in _methods().items():
        assert inspect.getdoc(member), name


def test_no_method_takes_unnamed_options():
    for name, member in _methods().items():
        if isinstance(member, property):
            continue
        kinds = {p.kind for p in inspect.signature(member).parameters.values()}  # type: ignore[arg-type]
        assert inspect.Parameter.VAR_KEYWORD not in kinds, name
        assert inspect.Parameter.VAR_POSITIONAL not in kinds, name


def test_the_forwarding_methods_take_their_services_parameters():
    from kuznia.services import imports, ocds, planning, resilience, trace

    # ``lock_wait`` and ``also`` serve the server (field records that never wait for an
    # import; the producers' portal), not a person with a workspace
    pairs = [("import_file", imports.import_file, {"store", "actor", "lock_wait", "also"}),
             ("resilience", resilience.run, {"store"}),
             ("duplicate", resilience.duplicate, {"store", "candidates_path"}),
             ("allocate", planning.allocate, {"store"}),
             ("uses", trace.list_uses, {"store"}),
             ("ocds", ocds.package, {"store"})]
    renamed = {"candidates"}
    for name, service, not_forwarded in pairs:
        mine = set(inspect.signature(getattr(kuznia.Workspace, name)).parameters) - {"self"}
        theirs = set(inspect.signature(service).parameters) - not_forwarded
        assert theirs <= mine, (name, theirs - mine)
        assert mine - theirs <= renamed, (name, mine - theirs)
        for p in theirs:
            a = inspect.signature(getattr(kuznia.Workspace, name)).parameters[p].default
            b = inspect.signature(service).parameters[p].default
            assert a == b or (p == "scope" and a is None), (name, p, a, b)
