"""Offline verification of an evidence pack: no server, no database, only the zip and a key."""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from midcore.errors import MidcoreError, ValidationFailed

from . import dsse, merkle, statements
from .note import Checkpoint, NoteError, NoteVerifier, note_key_id, open_checkpoint
from .pack import ATTESTATIONS, CHECKPOINT, KEYS, MANIFEST, PROOFS_DIR
from .proof import TlogProof, TlogProofError

_PROOF_NAME = re.compile(r"^proofs/(0|[1-9][0-9]*)\.tlog-proof$")


class PackUnreadable(ValidationFailed):
    """The input is not a pack at all (not a zip, a required file missing)."""

    code = "pack_unreadable"
    title = "Unreadable evidence pack"


@dataclass(frozen=True)
class Failure:
    check: str
    message: str
    entry: int | None = None  # log index, when the failure is about one entry

    def __str__(self) -> str:
        where = f"entry {self.entry}: " if self.entry is not None else ""
        return f"{where}{self.check}: {self.message}"


class _Failed(Exception):
    def __init__(self, failure: Failure) -> None:
        self.failure = failure


@dataclass
class PackVerification:
    is_valid: bool = False
    failure: Failure | None = None
    origin: str | None = None
    tree_size: int | None = None
    root_sha256: str | None = None
    entries_checked: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    is_complete: bool | None = None
    is_key_pinned: bool = False
    checkpoint_key: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "is_valid": self.is_valid,
            "failure": (
                None
                if self.failure is None
                else {
                    "entry": self.failure.entry,
                    "check": self.failure.check,
                    "message": self.failure.message,
                }
            ),
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root_sha256": self.root_sha256,
            "entries_checked": self.entries_checked,
            "counts": self.counts,
            "is_complete": self.is_complete,
            "is_key_pinned": self.is_key_pinned,
            "checkpoint_key": self.checkpoint_key,
            "notes": self.notes,
        }


def _fail(check: str, message: str, entry: int | None = None) -> _Failed:
    return _Failed(Failure(check=check, message=message, entry=entry))


def parse_trusted_key(text: str) -> NoteVerifier | bytes:
    """A note verifier key (`name+id+key`), or a raw Ed25519 public key in base64 or PEM."""
    text = text.strip()
    if text.startswith("-----BEGIN PUBLIC KEY-----"):
        key = load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise NoteError("trusted key is not an Ed25519 key")
        return dsse.raw_public_key(key)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == 32:
        return raw
    # Base64 may hold '+' too, so a note key is tried only when the text is no bare key.
    return NoteVerifier.parse(text)


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    try:
        return archive.read(name)
    except KeyError:
        raise PackUnreadable(f"pack has no {name}") from None


def _text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(name, "is not UTF-8") from None


def _json(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(name, f"is not JSON: {exc}") from None


def _keys(data: Any) -> dict[str, tuple[bytes, NoteVerifier | None]]:
    if not isinstance(data, dict) or not data:
        raise _fail("keys", "keys.json holds no keys")
    keys: dict[str, tuple[bytes, NoteVerifier | None]] = {}
    for kid, value in data.items():
        try:
            raw = base64.b64decode(value["public_key"], validate=True)
        except (KeyError, TypeError, binascii.Error, ValueError):
            raise _fail("keys", f"key {kid} has no base64 public_key") from None
        if len(raw) != 32 or dsse.key_id(raw) != kid:
            raise _fail("keys", f"key id {kid} is not the SHA-256 of its public key")
        verifier = None
        if value.get("note_key"):
            try:
                verifier = NoteVerifier.parse(value["note_key"])
            except NoteError as exc:
                raise _fail("keys", f"key {kid}: {exc.detail}") from None
            if verifier.public_key != raw:
                raise _fail("keys", f"key {kid}: note_key holds another public key")
        keys[kid] = (raw, verifier)
    return keys


def verify_pack(
    source: Path | bytes, *, trusted_key: NoteVerifier | bytes | None = None
) -> PackVerification:
    """Check everything in the pack; the result names the first check that failed, if any."""
    result = PackVerification(is_key_pinned=trusted_key is not None)
    if isinstance(source, bytes):
        data = source
    else:
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise PackUnreadable(f"cannot read: {exc.strerror}") from None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise PackUnreadable("not a zip file") from None
    with archive:
        try:
            _verify(archive, trusted_key, result)
            result.is_valid = True
        except _Failed as failed:
            result.failure = failed.failure
        except zipfile.BadZipFile as exc:
            raise PackUnreadable(f"damaged zip: {exc}") from None
    return result


def _verify(
    archive: zipfile.ZipFile, trusted_key: NoteVerifier | bytes | None, result: PackVerification
) -> None:
    manifest_bytes = _read(archive, MANIFEST)
    attestations = _read(archive, ATTESTATIONS)
    checkpoint_note = _text(_read(archive, CHECKPOINT), "checkpoint")
    keys = _keys(_json(_read(archive, KEYS), "keys"))
    manifest = _json(manifest_bytes, "manifest")
    if not isinstance(manifest, dict):
        raise _fail("manifest", "is not a JSON object")

    # The checkpoint: signed by the pinned key, or else by a note key the pack publishes.
    origin = manifest.get("origin")
    if not isinstance(origin, str):
        raise _fail("manifest", "has no origin")
    if isinstance(trusted_key, bytes):
        trusted_key = NoteVerifier(origin, note_key_id(origin, trusted_key), trusted_key)
    note_verifiers = (
        [trusted_key] if trusted_key else [v for _, v in keys.values() if v is not None]
    )
    try:
        checkpoint, signer = open_checkpoint(checkpoint_note, note_verifiers)
    except NoteError as exc:
        raise _fail("checkpoint", exc.detail) from None
    if not trusted_key:
        result.notes.append(
            "checkpoint key not pinned: pass --key with the log's note key to trust this pack"
        )
    result.origin, result.tree_size = checkpoint.origin, checkpoint.size
    result.root_sha256 = checkpoint.root.hex()
    result.checkpoint_key = signer.vkey
    if checkpoint.origin != origin:
        raise _fail("checkpoint", f"origin {checkpoint.origin!r} is not the manifest's {origin!r}")

    filters = manifest.get("filters") or {}
    is_complete = not filters
    result.is_complete = is_complete
    if not is_complete:
        result.notes.append("filtered pack: completeness is not provable")

    proofs = _proofs(archive, checkpoint_note)
    lines = _lines(attestations)
    verifiers = dsse.ed25519_verifiers({kid: raw for kid, (raw, _) in keys.items()})
    _entries(checkpoint, proofs, lines, verifiers, is_complete, result)
    _manifest_counts(manifest, checkpoint, lines, result)


def _proofs(archive: zipfile.ZipFile, checkpoint_note: str) -> dict[int, TlogProof]:
    proofs: dict[int, TlogProof] = {}
    for name in archive.namelist():
        if not name.startswith(PROOFS_DIR) or name == PROOFS_DIR:
            continue
        match = _PROOF_NAME.match(name)
        if match is None:
            raise _fail("proof", f"unexpected file {name}")
        index = int(match.group(1))
        try:
            proof = TlogProof.parse(archive.read(name).decode("utf-8"))
        except (TlogProofError, UnicodeDecodeError) as exc:
            detail = exc.detail if isinstance(exc, MidcoreError) else "not UTF-8"
            raise _fail("proof", f"{name}: {detail}", index) from None
        if proof.index != index:
            raise _fail("proof", f"{name} holds index {proof.index}", index)
        if proof.checkpoint != checkpoint_note:
            raise _fail("proof", f"{name} is against another checkpoint than the pack's", index)
        proofs[index] = proof
    return proofs


def _lines(attestations: bytes) -> list[bytes]:
    if not attestations:
        return []
    if not attestations.endswith(b"\n"):
        raise _fail("attestations", "last line has no newline (truncated?)")
    return attestations[:-1].split(b"\n")


def _entries(
    checkpoint: Checkpoint,
    proofs: dict[int, TlogProof],
    lines: list[bytes],
    verifiers: dict[str, dsse.Verifier],
    is_complete: bool,
    result: PackVerification,
) -> None:
    indices = sorted(proofs)
    seen: dict[bytes, int] = {}
    counts: Counter[str] = Counter()
    for position in range(max(len(indices), len(lines))):
        if position >= len(indices):
            raise _fail(
                "proof", f"attestation line {position + 1} has no proof (more lines than proofs)"
            )
        index = indices[position]
        if is_complete and index != position:
            raise _fail(
                "missing",
                f"checkpoint size {checkpoint.size} covers index {position} "
                "but the pack has no entry for it",
                position,
            )
        if index >= checkpoint.size:
            raise _fail("proof", f"index is beyond checkpoint size {checkpoint.size}", index)
        if position >= len(lines):
            raise _fail("missing", "the pack has a proof but no attestation line", index)
        line = lines[position]
        # The log may hold the same envelope twice (a verdict recorded again); a copy is a
        # replay only when it is not what the signed tree has at this index (checked below).
        first_seen = seen.setdefault(line, index)
        try:
            envelope = dsse.Envelope.from_bytes(line)
        except dsse.EnvelopeError as exc:
            raise _fail("envelope", exc.detail, index) from None
        if envelope.canonical_bytes() != line:
            raise _fail("envelope", "line is not the canonical JSON of its envelope", index)
        try:
            dsse.verify(envelope, verifiers)
        except dsse.EnvelopeError as exc:
            raise _fail("signature", exc.detail, index) from None
        if envelope.payload_type != dsse.IN_TOTO_PAYLOAD_TYPE:
            raise _fail("statement", f"payload type {envelope.payload_type!r}", index)
        try:
            statement = statements.decode(envelope.payload)
        except statements.StatementError as exc:
            raise _fail("statement", exc.detail, index) from None
        proof = proofs[index]
        if not merkle.verify_inclusion(
            index, checkpoint.size, merkle.leaf_hash(line), proof.hashes, checkpoint.root
        ):
            if first_seen != index:
                raise _fail("replayed", f"same envelope as entry {first_seen}", index)
            raise _fail(
                "inclusion",
                f"the entry is not at index {index} of the tree of size {checkpoint.size} "
                "signed in the checkpoint",
                index,
            )
        counts[statements.kind_of(statement)] += 1
        result.entries_checked += 1
    if is_complete and len(indices) != checkpoint.size:
        raise _fail(
            "missing",
            f"checkpoint size {checkpoint.size} but the pack ends at index {len(indices) - 1}",
            len(indices),
        )
    result.counts = dict(sorted(counts.items()))


def _manifest_counts(
    manifest: dict[str, Any], checkpoint: Checkpoint, lines: list[bytes], result: PackVerification
) -> None:
    declared = manifest.get("counts")
    if not isinstance(declared, dict):
        raise _fail("manifest", "has no counts")
    for kind in sorted(set(declared) | set(result.counts)):
        if declared.get(kind, 0) != result.counts.get(kind, 0):
            raise _fail(
                "manifest",
                f"count for kind {kind!r} is {declared.get(kind, 0)} "
                f"but the pack holds {result.counts.get(kind, 0)}",
            )
    if manifest.get("entry_count") != len(lines):
        raise _fail(
            "manifest",
            f"entry_count is {manifest.get('entry_count')} but the pack holds {len(lines)}",
        )
    if manifest.get("tree_size") != checkpoint.size:
        raise _fail(
            "manifest",
            f"tree_size is {manifest.get('tree_size')} but the checkpoint says {checkpoint.size}",
        )
