"""This Kuznia's version: the store records it in each workspace, a backup in its manifest.

A module of its own, so that the services read it without importing ``kuznia`` (the
package's ``__init__`` opens the Python API, ``kuznia.workspace``, which sits above them).
"""

__version__ = "0.1.0"
