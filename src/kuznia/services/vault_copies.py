"""What the vault takes (by the file's first bytes, never its name) and how a copy is marked
for its recipient: a PDF stamped on every page and in its metadata (pypdf), anything else
in a ZIP with a notice. And the reverse: reading the mark off a copy found somewhere.

No database here: the service (``services/vault.py``) decides who gets a copy.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kuznia.errors import UsageError
from kuznia.i18n import N_, Text

# media type -> what a person calls it
KINDS = {
    "application/pdf": "PDF",
    "text/plain": "plain text (UTF-8)",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "image/tiff": "TIFF image",
    "application/vnd.openxmlformats-officedocument": "Office document (docx, xlsx, pptx)",
    "application/vnd.oasis.opendocument": "OpenDocument (odt, ods, odp)",
}
TAKES = ", ".join(KINDS.values())
# what the vault takes, as a message says it (the kinds above, in the language of the moment)
SAID_TAKES = Text(N_("PDF, plain text (UTF-8), PNG image, JPEG image, TIFF image, Office "
                     "document (docx, xlsx, pptx), OpenDocument (odt, ods, odp)"))
NOTICE = "NOTICE-kuznia-copy.txt"
COPY_ID = re.compile(r"\bc-[0-9a-f]{20}\b")
TERMS = ("This copy was issued under the licence named above to the account named above "
         "only. It may not be passed on, copied further or used beyond that licence. Every "
         "copy carries its own id and is recorded with its recipient; a copy found "
         "elsewhere leads back to its recipient.")


def media_type(path: Path) -> str:
    """The vault's media type of a file by its first bytes, or ``UsageError`` naming what
    the vault takes. An Office or OpenDocument file is a ZIP whose entries say which."""
    with path.open("rb") as f:
        head = f.read(65536)
    if not head:
        raise UsageError(N_("%(file)s is empty; the vault takes %(takes)s"), file=path.name,
                         takes=SAID_TAKES)
    if head.startswith(b"%PDF-"):
        _stampable(path)
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
                if "[Content_Types].xml" in names:
                    return "application/vnd.openxmlformats-officedocument"
                if "mimetype" in names and z.read("mimetype").startswith(
                        b"application/vnd.oasis.opendocument"):
                    return "application/vnd.oasis.opendocument"
        except (zipfile.BadZipFile, OSError, KeyError):
            pass
        raise UsageError(N_("%(file)s is a ZIP archive but not an Office or OpenDocument "
                            "file; the vault takes %(takes)s"), file=path.name,
                         takes=SAID_TAKES)
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3:  # a character cut by the 64 KiB window
                return "text/plain"
    raise UsageError(N_("%(file)s is of a kind the vault does not take (its first bytes "
                        "are no %(takes)s)"), file=path.name, takes=SAID_TAKES)


def _stampable(path: Path) -> None:
    """A PDF the vault takes must be one it can stamp: readable by pypdf, with its pages
    found, and not encrypted (a stamp cannot be written into it without its password)."""
    from pypdf import PdfReader

    try:
        with path.open("rb") as f:  # a stream is read as needed (a path: read whole)
            _check_pdf(PdfReader(f), path)
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds for a damaged file
        raise UsageError(N_("%(file)s begins like a PDF but cannot be read as one "
                            "(%(error)s); the vault takes PDFs it can stamp"),
                         file=path.name,
                         error=f"{type(exc).__name__}: {str(exc)[:80]}") from None


def _check_pdf(reader: Any, path: Path) -> None:
    if reader.is_encrypted:
        raise UsageError(N_("%(file)s is an encrypted PDF: copies of it could not be stamped "
                            "for their recipients; store it without its password"),
                         file=path.name)
    if len(reader.pages) < 1:
        raise ValueError("no pages")


def copy_line(account: str, at: str, copy_id: str) -> str:
    return f"Copy for {account} - issued {at} - copy id {copy_id} - not to be passed on"


def stamp_pdf(source: Path, out: Path, *, account: str, at: str, copy_id: str,
              licence_id: str) -> None:
    """Write ``source`` to ``out`` with a line naming the recipient on every page and the
    copy id in the metadata. pypdf holds the whole document while it writes (measured in
    ``bench/vault_bench.py``)."""
    from pypdf import PdfReader

    with source.open("rb") as f:  # a stream: pypdf reads a path whole into memory first
        _stamp(PdfReader(f), out, account=account, at=at, copy_id=copy_id,
               licence_id=licence_id)


def _stamp(reader: Any, out: Path, *, account: str, at: str, copy_id: str,
           licence_id: str) -> None:
    from pypdf import PdfWriter
    from pypdf.generic import (
        ArrayObject,
        ContentStream,
        DictionaryObject,
        NameObject,
        TextStringObject,
    )

    writer = PdfWriter(clone_from=reader)
    text = copy_line(account, at, copy_id)
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                             NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica"),
                             NameObject("/Encoding"): NameObject("/WinAnsiEncoding")})
    font_ref = writer._add_object(font)
    for page in writer.pages:
        box = page.mediabox
        x, y = float(box.left) + 18, float(box.bottom) + 10
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else DictionaryObject()
        fonts = resources.get("/Font")
        fonts = fonts.get_object() if fonts is not None else DictionaryObject()
        fonts[NameObject("/KzCopy")] = font_ref
        resources[NameObject("/Font")] = fonts
        page[NameObject("/Resources")] = resources
        stream = ContentStream(None, writer)
        stream.set_data(f"q BT 0.75 0 0 rg /KzCopy 7 Tf {x:.2f} {y:.2f} Td ({safe}) Tj ET Q"
                        .encode("latin-1", "replace"))
        ref = writer._add_object(stream)
        contents = page.get("/Contents")
        if contents is None:
            page[NameObject("/Contents")] = ArrayObject([ref])
        else:
            existing = contents.get_object()
            items = list(existing) if isinstance(existing, ArrayObject) else [contents]
            # wrap the page's own content in q/Q so its state cannot hide the stamp
            pre = ContentStream(None, writer)
            pre.set_data(b"q")
            post = ContentStream(None, writer)
            post.set_data(b"Q")
            page[NameObject("/Contents")] = ArrayObject(
                [writer._add_object(pre), *items, writer._add_object(post), ref])
    writer.add_metadata({"/KuzniaCopyId": TextStringObject(copy_id),
                         "/KuzniaRecipient": TextStringObject(account),
                         "/KuzniaIssued": TextStringObject(at),
                         "/KuzniaLicence": TextStringObject(licence_id),
                         "/Subject": TextStringObject(text)})
    with out.open("wb") as f:
        writer.write(f)


def zip_copy(blocks: Iterable[bytes], out: Path, *, name: str, account: str, at: str,
             copy_id: str, licence_id: str, partner: str) -> None:
    """The document and a notice in one ZIP, written block by block (bounded memory)."""
    notice = (f"Recipient: {account}\nIssued: {at}\nCopy id: {copy_id}\n"
              f"Licence: {licence_id}\nPartner: {partner}\nDocument: {name}\n\n"
              f"Terms: {TERMS}\n")
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as z:
        z.writestr(NOTICE, notice)
        z.comment = f"Kuznia copy {copy_id} for {account}".encode()[:65535]
        with z.open(name, "w", force_zip64=True) as member:
            for block in blocks:
                member.write(block)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Mark:
    """What a copy says of itself: its copy id, and where that was read."""

    copy_id: str | None
    found_in: str  # "pdf metadata", "pdf stamp", "zip notice", "nothing"


def read_mark(path: Path) -> Mark:
    """The copy id a file carries, from its PDF metadata, the stamp on its pages or its
    ZIP notice; ``Mark(None, "nothing")`` when it carries none (or cannot be read)."""
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(b"%PDF-"):
        try:
            from pypdf import PdfReader

            reader = PdfReader(path)
            meta: Any = reader.metadata or {}
            found = str(meta.get("/KuzniaCopyId") or "")
            if COPY_ID.fullmatch(found):
                return Mark(found, "pdf metadata")
            for page in reader.pages[:3]:
                m = COPY_ID.search(page.extract_text() or "")
                if m:
                    return Mark(m.group(0), "pdf stamp")
        except Exception:  # noqa: BLE001 - a damaged PDF carries no readable mark
            return Mark(None, "nothing")
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as z:
                if NOTICE in z.namelist():
                    m = COPY_ID.search(z.read(NOTICE).decode("utf-8", "replace"))
                    if m:
                        return Mark(m.group(0), "zip notice")
                m = COPY_ID.search(z.comment.decode("utf-8", "replace"))
                if m:
                    return Mark(m.group(0), "zip comment")
        except (zipfile.BadZipFile, OSError):
            pass
    return Mark(None, "nothing")
