"""DSSE v1 envelopes (github.com/secure-systems-lab/dsse, protocol.md) signed with Ed25519."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from midcore.errors import ValidationFailed

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"

# Anything that checks (signature, data) and raises InvalidSignature, e.g. Ed25519PublicKey.verify.
Verifier = Callable[[bytes, bytes], None]


class EnvelopeError(ValidationFailed):
    code = "invalid_envelope"
    title = "Invalid DSSE envelope"


def pae(payload_type: str, payload: bytes) -> bytes:
    """Pre-Authentication Encoding: lengths are byte lengths, in ASCII decimal."""
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: bytes | Ed25519PublicKey) -> str:
    """Lowercase hex SHA-256 of the raw 32-byte Ed25519 public key."""
    raw = public_key if isinstance(public_key, bytes) else raw_public_key(public_key)
    return hashlib.sha256(raw).hexdigest()


def b64decode_any(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not (DSSE verifiers must accept both)."""
    if not isinstance(text, str):
        raise EnvelopeError("expected a base64 string")
    cleaned = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError(f"not base64: {exc}") from None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "payload": b64encode(self.payload),
            "payloadType": self.payload_type,
            "signatures": [{"keyid": s.keyid, "sig": b64encode(s.sig)} for s in self.signatures],
        }

    def canonical_bytes(self) -> bytes:
        """The Merkle leaf: sorted keys, no insignificant whitespace, UTF-8."""
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, data: Any) -> Envelope:
        if not isinstance(data, dict):
            raise EnvelopeError("envelope is not a JSON object")
        payload_type = data.get("payloadType")
        if not isinstance(payload_type, str):
            raise EnvelopeError("payloadType is missing or not a string")
        raw_signatures = data.get("signatures")
        if not isinstance(raw_signatures, list) or not raw_signatures:
            raise EnvelopeError("signatures is missing or empty")
        signatures = []
        for item in raw_signatures:
            if not isinstance(item, dict) or not isinstance(item.get("sig"), str):
                raise EnvelopeError("a signature has no sig")
            keyid = item.get("keyid", "")
            if not isinstance(keyid, str):
                raise EnvelopeError("a signature keyid is not a string")
            signatures.append(Signature(keyid=keyid, sig=b64decode_any(item["sig"])))
        return cls(
            payload_type=payload_type,
            payload=b64decode_any(data.get("payload", "")),
            signatures=tuple(signatures),
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        try:
            return cls.from_json(json.loads(data))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EnvelopeError(f"envelope is not JSON: {exc}") from None


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def sign(payload_type: str, payload: bytes, private_key: Ed25519PrivateKey) -> Envelope:
    public_key = private_key.public_key()
    signature = Signature(
        keyid=key_id(public_key), sig=private_key.sign(pae(payload_type, payload))
    )
    return Envelope(payload_type=payload_type, payload=payload, signatures=(signature,))


def verify(envelope: Envelope, verifiers: Mapping[str, Verifier]) -> str:
    """Return the key id of the first signature that verifies; raise EnvelopeError otherwise.

    A keyid is only a hint in DSSE: a signature without one is tried against every key, one with
    an unknown keyid is skipped. If none verifies, the error says what was tried.
    """
    message = pae(envelope.payload_type, envelope.payload)
    tried: list[str] = []
    for signature in envelope.signatures:
        if signature.keyid:
            candidates = [(signature.keyid, verifiers.get(signature.keyid))]
        else:
            candidates = [(kid, verifier) for kid, verifier in verifiers.items()]
        for kid, verifier in candidates:
            if verifier is None:
                tried.append(f"{kid} is not a known key")
                continue
            try:
                verifier(signature.sig, message)
            except InvalidSignature:
                tried.append(f"{kid or '(no keyid)'} does not verify")
                continue
            return kid
        if not candidates:
            tried.append("(no keyid) and no known keys")
    raise EnvelopeError("no valid signature: " + "; ".join(tried))


def ed25519_verifiers(public_keys: Mapping[str, bytes]) -> dict[str, Verifier]:
    """Verifiers for raw public keys keyed by key id."""
    return {kid: Ed25519PublicKey.from_public_bytes(raw).verify for kid, raw in public_keys.items()}
