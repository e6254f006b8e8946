"""Kuznia: follow the data from every use of a fielded product back to its contract,
producer and production line, and answer what one confirmed effect costs."""

__version__ = "0.1.0"  # before the imports below: the store records it in workspaces

from kuznia.workspace import Workspace, init, migrate, open  # noqa: E402

__all__ = ["Workspace", "init", "migrate", "open"]
