"""Kuznia: follow the data from every use of a fielded product back to its contract,
producer and production line, and answer what one confirmed effect costs."""

from kuznia.version import __version__
from kuznia.workspace import Workspace, init, migrate, open

__all__ = ["Workspace", "__version__", "init", "migrate", "open"]
