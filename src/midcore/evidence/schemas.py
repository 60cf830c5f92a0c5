"""What the evidence API sends: entries, proofs, checkpoints and the pack snapshot."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from .models import EvidenceEntry
from .proof import TlogProof


class EntryKind(StrEnum):
    gate = "gate"
    run = "run"
    other = "other"


class PackFormat(StrEnum):
    json = "json"
    zip = "zip"


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


class SubjectDigest(BaseModel):
    sha256: str | None
    gitCommit: str | None  # the in-toto digest name, kept as is


class Evidence(BaseModel):
    id: str
    log_index: int
    kind: str
    predicate_type: str
    run_id: str | None
    gate: str | None
    workspace: str | None
    result: str | None
    subject_digest: SubjectDigest
    key_id: str
    created_at: datetime
    envelope: dict[str, Any] = Field(
        description="The DSSE envelope; its canonical bytes are the leaf."
    )

    @classmethod
    def from_row(cls, row: EvidenceEntry) -> Evidence:
        return cls(
            id=row.id,
            log_index=row.log_index,
            kind=row.kind,
            predicate_type=row.predicate_type,
            run_id=row.run_id,
            gate=row.gate,
            workspace=row.workspace,
            result=row.result,
            subject_digest=SubjectDigest(
                sha256=row.subject_sha256, gitCommit=row.subject_git_commit
            ),
            key_id=row.key_id,
            created_at=row.created_at,
            envelope=json.loads(row.envelope),
        )


class InclusionProof(BaseModel):
    log_index: int
    tree_size: int
    hashes: list[str] = Field(description="Base64 SHA-256 hashes, leaf side first (RFC 6962).")
    tlog_proof: str = Field(description="The same proof as a c2sp.org/tlog-proof@v1 text.")

    @classmethod
    def build(
        cls, log_index: int, tree_size: int, hashes: list[bytes], note: str
    ) -> InclusionProof:
        return cls(
            log_index=log_index,
            tree_size=tree_size,
            hashes=[b64(value) for value in hashes],
            tlog_proof=TlogProof(log_index, tuple(hashes), note).encode(),
        )


class EvidenceWithProof(BaseModel):
    entry: Evidence
    inclusion: InclusionProof
    checkpoint: str = Field(description="The signed checkpoint (C2SP signed note) proven against.")


class ConsistencyProof(BaseModel):
    from_size: int
    to_size: int
    hashes: list[str]


class SignedCheckpoint(BaseModel):
    origin: str
    tree_size: int
    root_sha256: str = Field(description="Hex root hash.")
    checkpoint: str = Field(description="C2SP signed note: origin, size, base64 root, signature.")
    note_keys: list[str] = Field(description="Verifier keys of the log, newest last.")
    keys: dict[str, dict[str, Any]] = Field(
        description="Public keys by DSSE key id, as in a pack's keys.json."
    )
    consistency: ConsistencyProof | None = None


class EvidenceSnapshot(BaseModel):
    tree_size: int
    root_sha256: str
    checkpoint: str
    counts: dict[str, int]
    latest_verdicts: list[dict[str, Any]]
    recent_runs: list[dict[str, Any]]
