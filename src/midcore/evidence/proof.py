"""c2sp.org/tlog-proof@v1: an entry's index, its inclusion proof and the checkpoint, as text.

Layout (https://c2sp.org/tlog-proof): the line `c2sp.org/tlog-proof@v1`; optionally
`extra <base64>`; `index <decimal>`; one base64 SHA-256 hash per line from the leaf's sibling up;
an empty line; the signed checkpoint verbatim.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from midcore.errors import ValidationFailed

HEADER = "c2sp.org/tlog-proof@v1"


class TlogProofError(ValidationFailed):
    code = "invalid_tlog_proof"
    title = "Invalid tlog proof"


@dataclass(frozen=True)
class TlogProof:
    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None

    def encode(self) -> str:
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode("ascii"))
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(value).decode("ascii") for value in self.hashes)
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, text: str) -> TlogProof:
        head, separator, checkpoint = text.partition("\n\n")
        if not separator:
            raise TlogProofError("no empty line before the checkpoint")
        lines = head.split("\n")
        if lines[0] != HEADER:
            raise TlogProofError(f"first line is not {HEADER}")
        position = 1
        extra = None
        if len(lines) > position and lines[position].startswith("extra "):
            extra = _b64(lines[position][len("extra ") :], "extra data")
            position += 1
        if len(lines) <= position or not lines[position].startswith("index "):
            raise TlogProofError("no index line")
        index_text = lines[position][len("index ") :]
        if not index_text.isdigit() or (index_text != "0" and index_text.startswith("0")):
            raise TlogProofError(f"index {index_text!r} is not a decimal without leading zeroes")
        hashes = tuple(_b64(line, "proof hash") for line in lines[position + 1 :])
        if any(len(value) != 32 for value in hashes):
            raise TlogProofError("a proof hash is not 32 bytes")
        return cls(index=int(index_text), hashes=hashes, checkpoint=checkpoint, extra=extra)


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise TlogProofError(f"{what} is not base64") from None


def make_proof(index: int, hashes: Sequence[bytes], checkpoint: str) -> TlogProof:
    return TlogProof(index=index, hashes=tuple(hashes), checkpoint=checkpoint)
