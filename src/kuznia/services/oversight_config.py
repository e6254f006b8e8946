"""The red flags' thresholds and windows: defaults, and a TOML file that replaces them.

The file names only what it changes, in the same sections as ``DEFAULTS`` (a sample with
every value and what it means: ``docs/oversight.toml``). An unknown section or key, or a
value of the wrong kind, is refused naming the file and the key.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

from kuznia.errors import UsageError
from kuznia.i18n import N_, Joined, Text

DEFAULTS: dict[str, dict[str, float | int]] = {
    "price": {
        "window_days": 180,  # peers: contracts for the same product signed this close
        "min_peers": 5,  # fewer peers: no verdict on the price
        "outlier_alpha": 0.01,  # a log price above its peers' median beyond chance, on
        # the product's robustly estimated noise (all contracts together, Bonferroni) ...
        "min_ratio": 1.5,  # ... and at least this many times their median
        "rise_per_year": 0.5,  # a producer's price rising faster than 50% a year ...
        "rise_alpha": 0.01,  # ... beyond chance (all its series together, Bonferroni)
        "rise_min_contracts": 3,
        "rise_min_days": 180,  # ... over contracts spread across at least this long
    },
    "markup": {
        "ratio": 1.5,  # a trader selling at 1.5 times the makers' median or more
        "min_makers": 3,  # contracts by makers (not traders) in the window
    },
    "concentration": {
        "top_share": 0.8,  # one producer holds 80% or more of a product's contracted units
        "hhi": 5000,  # ... or the HHI (0-10,000) is at least this
        "min_units": 1,
    },
    "delivery": {
        "grace_days": 30,  # past due: due this long ago and still short
        "short_share": 0.2,  # ... with at least this share of the quantity not delivered
        "late_grace_days": 7,  # every delivery more than this many days after its due date
        "late_medium_days": 30,  # ... medium when this many days late ...
        "late_medium_lead": 0.5,  # ... or late by this share of the lead time (due - signed)
        "late_days": 90,  # ... high when this many days late ...
        "late_high_lead": 1.0,  # ... or late by this share of the lead time or more
        "rejected_share": 0.25,  # a contract's delivered units not accepted
        "late_share_alpha": 0.01,  # a producer's share of late contracts beyond chance
        "min_contracts": 4,  # ... judged only with this many contracts
    },
    "amendments": {
        "max_updates": 3,  # a contract updated this many times or more
    },
    "effects": {
        "min_uses": 30,  # an operator's uses of a product before its claims are judged
        "alpha": 0.01,  # the chance of any false alarm over all operators and products
        "burst_min_uses": 20,  # uses in the month, and before it, for a jump to count
        "burst_alpha": 0.01,
    },
    "vault": {  # insider risk: how the partners' documents are taken
        "burst_documents": 10,  # documents copied by one account within ...
        "burst_hours": 24,  # ... this many hours
        "work_start_hour": 7,  # copies taken before this hour (UTC) ...
        "work_end_hour": 19,  # ... or from this hour on, or on a weekend, are flagged
        "expiry_days": 7,  # a copy taken this close before its licence expires
        "refusals": 3,  # refusals for one account within ...
        "refusal_days": 30,  # ... this many days
    },
}


def load(path: str | Path | None) -> dict[str, dict[str, float | int]]:
    """The defaults, with what the TOML file at ``path`` replaces."""
    config = copy.deepcopy(DEFAULTS)
    if path is None:
        return config
    import tomllib

    p = Path(path)
    if p.exists() and not p.is_file() and not p.is_dir():  # a pipe would block the reading
        raise UsageError(N_("{config} %(file)s is not a regular file"), params=("config",),
                         file=str(p))
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(N_("{config} %(file)s does not exist"), params=("config",),
                         file=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(N_("{config} %(file)s cannot be read: %(error)s"), params=("config",),
                         file=str(p), error=str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(N_("{config} %(file)s is not TOML: %(error)s"), params=("config",),
                         file=str(p), error=str(exc)) from None
    problems: list[Text] = []
    for section, values in data.items():
        if section not in config or not isinstance(values, dict):
            problems.append(Text(N_("[%(section)s] is not a section of the red flags' config "
                                    "(%(sections)s)"), section=section,
                                 sections=", ".join(config)))
            continue
        for key, value in values.items():
            where = f"{section}.{key}"
            if key not in config[section]:
                problems.append(Text(N_("%(setting)s is not a setting of [%(section)s] "
                                        "(%(settings)s)"), setting=where, section=section,
                                     settings=", ".join(config[section])))
            elif isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(Text(N_("%(setting)s must be a number, not %(value)s"),
                                     setting=where, value=repr(value)))
            elif not (math.isfinite(value) and 0 <= value <= _most(key)):
                problems.append(Text(N_("%(setting)s must be from 0 to %(most)s, not %(value)s"),
                                     setting=where, most=int(_most(key)), value=repr(value)))
            else:
                default = config[section][key]
                config[section][key] = int(value) if isinstance(default, int) and \
                    float(value).is_integer() else float(value)
    if problems:
        raise UsageError(N_("{config} %(file)s: %(problems)s"), params=("config",),
                         file=str(p), problems=Joined(problems))
    return config


def _most(key: str) -> float:
    """The largest value a setting takes (a window beyond a century, or a count beyond a
    billion, means nothing and would overflow a date)."""
    if key.endswith(("alpha", "_share")):
        return 1.0
    if key.endswith("_days"):
        return 36_600.0
    if key == "hhi":
        return 10_000.0
    if key.endswith("_hour"):
        return 24.0
    return 1e9

