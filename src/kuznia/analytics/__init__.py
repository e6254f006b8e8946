"""Pure analytic functions over arrays: no database, no files, no printing."""
