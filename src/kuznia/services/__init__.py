"""The service layer: the only code that talks to the store.

The CLI, the Python API (``kuznia.open``) and the web layer to come call these functions
and render what they return; none of them touch SQL.
"""
