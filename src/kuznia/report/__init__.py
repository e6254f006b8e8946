"""The HTML report: self-contained (charts inlined), works offline, every figure traced."""
