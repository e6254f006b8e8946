"""Kuznia: follow the data from every use of a fielded product back to its contract,
producer and production line, and answer what one confirmed effect costs."""

from kuznia.workspace import Workspace, init, open

__all__ = ["Workspace", "init", "open"]
__version__ = "0.1.0"
