"""Run the CLI fuzz tests for longer, with fresh randomness (not in CI).

    python bench/fuzz_cli.py [EXAMPLES]      # default 2,000 per property

CI runs the same properties (tests/test_fuzz_cli.py) with 120 reproducible examples each;
this script draws new ones every run. Any exit 3 or escaped exception fails it, and
Hypothesis prints the smallest command line that does it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    examples = sys.argv[1] if len(sys.argv) > 1 else "2000"
    env = {**os.environ, "KUZNIA_FUZZ_EXAMPLES": examples, "KUZNIA_FUZZ_RANDOM": "1"}
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", "-q", "-x", "-p",
                              "no:cacheprovider", str(ROOT / "tests" / "test_fuzz_cli.py"),
                              "-k", "no_option or no_mutated"], env=env, cwd=ROOT))
