"""Passwords: Argon2id hashes, checks that take the same time whether or not the user exists."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from midcore.errors import ValidationFailed

# argon2-cffi's defaults are Argon2id with the parameters RFC 9106 recommends.
_hasher = PasswordHasher()
# Checked against when the email is unknown, so that a miss costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash("midcore: no such user")
MAX_PASSWORD_LENGTH = 1024


def hash_password(password: str, min_length: int) -> str:
    if len(password) < min_length:
        raise ValidationFailed(f"a password needs at least {min_length} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(f"a password has at most {MAX_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password: str, stored_hash: str | None) -> bool:
    """True when `password` matches; with no stored hash, spend the same work and say False."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
