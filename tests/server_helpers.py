"""A served workspace for the server's tests: the example files, one account per role
(the producer bound to P002), and a client per account."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import kuznia
from kuznia.server.app import create_app
from kuznia.services import accounts

PRODUCER = "P002"  # the producer account's own; P001 and P003 are others'
OTHERS = ("P001", "P003")
PARTNER = "PA-A"  # the partner account's own; PA-B is another's
PASSWORD = "correct horse battery"


@dataclass
class Served:
    ws: kuznia.Workspace
    app: object
    data_dir: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role in self.tokens else {}


def serve(ws: kuznia.Workspace, data_dir: Path, with_producer: bool = True) -> Served:
    """``with_producer`` False for an empty workspace (a producer account needs P002, a
    partner account PA-A)."""
    served = Served(ws, None, data_dir)
    for role in accounts.ROLES:
        if role in ("producer", "partner") and not with_producer:
            continue
        accounts.add_user(ws.store, role, role, actor="tester",
                          producer=PRODUCER if role == "producer" else None,
                          partner=PARTNER if role == "partner" else None,
                          password=PASSWORD)
        served.tokens[role] = accounts.issue_token(ws.store, role, actor="tester")
    accounts.add_user(ws.store, "subject", "analyst", actor="tester")  # for admins to act on
    served.app = create_app(ws.store, data_dir=data_dir)
    return served
