"""The colours of every chart, on the pages (static/kuznia.js holds the same values, a test
keeps them equal) and in the report: Okabe and Ito's colour-blind-safe set (2008,
"Color Universal Design"), with the interval fill dark enough to read against the page.

The uncertainty is the message, so the interval's fill keeps at least 3:1 contrast on white
(WCAG 2.1, 1.4.11) and the point drawn over it stays visible; the four outcomes stay apart
under deuteranopia, and failure is not green.
"""

from __future__ import annotations

INTERVAL = "#5B8EC4"  # an interval bar or band: 3.4:1 on white, 6.1:1 under a black point
POINT = "#000000"  # the figure itself, over its interval
OUTCOMES = {"effect": "#0072B2", "no_effect": "#767676", "failure": "#D55E00",
            "aborted": "#000000"}
SERIES = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000")  # lines, in this order
DEMAND = "#D55E00"  # a target or demand line, dashed
BLOCKS = {"corrective_action": "#0072B2", "failure_mode": "#D55E00",
          "late_delivery": "#000000", "rejected_lot": "#CC79A7"}  # the board's block edges
