"""C2SP signed notes (c2sp.org/signed-note) and checkpoints (c2sp.org/tlog-checkpoint), Ed25519."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from midcore.errors import ValidationFailed

from .dsse import raw_public_key

ALGORITHM_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash, space


class NoteError(ValidationFailed):
    code = "invalid_note"
    title = "Invalid signed note"


def _check_name(name: str) -> None:
    if not name or "+" in name or any(ch.isspace() for ch in name):
        raise NoteError(f"note key name {name!r} must be non-empty, without spaces or '+'")


def note_key_id(name: str, public_key: bytes) -> bytes:
    """First 4 bytes of SHA-256(name || 0x0A || 0x01 || public key)."""
    return hashlib.sha256(
        name.encode("utf-8") + b"\n" + bytes([ALGORITHM_ED25519]) + public_key
    ).digest()[:4]


def verifier_key(name: str, public_key: bytes) -> str:
    """`<name>+<8 hex key id>+<base64(0x01 || public key)>`."""
    _check_name(name)
    encoded = base64.b64encode(bytes([ALGORITHM_ED25519]) + public_key).decode("ascii")
    return f"{name}+{note_key_id(name, public_key).hex()}+{encoded}"


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def parse(cls, vkey: str) -> NoteVerifier:
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("verifier key must be <name>+<hex id>+<base64 key>")
        name, hex_id, encoded = parts
        _check_name(name)
        try:
            key_bytes = base64.b64decode(encoded, validate=True)
            key_id = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError):
            raise NoteError("verifier key has a malformed id or key") from None
        if len(key_bytes) != 33 or key_bytes[0] != ALGORITHM_ED25519:
            raise NoteError("verifier key is not an Ed25519 key")
        if len(key_id) != 4 or key_id != note_key_id(name, key_bytes[1:]):
            raise NoteError("verifier key id does not match its name and key")
        return cls(name=name, key_id=key_id, public_key=key_bytes[1:])

    @property
    def vkey(self) -> str:
        return verifier_key(self.name, self.public_key)


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """The note text, a blank line, and one signature line."""
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    _check_name(name)
    public_key = raw_public_key(private_key.public_key())
    signature = private_key.sign(text.encode("utf-8"))
    encoded = base64.b64encode(note_key_id(name, public_key) + signature).decode("ascii")
    return f"{text}\n{SIGNATURE_PREFIX}{name} {encoded}\n"


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The signed text and its (name, key id + signature) lines."""
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block.endswith("\n"):
        raise NoteError("note does not end with a newline")
    signatures: list[tuple[str, bytes]] = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"malformed signature line {line!r}")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError(f"signature of {name!r} is not base64") from None
        if len(blob) < 5:
            raise NoteError(f"signature of {name!r} is too short")
        signatures.append((name, blob))
    return text, signatures


def open_note(note: str, verifiers: Sequence[NoteVerifier]) -> tuple[str, NoteVerifier]:
    """Return the text and the verifier whose signature holds; NoteError when none does."""
    text, signatures = split_note(note)
    message = text.encode("utf-8")
    known = False
    for name, blob in signatures:
        for verifier in verifiers:
            if verifier.name != name or verifier.key_id != blob[:4]:
                continue
            known = True
            try:
                Ed25519PublicKey.from_public_bytes(verifier.public_key).verify(blob[4:], message)
            except InvalidSignature:
                continue
            return text, verifier
    if known:
        raise NoteError("note signature does not verify")
    raise NoteError("note is not signed by any trusted key")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return "".join(f"{line}\n" for line in [*lines, *self.extensions])

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise NoteError("checkpoint does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or not lines[0]:
            raise NoteError("checkpoint needs origin, size and root lines")
        origin, size_text, root_text = lines[:3]
        if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise NoteError(f"checkpoint size {size_text!r} is not a decimal number")
        try:
            root = base64.b64decode(root_text, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError("checkpoint root is not base64") from None
        if len(root) != 32:
            raise NoteError("checkpoint root is not 32 bytes")
        return cls(origin=origin, size=int(size_text), root=root, extensions=tuple(lines[3:]))


def sign_checkpoint(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    return sign_note(checkpoint.body(), name, private_key)


def open_checkpoint(
    note: str, verifiers: Sequence[NoteVerifier]
) -> tuple[Checkpoint, NoteVerifier]:
    text, verifier = open_note(note, verifiers)
    return Checkpoint.parse(text), verifier
