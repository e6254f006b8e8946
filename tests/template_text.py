"""The text a person reads in a Jinja2 template that is not marked for translation.

A template is cut into its Jinja pieces (``{{ }}``, ``{% %}``, ``{# #}``) and the HTML
between them; a "run" is a stretch of text outside tags (inline tags such as ``<a>`` and
``<strong>`` and ``{{ }}`` expressions inside it, so that a sentence stays one message),
ended by a block tag, a ``{% %}`` statement or a ``<script>``. A run with a letter outside
its tags and expressions is text a person reads: it must be inside ``_()`` or
``{% trans %}``. Attributes people read (``aria-label``, ``title``, ``placeholder``,
``alt``, ``data-label``) are checked the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PIECES = re.compile(r"({{.*?}}|{%.*?%}|{#.*?#})", re.S)
INLINE = {"a", "strong", "em", "b", "i", "code", "abbr", "small", "span", "kbd", "sub",
          "sup", "time", "q", "mark", "br", "wbr"}
READ_ATTRS = ("aria-label", "title", "placeholder", "alt", "data-label")
LETTER = re.compile(r"[A-Za-z]")
ATTRS_ONLY = re.compile(r'(\s*[\w-]+="[^"]*")+\s*')
ATTR = re.compile(r'\s(' + "|".join(READ_ATTRS) + r')="([^"{}]*)"')


@dataclass
class Run:
    start: int
    end: int
    parts: list[tuple[str, str]] = field(default_factory=list)  # ("text"|"tag"|"var", s)

    @property
    def words(self) -> str:
        return "".join(s for k, s in self.parts if k == "text")

    def reads(self) -> bool:
        """Text with a letter, other than attributes a block adds to a tag
        (``{% block body_attrs %} class="x"{% endblock %}``)."""
        return bool(LETTER.search(self.words)) and not ATTRS_ONLY.fullmatch(self.words)


def runs(source: str) -> list[Run]:
    """The runs of text of a template, in order."""
    out: list[Run] = []
    cur: Run | None = None
    pos = 0
    in_tag = False  # inside a non-inline tag's <...> (across Jinja pieces)
    tag_buf = ""
    in_trans = 0
    skip_until: str | None = None  # inside <script> or <style>

    def close() -> None:
        nonlocal cur
        if cur is not None and cur.parts:
            out.append(cur)
        cur = None

    for piece in PIECES.split(source):
        start = pos
        pos += len(piece)
        if not piece:
            continue
        if piece.startswith("{%"):
            inner = piece[2:-2].strip("-+ \n")
            if inner.startswith("trans"):
                in_trans += 1
            elif inner.startswith("endtrans"):
                in_trans -= 1
            if not in_tag:
                close()
            else:
                tag_buf += piece
            continue
        if piece.startswith("{#"):
            continue
        if piece.startswith("{{"):
            if in_tag:
                tag_buf += piece
            elif skip_until is None and not in_trans:
                if cur is None:
                    cur = Run(start, pos)
                cur.parts.append(("var", piece))
                cur.end = pos
            continue
        # HTML
        i = 0
        while i < len(piece):
            if in_tag:
                j = piece.find(">", i)
                if j < 0:
                    tag_buf += piece[i:]
                    break
                tag_buf += piece[i:j + 1]
                i = j + 1
                in_tag = False
                name = re.match(r"</?\s*([a-zA-Z0-9]+)", tag_buf)
                tag = name.group(1).lower() if name else ""
                closing = tag_buf.startswith("</")
                if skip_until is not None:
                    if closing and tag == skip_until:
                        skip_until = None
                    tag_buf = ""
                    continue
                if tag in ("script", "style") and not closing:
                    close()
                    skip_until = tag
                elif tag in INLINE and cur is not None and not in_trans:
                    cur.parts.append(("tag", tag_buf))
                    cur.end = start + i
                elif tag in INLINE and not in_trans and not closing:
                    cur = Run(start + i - len(tag_buf), start + i, [("tag", tag_buf)])
                else:
                    close()
                tag_buf = ""
                continue
            j = piece.find("<", i)
            text = piece[i:] if j < 0 else piece[i:j]
            if text and skip_until is None and not in_trans:
                if cur is None:
                    cur = Run(start + i, start + i)
                cur.parts.append(("text", text))
                cur.end = start + i + len(text)
            if j < 0:
                break
            in_tag, tag_buf, i = True, "<", j + 1
    close()
    return [r for r in out if r.reads()]


def unmarked_attributes(source: str) -> list[str]:
    """Attribute values people read that are plain text in the template."""
    return [v for _, v in ATTR.findall(source) if LETTER.search(v)]


def unmarked(source: str) -> list[str]:
    """Every piece of text in ``source`` a person reads that is not marked."""
    return [" ".join(r.words.split()) for r in runs(source)] + unmarked_attributes(source)
