"""Ukrainian and English: the message catalogues, the language of the moment, and figures,
money, dates and months written for it.

English is the source language (the text in the code and the templates); Ukrainian comes
from ``locale/uk/LC_MESSAGES/kuznia.po``, compiled to the ``.mo`` beside it (committed: a
test compiles the ``.po`` and fails when the ``.mo`` differs, so an editable install, a
wheel and a plain checkout read the same catalogue with no build step; ``scripts/i18n``
extracts, updates and compiles). Messages carry named placeholders (``%(n)s``) and plural
forms (Ukrainian has three: 1 штука, 2 штуки, 5 штук, 21 штука).

The language of the moment is a context variable: a request's (``server/web/lang.py``:
the account's choice, else the browser's ``Accept-Language``, else English), the CLI's
(``--lang`` or ``KUZNIA_LANG``), the report's. Machine formats (``--json``, CSV, the API)
never pass through here: codes stay codes, figures stay plain.

>>> with language("uk"):
...     number(4613), day(dt.date(2026, 12, 7)), ngettext(
...         "%(num)s wrong password", "%(num)s wrong passwords", 21)
('4\\xa0613', '7\\xa0груд.\\xa02026\\xa0р.', '21 неправильний пароль')
>>> number(4613), day(dt.date(2026, 12, 7))
('4,613', '7\\xa0Dec\\xa02026')
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import (
    format_compact_decimal,
    format_currency,
    format_decimal,
    get_decimal_symbol,
)
from babel.support import NullTranslations, Translations

LANGS = ("en", "uk")
DEFAULT = "en"
NAMES = {"en": "English", "uk": "Українська"}  # each language in its own words
DOMAIN = "kuznia"
LOCALE_DIR = Path(__file__).parent / "locale"
ENV = "KUZNIA_LANG"

_LANG: ContextVar[str] = ContextVar("kuznia_lang", default=DEFAULT)


class UnknownLanguageError(ValueError):
    """A language Kuznia does not speak (``lang``, as it was asked)."""

    def __init__(self, message: str, lang: str = ""):
        super().__init__(message)
        self.lang = lang


def check(lang: str) -> str:
    """``lang`` if Kuznia speaks it (en, uk; uk-UA and uk_UA read as uk), else a clear
    error naming the choices."""
    code = lang.strip().replace("_", "-").split("-")[0].lower()
    if code not in LANGS:
        raise UnknownLanguageError(f"no such language {lang!r}: choose one of "
                                   f"{', '.join(LANGS)}", lang)
    return code


def current() -> str:
    return _LANG.get()


def set_language(lang: str) -> None:
    """Make ``lang`` the language of this context (a request's, a command's)."""
    _LANG.set(check(lang))


@contextmanager
def language(lang: str | None) -> Iterator[str]:
    """Speak ``lang`` (None: as before) inside the block."""
    token = _LANG.set(check(lang)) if lang else None
    try:
        yield current()
    finally:
        if token is not None:
            _LANG.reset(token)


def from_env(default: str = DEFAULT) -> str:
    """The CLI's language: ``KUZNIA_LANG`` (a bad one is an error naming it)."""
    value = os.environ.get(ENV, "").strip()
    if not value:
        return default
    try:
        return check(value)
    except UnknownLanguageError as e:
        raise UnknownLanguageError(f"{ENV}: {e}", e.lang) from None


def best_match(accept_language: str | None) -> str | None:
    """The language an ``Accept-Language`` header prefers among Kuznia's, or None.

    >>> best_match("de-DE,uk;q=0.8,en;q=0.5"), best_match("fr"), best_match(None)
    ('uk', None, None)
    """
    if not accept_language:
        return None
    asked: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        code = tag.strip().split("-")[0].lower()
        if code in LANGS and q > 0:
            asked.append((-q, i, code))
    return min(asked)[2] if asked else None


@functools.cache
def translations(lang: str) -> NullTranslations:
    """The catalogue of ``lang`` (English: the source text itself)."""
    if lang == DEFAULT:
        return NullTranslations()
    found = Translations.load(str(LOCALE_DIR), [lang], domain=DOMAIN)
    if not isinstance(found, Translations):
        raise FileNotFoundError(f"no catalogue for {lang!r} in {LOCALE_DIR}")
    return found


def raw_gettext(message: str) -> str:
    """``message`` in the language of the moment, placeholders left in (Jinja fills them,
    escaping what it puts in)."""
    return translations(current()).gettext(message)


def raw_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


def gettext(message: str, **values: Any) -> str:
    """``message`` in the language of the moment with its named placeholders filled."""
    text = raw_gettext(message)
    return text % values if values else text


_ = gettext


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    """The plural form for ``n`` (``%(num)s`` is ``n``), placeholders filled."""
    return raw_ngettext(singular, plural, n) % {"num": n, **values}


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue where it is defined; translate where it is said."""
    return message


class Text:
    """A message said later, in the language of the moment when it is said: a service
    makes one (a KuzniaError's message, a sentence an adapter shows) without knowing who
    reads it; ``say()`` speaks the language of the moment and ``str()`` English (the
    API's and the log's words). Values are written for the language when said: a whole
    number grouped (1,200 / 1 200), a fraction with the language's decimal sign, a date
    as a day (7 Dec 2026 / 7 груд. 2026 р.), a Text said too; anything else, ids and
    names, as it is (pass a ``str`` for a figure that must not be grouped, such as a year).

    >>> t = Text(N_("%(n)s units of %(lot)s rejected"), n=1200, lot="L-7")
    >>> str(t)
    '1,200 units of L-7 rejected'
    >>> with language("uk"):
    ...     t.say() == t.say()  # the same words each time it is said
    True
    """

    __slots__ = ("message", "values")

    def __init__(self, message: str, /, **values: Any):
        self.message = message
        self.values = values

    def _said(self) -> str:
        return raw_gettext(self.message)

    def say(self) -> str:
        """The message in the language of the moment, its values written for it."""
        text = self._said()
        if not self.values:
            return text
        values = {k: _local_value(v) for k, v in self.values.items()}
        try:
            return text % values
        except (KeyError, ValueError, TypeError):
            # a message that cannot take its values (a stray % in it): say it with its
            # values listed rather than fail while saying what went wrong
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            return f"{text} ({shown})"

    def __str__(self) -> str:
        with language(DEFAULT):
            return self.say()

    def __repr__(self) -> str:
        return f"Text({self.message!r}, **{self.values!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and type(other) is type(self) and \
            self.message == other.message and self.values == other.values

    def __hash__(self) -> int:
        return hash((self.message, tuple(sorted(self.values))))


class Plural(Text):
    """A message whose words follow a count (``%(num)s``: 1 day, 2 days; Ukrainian's
    three forms): ``Plural(N_("one"), N_("many"), n, **values)``; ``pybabel`` reads it
    as it reads ``ngettext``.

    >>> with language("uk"):
    ...     [Plural("%(num)s wrong password", "%(num)s wrong passwords", n).say()
    ...      for n in (1, 94, 95)]
    ['1 неправильний пароль', '94 неправильні паролі', '95 неправильних паролів']
    """

    __slots__ = ("plural", "n")

    def __init__(self, singular: str, plural: str, n: int, /, **values: Any):
        super().__init__(singular, num=n, **values)
        self.plural = plural
        self.n = n

    def _said(self) -> str:
        return raw_ngettext(self.message, self.plural, self.n)


class Joined(Text):
    """Several messages said one after another, each in the language of the moment,
    joined by ``sep`` (a list of problems in one error: each is a whole message).

    >>> str(Joined([Text("%(a)s is late", a="C-1"), Text("%(n)s units short", n=1200)]))
    'C-1 is late; 1,200 units short'
    """

    __slots__ = ("parts", "sep")

    def __init__(self, parts: list[Text], sep: str = "; "):
        super().__init__("")
        self.parts = list(parts)
        self.sep = sep

    def say(self) -> str:
        return self.sep.join(part.say() for part in self.parts)

    def __repr__(self) -> str:
        return f"Joined({self.parts!r}, {self.sep!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Joined) and self.parts == other.parts and \
            self.sep == other.sep

    def __hash__(self) -> int:
        return hash((tuple(self.parts), self.sep))


def text_data(text: Text) -> dict[str, Any]:
    """``text`` as JSON-safe data (its message id, plural, count and values) to keep, e.g.
    with a job, and say later in the reader's language (``text_of``).

    >>> t = Plural("%(num)s wrong password", "%(num)s wrong passwords", 2)
    >>> text_of(text_data(Text("%(a)s: %(b)s", a=t, b=dt.date(2026, 12, 7)))) \\
    ...     == Text("%(a)s: %(b)s", a=t, b=dt.date(2026, 12, 7))
    True
    """
    values = {k: _value_data(v) for k, v in text.values.items()}
    if isinstance(text, Plural):
        values.pop("num", None)
        return {"message": text.message, "plural": text.plural, "n": text.n,
                "values": values}
    return {"message": text.message, "values": values}


def text_of(data: dict[str, Any]) -> Text:
    """The Text ``text_data`` kept."""
    values = {k: _value_of(v) for k, v in (data.get("values") or {}).items()}
    if data.get("plural") is not None:
        return Plural(str(data["message"]), str(data["plural"]), int(data["n"]), **values)
    return Text(str(data["message"]), **values)


def _value_data(value: Any) -> Any:
    if isinstance(value, Text):
        return {"text": text_data(value)}
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return {"day": value.isoformat()}
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def _value_of(value: Any) -> Any:
    if isinstance(value, dict) and "text" in value:
        return text_of(value["text"])
    if isinstance(value, dict) and "day" in value:
        return dt.date.fromisoformat(value["day"])
    return value


def say(text: str | Text) -> str:
    """A Text in the language of the moment; a plain string looked up in the catalogue
    (a message marked where it was made), else as it is."""
    return text.say() if isinstance(text, Text) else raw_gettext(text) if text else text


def _local_value(value: Any) -> Any:
    if isinstance(value, Text):
        return value.say()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return grouped(value)
    if isinstance(value, float):
        return grouped(value) if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return day(value)
    return value


# --- figures, money and dates ------------------------------------------------------------

def _locale() -> Locale:
    try:
        return Locale.parse(current())
    except UnknownLocaleError:  # pragma: no cover - LANGS are all Babel's
        return Locale.parse(DEFAULT)


def number(value: float, digits: int = 0) -> str:
    """A figure with the language's separators and ``digits`` decimals (4,613 / 4 613)."""
    if current() == DEFAULT:
        return f"{value:,.{digits}f}"
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(round(value, digits), format=pattern, locale=_locale())


def grouped(value: float) -> str:
    """A figure as it is, its thousands grouped: 4,613.25 / 4 613,25."""
    if current() == DEFAULT:
        return f"{value:,}"
    return format_decimal(value, locale=_locale(), decimal_quantization=False)


def compact(value: float) -> str:
    """A large figure in words, on one line: 12.3 million / 12,3 млн."""
    if current() == DEFAULT:
        for size, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
            if abs(value) >= size:
                return f"{value / size:,.3g}\u00a0{word}"
        return f"{value:,.0f}"
    if abs(value) < 1e6:
        return number(value)
    digits = max(0, 2 - int(math.log10(abs(value) / 10 ** (3 * int(math.log10(abs(value)) // 3)))))
    return format_compact_decimal(value, format_type="short", locale=_locale(),
                                  fraction_digits=digits)


def significant(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits (744.2 / 744,2)."""
    if current() == DEFAULT:
        return f"{value:,.{digits}g}"
    text = f"{value:.{digits}g}"
    if "e" in text:  # 1.2e-38 with the language's decimal sign: 1,2e-38
        return text.replace(".", get_decimal_symbol(_locale()))
    decimals = len(text.split(".")[1]) if "." in text else 0
    return number(float(text), decimals)


def percent(share: float, digits: int = 1) -> str:
    """A share as a percentage: 12.5% / 12,5%."""
    if current() == DEFAULT:
        return f"{100 * share:.{digits}f}%"
    return number(100 * share, digits) + "%"


def money(value: float, currency: str | None = None, digits: int = 0) -> str:
    """An amount, with its currency when named: 4,613 UAH / 4 613 ₴."""
    if currency is None:
        return number(value, digits)
    if current() == DEFAULT:
        return f"{value:,.{digits}f} {currency}"
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "") + "\xa0¤"
    return format_currency(value, currency, format=pattern, locale=_locale(),
                           currency_digits=False)


def day(d: dt.date) -> str:
    """A date on one line: 7 Dec 2026 / 7 груд. 2026 р."""
    if current() == DEFAULT:
        return f"{d.day}\u00a0{d:%b}\u00a0{d.year}"
    return format_date(d, "medium", locale=_locale()).replace(" ", "\u00a0") \
        .replace("\u202f", "\u00a0")


def month(d: dt.date) -> str:
    """A month, on one line: Mar 2025 / бер. 2025."""
    if current() == DEFAULT:
        return f"{d:%b}\u00a0{d.year}"
    return format_date(d, "LLL y", locale=_locale()).replace(" ", "\u00a0")


def install(env: Any) -> None:
    """Jinja2's i18n extension on ``env`` speaking the language of the moment: ``_()``,
    ``ngettext()`` and ``{% trans %}`` with named placeholders (new style: Jinja escapes
    what it puts in); ``lang()`` and ``languages`` for the page's switch."""
    env.install_gettext_callables(raw_gettext, raw_ngettext, newstyle=True)
    env.globals.update(lang=current, languages=NAMES)
