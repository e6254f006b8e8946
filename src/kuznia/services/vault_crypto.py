"""The vault's envelope encryption: AES-256-GCM under a data key per partner, each data key
kept wrapped (AES key wrap, RFC 3394) by a master key that lives outside the workspace, in
the file ``KUZNIA_VAULT_KEY_FILE`` names (created, mode 0600, when absent and the vault
holds no key yet).

A document is sealed in chunks of ``CHUNK`` bytes, each with its own random 96-bit nonce
and, as associated data, the document's id, the chunk's number and whether it is the last:
a chunk moved, swapped between documents, dropped or cut off at the end fails to open.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from kuznia.errors import KuzniaError, WorkspaceError
from kuznia.i18n import N_, Plural, Text

CHUNK = 1 << 20  # 1 MiB of plaintext per sealed chunk
NONCE = 12
KEY_FILE_SETTING = "KUZNIA_VAULT_KEY_FILE"
_HEADER = "kuznia-vault-master-key-v1"


class VaultKeyError(WorkspaceError):
    """The master key cannot be had: no setting, an unreadable or malformed file, or a key
    that does not open this vault's data keys. Nothing was written."""

    exit_code = 1
    http_status = 503


class VaultDamageError(KuzniaError):
    """A stored document does not open: its chunks were altered, reordered or cut off."""

    exit_code = 1
    http_status = 500


def _encode(key: bytes) -> str:
    return f"{_HEADER} {base64.b64encode(key).decode()}\n"


def master_key(path: str | None, *, may_create: bool) -> bytes:
    """The 32-byte master key from the file ``path``; with ``may_create`` (the vault holds
    no key yet) a missing file is made, mode 0600, with a new random key."""
    if not path:
        raise VaultKeyError(N_("the vault needs its master key: set %(setting)s to a file "
                               "outside the workspace (it is made, readable by this user "
                               "only, when absent); nothing was written"),
                            setting=KEY_FILE_SETTING)
    file = Path(path).expanduser()
    if not file.exists():
        if not may_create:
            raise VaultKeyError(
                N_("%(setting)s names %(file)s, which does not exist, and the vault holds "
                   "keys wrapped by a master key: restore the key file from its own backup; "
                   "nothing was written"), setting=KEY_FILE_SETTING, file=str(file))
        try:  # its folder too, readable by this user only, as other outputs make theirs
            file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise VaultKeyError(N_("%(setting)s: cannot create %(file)s (%(why)s); nothing "
                                   "was written"), setting=KEY_FILE_SETTING, file=str(file),
                                why=str(exc.strerror)) from None
        with os.fdopen(fd, "w") as f:
            key = secrets.token_bytes(32)
            f.write(_encode(key))
        return key
    try:
        if file.is_dir():
            raise IsADirectoryError(21, "it is a folder")
        mode = file.stat().st_mode
        text = file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        why: str | Text = getattr(exc, "strerror", None) or Text(N_("not a key file"))
        raise VaultKeyError(N_("%(setting)s: cannot read %(file)s (%(why)s); nothing was "
                               "written"), setting=KEY_FILE_SETTING, file=str(file),
                            why=why) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise VaultKeyError(N_("%(setting)s: %(file)s may be read by others (mode %(mode)s); "
                               "make it 600 (chmod 600 %(file)s); nothing was written"),
                            setting=KEY_FILE_SETTING, file=str(file),
                            mode=f"{stat.S_IMODE(mode):o}")
    parts = text.split()
    try:
        if len(parts) != 2 or parts[0] != _HEADER:
            raise ValueError
        key = base64.b64decode(parts[1], validate=True)
        if len(key) != 32:
            raise ValueError
    except ValueError:
        raise VaultKeyError(N_("%(setting)s: %(file)s is not a Kuznia vault key file "
                               "(damaged, or another file); nothing was written"),
                            setting=KEY_FILE_SETTING, file=str(file)) from None
    return key


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def wrap(master: bytes, data_key: bytes) -> bytes:
    return aes_key_wrap(master, data_key)


def unwrap(master: bytes, wrapped: bytes) -> bytes:
    try:
        return aes_key_unwrap(master, wrapped)
    except (InvalidUnwrap, ValueError):
        raise VaultKeyError(N_("the master key in the file %(setting)s names is not the one "
                               "this vault's keys were wrapped with (a wrong or replaced key "
                               "file); nothing was written"),
                            setting=KEY_FILE_SETTING) from None


def _aad(doc_id: str, index: int, last: bool) -> bytes:
    return b"kuznia-vault\0" + doc_id.encode() + b"\0" + struct.pack(">Q?", index, last)


def seal_chunks(data_key: bytes, doc_id: str, blocks: Iterable[bytes]
                ) -> Iterator[tuple[int, bytes, bytes]]:
    """(number, nonce, sealed) for each block; one block of look-ahead marks the last."""
    aead = AESGCM(data_key)
    index = 0
    pending: bytes | None = None
    for block in blocks:
        if pending is not None:
            nonce = secrets.token_bytes(NONCE)
            yield index, nonce, aead.encrypt(nonce, pending, _aad(doc_id, index, False))
            index += 1
        pending = block
    if pending is not None:
        nonce = secrets.token_bytes(NONCE)
        yield index, nonce, aead.encrypt(nonce, pending, _aad(doc_id, index, True))


def open_chunks(data_key: bytes, doc_id: str, count: int,
                sealed: Iterable[tuple[int, bytes, bytes]]) -> Iterator[bytes]:
    """The plaintext blocks of ``count`` sealed chunks, in order; any alteration, a gap,
    a swap or a cut-off end raises ``VaultDamageError``."""
    aead = AESGCM(data_key)
    expected = 0
    for index, nonce, body in sealed:
        if index != expected or index >= count:
            raise VaultDamageError(N_("document %(doc)s: its chunk %(chunk)s is missing or "
                                      "out of place (the store was altered)"), doc=doc_id,
                                   chunk=str(expected))
        try:
            yield aead.decrypt(nonce, body, _aad(doc_id, index, index == count - 1))
        except InvalidTag:
            raise VaultDamageError(N_("document %(doc)s: chunk %(chunk)s does not open (the "
                                      "store was altered, or the chunks were reordered or "
                                      "cut short)"), doc=doc_id, chunk=str(index)) from None
        expected += 1
    if expected != count:
        raise VaultDamageError(Plural("document %(doc)s: %(missing)s of its %(num)s chunk is "
                                      "missing (cut short)",
                                      "document %(doc)s: %(missing)s of its %(num)s chunks "
                                      "are missing (cut short)", count, doc=doc_id,
                                      missing=count - expected))


def read_blocks(path: Path, size: int = CHUNK) -> Iterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(size):
            yield block
