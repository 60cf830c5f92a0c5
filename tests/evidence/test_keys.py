"""Tenant signing keys on disk."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from midcore.errors import ConfigurationError
from midcore.evidence import dsse, note
from midcore.evidence.keys import KeyStore


def test_key_created_on_first_use_with_private_modes(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    key = store.signing_key("t1")
    key_file = tmp_path / "keys" / "t1" / f"{key.key_id}.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "keys" / "t1").stat().st_mode) == 0o700
    assert store.signing_key("t1").key_id == key.key_id  # reused, not recreated
    assert key.key_id == dsse.key_id(key.private_key.public_key())
    assert store.signing_key("t2").key_id != key.key_id  # one key per tenant


def test_published_key_matches_the_signing_key(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, origin_prefix="logs.example.com/")
    key = store.signing_key("t1")
    [info] = store.public_keys("t1")
    assert info.public_key == dsse.raw_public_key(key.private_key.public_key())
    assert info.note_name == "logs.example.com/t1"
    verifier = note.NoteVerifier.parse(info.note_key)
    assert verifier.public_key == info.public_key
    assert info.to_json()["algorithm"] == "ed25519"


def test_rotation_keeps_old_public_keys(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    first = store.signing_key("t1")
    second = store.rotate("t1")
    third = store.rotate("t1")
    infos = store.public_keys("t1")
    assert [info.key_id for info in infos] == [first.key_id, second.key_id, third.key_id]
    assert infos[0].valid_until is not None and infos[1].valid_until is not None
    assert infos[2].valid_until is None
    assert infos[0].valid_until <= infos[1].valid_from
    assert store.signing_key("t1").key_id == third.key_id


def test_external_key_file(tmp_path: Path) -> None:
    private_key = Ed25519PrivateKey.generate()
    path = tmp_path / "signing.pem"
    path.write_bytes(private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    store = KeyStore(tmp_path / "keys", external_key_file=path)
    key = store.signing_key("t1")
    assert key.key_id == dsse.key_id(private_key.public_key())
    assert not (tmp_path / "keys").exists()  # nothing generated
    with pytest.raises(ConfigurationError):
        store.rotate("t1")


def test_tenant_ids_that_could_escape_the_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        KeyStore(tmp_path).signing_key("../other")


def test_settings_choose_the_key_directory_or_an_external_key(tmp_path: Path) -> None:
    from midcore.config import Settings
    from midcore.evidence.service import build_evidence_service

    in_data_dir = build_evidence_service(Settings(data_dir=tmp_path / "data"))
    key = in_data_dir.keys.signing_key("t1")
    assert (tmp_path / "data" / "keys" / "t1" / f"{key.key_id}.pem").exists()

    private_key = Ed25519PrivateKey.generate()
    path = tmp_path / "signing.pem"
    path.write_bytes(private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    external = build_evidence_service(Settings(data_dir=tmp_path / "other", evidence_key_file=path))
    assert external.keys.signing_key("t1").key_id == dsse.key_id(private_key.public_key())
