"""An in-memory ledger for one tenant: sign statements, log them, checkpoint, export packs.

The server keeps the same data in the database; this class is the library's own complete ledger,
used by tools and tests that run without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from . import dsse, statements
from .keys import KeyStore
from .merkle import MerkleLog
from .note import Checkpoint, sign_checkpoint
from .pack import PackEntry, build_pack
from .proof import TlogProof


class MemoryLedger:
    def __init__(self, tenant_id: str, keys: KeyStore) -> None:
        self.tenant_id = tenant_id
        self.keys = keys
        self.origin = keys.origin(tenant_id)
        self.log = MerkleLog()
        self.lines: list[bytes] = []

    def append(self, statement: Mapping[str, Any]) -> int:
        """Sign a statement into a DSSE envelope and append it; returns its log index."""
        key = self.keys.signing_key(self.tenant_id)
        envelope = dsse.sign(
            dsse.IN_TOTO_PAYLOAD_TYPE, statements.encode(statement), key.private_key
        )
        line = envelope.canonical_bytes()
        index = self.log.append(line)
        self.lines.append(line)
        return index

    def checkpoint(self) -> str:
        key = self.keys.signing_key(self.tenant_id)
        body = Checkpoint(origin=self.origin, size=self.log.size, root=self.log.root())
        return sign_checkpoint(body, key.note_name, key.private_key)

    def export_pack(
        self,
        indices: Iterable[int] | None = None,
        *,
        filters: Mapping[str, Any] | None = None,
        created_at: datetime | None = None,
    ) -> bytes:
        note = self.checkpoint()
        chosen = range(self.log.size) if indices is None else sorted(set(indices))
        entries = [
            PackEntry(
                index=index,
                line=self.lines[index],
                proof=TlogProof(index, tuple(self.log.inclusion_proof(index)), note),
            )
            for index in chosen
        ]
        return build_pack(
            tenant_id=self.tenant_id,
            origin=self.origin,
            checkpoint=note,
            tree_size=self.log.size,
            entries=entries,
            keys=self.keys.public_keys(self.tenant_id),
            filters=filters,
            created_at=created_at,
        )
