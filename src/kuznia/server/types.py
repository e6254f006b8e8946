"""Types shared by the API's routes and the pages: strict bodies and ISO days.

A body takes JSON's own types as they are (``true`` is not a number, ``"12"`` is not a
whole number), and a day is written as the import format writes it, ``YYYY-MM-DD``:
``2026-1-1`` or ``20260101`` is refused naming the field, not read as some other day.
"""

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import Query
from pydantic import BeforeValidator, ConfigDict

from kuznia.i18n import N_, Text

STRICT_BODY = ConfigDict(extra="forbid", strict=True)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class NotADay(ValueError):
    """A day not written YYYY-MM-DD: English for the API (``str``), ``text`` for a page."""

    def __init__(self, value: str):
        self.text = Text(N_("takes an ISO date (YYYY-MM-DD), not %(value)s"),
                         value=repr(value[:40]))
        super().__init__(str(self.text))


def iso_day(value: Any) -> Any:
    """``value`` if it is written YYYY-MM-DD (pydantic then reads it as a date)."""
    if isinstance(value, str) and value and not _ISO_DAY.fullmatch(value):
        raise NotADay(value)
    return value


Day = Annotated[dt.date | None, BeforeValidator(iso_day), Query()]
