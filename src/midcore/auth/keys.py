"""API key format `mc_<id>_<secret>`.

The secret is 256 random bits, so a plain SHA-256 is enough to store it safely (there is nothing
to brute-force), and it keeps checking a key per request cheap; passwords use Argon2 instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from midcore.ids import new_id

PREFIX = "mc"


@dataclass(frozen=True)
class ParsedKey:
    key_id: str
    secret: str


def generate() -> tuple[str, str, str]:
    """A new key: (key id, plaintext key shown once, sha256 of the secret to store)."""
    key_id = new_id()
    secret = secrets.token_urlsafe(32)
    return key_id, f"{PREFIX}_{key_id}_{secret}", hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(plaintext: str) -> ParsedKey | None:
    prefix, _, rest = plaintext.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not key_id.isalnum() or len(key_id) > 32 or len(secret) < 16:
        return None
    return ParsedKey(key_id, secret)


def secret_matches(secret: str, stored_sha256: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_sha256)
