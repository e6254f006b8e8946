"""Planning: pure optimisation over arrays (no database). Solvers' outcomes are values."""
