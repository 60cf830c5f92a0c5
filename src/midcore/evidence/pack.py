"""Evidence packs: one zip an auditor can verify offline (DESIGN.md, Evidence).

manifest.json, attestations.intoto.jsonl (one canonical DSSE envelope a line, in log order),
proofs/<index>.tlog-proof, checkpoint, keys.json and README.txt.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import statements
from .dsse import Envelope
from .keys import PublicKeyInfo
from .proof import TlogProof

PACK_FORMAT = "midcore-evidence-pack"
PACK_FORMAT_VERSION = 1

MANIFEST = "manifest.json"
ATTESTATIONS = "attestations.intoto.jsonl"
CHECKPOINT = "checkpoint"
KEYS = "keys.json"
README = "README.txt"
PROOFS_DIR = "proofs/"

README_TEXT = """\
Midcore evidence pack
=====================

Verify it offline:

    midcore evidence verify {pack} --key '<the log's note key, from a source you trust>'

What the verification checks, and how to repeat it with other tools:

1. `checkpoint` is a C2SP signed note (c2sp.org/tlog-checkpoint): origin, tree size and
   base64 root hash of the tenant's RFC 6962 Merkle log, signed with Ed25519. The log's note
   keys are in keys.json ("note_key"); pin the one you trust with --key.
2. Each line of attestations.intoto.jsonl is a DSSE envelope (JSON, sorted keys, no
   whitespace) holding an in-toto Statement v1. Its signature is Ed25519 over the DSSE v1 PAE;
   "keyid" is the hex SHA-256 of the raw public key listed in keys.json.
3. The Merkle leaf of an entry is exactly the bytes of its line (without the newline):
   leaf hash = SHA-256(0x00 || line). proofs/<index>.tlog-proof (c2sp.org/tlog-proof@v1)
   holds the entry's index, its inclusion proof and the same checkpoint.
4. Without filters (see manifest.json) the pack holds every index from 0 to the checkpoint's
   size - 1, so a missing entry shows against the signed size. A filtered pack cannot prove
   completeness.
5. manifest.json counts entries by kind (gate, run, other); the counts must match the lines.
"""


@dataclass(frozen=True)
class PackEntry:
    index: int
    line: bytes  # canonical envelope bytes: the Merkle leaf
    proof: TlogProof


def _kind(line: bytes) -> str:
    payload = Envelope.from_bytes(line).payload
    return statements.kind_of(statements.decode(payload))


def build_pack(
    *,
    tenant_id: str,
    origin: str,
    checkpoint: str,
    tree_size: int,
    entries: Sequence[PackEntry],
    keys: Sequence[PublicKeyInfo],
    filters: Mapping[str, Any] | None = None,
    created_at: datetime | None = None,
) -> bytes:
    """The pack as zip bytes; entries must be in log order, each with a proof against checkpoint."""
    ordered = sorted(entries, key=lambda entry: entry.index)
    counts = Counter(_kind(entry.line) for entry in ordered)
    active_filters = {key: value for key, value in (filters or {}).items() if value is not None}
    manifest = {
        "format": PACK_FORMAT,
        "format_version": PACK_FORMAT_VERSION,
        "tenant_id": tenant_id,
        "origin": origin,
        "key_ids": [key.key_id for key in keys],
        "filters": active_filters,
        "is_complete": not active_filters,
        "tree_size": tree_size,
        "entry_count": len(ordered),
        "counts": dict(sorted(counts.items())),
        "created_at": (created_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        archive.writestr(ATTESTATIONS, b"".join(entry.line + b"\n" for entry in ordered))
        archive.writestr(CHECKPOINT, checkpoint)
        keys_json = {key.key_id: key.to_json() for key in keys}
        archive.writestr(KEYS, json.dumps(keys_json, indent=2, sort_keys=True) + "\n")
        archive.writestr(README, README_TEXT.format(pack="PACK.zip"))
        for entry in ordered:
            archive.writestr(f"{PROOFS_DIR}{entry.index}.tlog-proof", entry.proof.encode())
    return buffer.getvalue()
