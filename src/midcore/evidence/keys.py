"""Per-tenant Ed25519 signing keys kept as files in the data directory.

Layout: <directory>/<tenant>/keys.json lists every key the tenant ever had (key id, file,
valid_from, valid_until); <directory>/<tenant>/<key id>.pem holds each private key (PKCS#8, mode
0600). Rotation closes the current key's validity and adds a new one; old public keys stay listed so
that entries they signed still verify.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from midcore.errors import ConfigurationError

from .dsse import b64encode, key_id, raw_public_key
from .note import verifier_key

DEFAULT_ORIGIN_PREFIX = "midcore.local/evidence"


@dataclass(frozen=True)
class PublicKeyInfo:
    key_id: str
    public_key: bytes
    note_name: str
    valid_from: datetime
    valid_until: datetime | None = None

    @property
    def note_key(self) -> str:
        return verifier_key(self.note_name, self.public_key)

    def to_json(self) -> dict[str, Any]:
        """The keys.json value for this key (DESIGN.md, Evidence)."""
        return {
            "algorithm": "ed25519",
            "public_key": b64encode(self.public_key),
            "note_key": self.note_key,
            "valid_from": _iso(self.valid_from),
            "valid_until": _iso(self.valid_until) if self.valid_until else None,
        }


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    info: PublicKeyInfo

    @property
    def key_id(self) -> str:
        return self.info.key_id

    @property
    def note_name(self) -> str:
        return self.info.note_name


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    # O_EXCL: a key file is written once; 0600 from creation, never widened.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"cannot read signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"signing key {path} is not an Ed25519 key")
    return key


class KeyStore:
    """Signing keys per tenant; with `external_key_file`, that one key signs for every tenant."""

    def __init__(
        self,
        directory: Path,
        *,
        external_key_file: Path | None = None,
        origin_prefix: str = DEFAULT_ORIGIN_PREFIX,
    ) -> None:
        self.directory = directory
        self.external_key_file = external_key_file
        self.origin_prefix = origin_prefix.rstrip("/")
        # Current key per tenant, with the keys.json version it was read from: a rotation by
        # any process changes that file, so a stat is enough to notice it.
        self._current: dict[str, tuple[tuple[int, int], SigningKey]] = {}

    def origin(self, tenant_id: str) -> str:
        """The checkpoint origin line of a tenant's log; also the note key name."""
        if not tenant_id or any(ch.isspace() or ch in "+/" for ch in tenant_id):
            raise ValueError(f"tenant id {tenant_id!r} cannot name a log")
        return f"{self.origin_prefix}/{tenant_id}"

    def _tenant_dir(self, tenant_id: str) -> Path:
        self.origin(tenant_id)  # validates the id, which becomes a path component
        return self.directory / tenant_id

    @contextmanager
    def _locked(self, tenant_id: str) -> Iterator[Path]:
        """Serialise key creation and rotation between processes sharing the directory."""
        tenant_dir = self._tenant_dir(tenant_id)
        tenant_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        os.chmod(tenant_dir, 0o700)
        with open(tenant_dir / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield tenant_dir
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read_index(self, tenant_dir: Path) -> list[dict[str, Any]]:
        path = tenant_dir / "keys.json"
        if not path.exists():
            return []
        data = json.loads(path.read_text())
        keys: list[dict[str, Any]] = data["keys"]
        return keys

    def _write_index(self, tenant_dir: Path, keys: list[dict[str, Any]]) -> None:
        # Write then rename, so a crash leaves the old index or the new one.
        temporary = tenant_dir / "keys.json.tmp"
        temporary.write_text(json.dumps({"keys": keys}, indent=2) + "\n")
        os.replace(temporary, tenant_dir / "keys.json")

    def _new_key(self, tenant_dir: Path, keys: list[dict[str, Any]], now: datetime) -> None:
        private_key = Ed25519PrivateKey.generate()
        kid = key_id(private_key.public_key())
        _write_private(tenant_dir / f"{kid}.pem", private_key)
        public_key = b64encode(raw_public_key(private_key.public_key()))
        keys.append(
            {"key_id": kid, "public_key": public_key, "valid_from": _iso(now), "valid_until": None}
        )

    def _info(self, tenant_id: str, entry: dict[str, Any], public_key: bytes) -> PublicKeyInfo:
        valid_from = _parse_time(entry["valid_from"])
        assert valid_from is not None
        return PublicKeyInfo(
            key_id=entry["key_id"],
            public_key=public_key,
            note_name=self.origin(tenant_id),
            valid_from=valid_from,
            valid_until=_parse_time(entry.get("valid_until")),
        )

    def _external(self, tenant_id: str) -> SigningKey:
        assert self.external_key_file is not None
        private_key = load_private_key(self.external_key_file)
        public_key = raw_public_key(private_key.public_key())
        modified = datetime.fromtimestamp(self.external_key_file.stat().st_mtime, UTC)
        info = PublicKeyInfo(
            key_id=key_id(public_key),
            public_key=public_key,
            note_name=self.origin(tenant_id),
            valid_from=modified,
        )
        return SigningKey(private_key=private_key, info=info)

    def signing_key(self, tenant_id: str) -> SigningKey:
        """The tenant's current key, created on first use."""
        if self.external_key_file is not None:
            return self._external(tenant_id)
        cached = self._current.get(tenant_id)
        if cached is not None and cached[0] == self._index_version(tenant_id):
            return cached[1]
        with self._locked(tenant_id) as tenant_dir:
            keys = self._read_index(tenant_dir)
            if not keys or keys[-1]["valid_until"] is not None:
                self._new_key(tenant_dir, keys, datetime.now(UTC))
                self._write_index(tenant_dir, keys)
            current = keys[-1]
        private_key = load_private_key(tenant_dir / f"{current['key_id']}.pem")
        info = self._info(tenant_id, current, raw_public_key(private_key.public_key()))
        key = SigningKey(private_key=private_key, info=info)
        self._current[tenant_id] = (self._index_version(tenant_id), key)
        return key

    def _index_version(self, tenant_id: str) -> tuple[int, int]:
        try:
            found = (self._tenant_dir(tenant_id) / "keys.json").stat()
        except FileNotFoundError:
            return (-1, -1)
        return (found.st_ino, found.st_mtime_ns)

    def rotate(self, tenant_id: str) -> SigningKey:
        """Retire the current key and start a new one; the old public key stays published."""
        if self.external_key_file is not None:
            raise ConfigurationError("an external signing key is rotated by replacing its file")
        now = datetime.now(UTC)
        with self._locked(tenant_id) as tenant_dir:
            keys = self._read_index(tenant_dir)
            if keys and keys[-1]["valid_until"] is None:
                keys[-1]["valid_until"] = _iso(now)
            self._new_key(tenant_dir, keys, now)
            self._write_index(tenant_dir, keys)
        return self.signing_key(tenant_id)

    def public_keys(self, tenant_id: str) -> list[PublicKeyInfo]:
        """Every key the tenant has signed with, oldest first."""
        if self.external_key_file is not None:
            return [self._external(tenant_id).info]
        tenant_dir = self._tenant_dir(tenant_id)
        return [
            self._info(tenant_id, entry, base64.b64decode(entry["public_key"]))
            for entry in self._read_index(tenant_dir)
        ]
