"""Packs verify offline, and every kind of tampering is named precisely."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from midcore.evidence import dsse, note
from midcore.evidence.keys import KeyStore
from midcore.evidence.ledger import MemoryLedger
from midcore.evidence.verify import PackUnreadable, parse_trusted_key, verify_pack

from . import packs
from .conftest import gate_statement

SIZE = 10


@pytest.fixture
def ledger(make_ledger: Callable[[int], MemoryLedger]) -> MemoryLedger:
    return make_ledger(SIZE)


@pytest.fixture
def files(ledger: MemoryLedger) -> dict[str, bytes]:
    return packs.unzip(ledger.export_pack())


def pinned_key(ledger: MemoryLedger) -> note.NoteVerifier:
    return note.NoteVerifier.parse(ledger.keys.public_keys(ledger.tenant_id)[-1].note_key)


def failure_of(files: dict[str, bytes], ledger: MemoryLedger | None = None) -> str:
    trusted = pinned_key(ledger) if ledger else None
    result = verify_pack(packs.rezip(files), trusted_key=trusted)
    assert not result.is_valid
    assert result.failure is not None
    return str(result.failure)


def test_exported_pack_verifies(ledger: MemoryLedger, files: dict[str, bytes]) -> None:
    assert set(files) == {
        "manifest.json",
        "attestations.intoto.jsonl",
        "checkpoint",
        "keys.json",
        "README.txt",
        *(f"proofs/{index}.tlog-proof" for index in range(SIZE)),
    }
    manifest = json.loads(files["manifest.json"])
    assert manifest["counts"] == {"gate": 5, "run": 5}
    assert manifest["is_complete"] is True and manifest["filters"] == {}
    assert manifest["tenant_id"] == "tenant-a"
    result = verify_pack(packs.rezip(files), trusted_key=pinned_key(ledger))
    assert result.is_valid, result.failure
    assert result.entries_checked == SIZE and result.tree_size == SIZE
    assert result.is_complete is True and result.is_key_pinned
    assert result.root_sha256 == ledger.log.root().hex()


def test_lines_are_the_merkle_leaves(ledger: MemoryLedger, files: dict[str, bytes]) -> None:
    for index, line in enumerate(packs.lines(files)):
        assert line == packs.canonical(json.loads(line))
        assert ledger.log.leaf_hash_at(index) == hashlib.sha256(b"\0" + line).digest()


def test_payload_byte_changed(files: dict[str, bytes]) -> None:
    lines = packs.lines(files)
    envelope = packs.envelope_json(lines[3])
    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[payload.index(b"test_3.py") + len("test_")] = ord("4")
    envelope["payload"] = base64.b64encode(bytes(payload)).decode()
    lines[3] = packs.canonical(envelope)
    packs.set_lines(files, lines)
    assert failure_of(files).startswith("entry 3: signature: no valid signature: ")


def test_raw_byte_of_a_line_changed(files: dict[str, bytes]) -> None:
    lines = packs.lines(files)
    line = bytearray(lines[4])
    position = line.index(b'"payload":"') + 20
    line[position] = ord("A") if line[position] != ord("A") else ord("B")
    lines[4] = bytes(line)
    packs.set_lines(files, lines)
    assert failure_of(files).startswith("entry 4: signature: ")


def test_entry_deleted_with_its_proof(files: dict[str, bytes]) -> None:
    lines = packs.lines(files)
    del lines[4]
    del files["proofs/4.tlog-proof"]
    packs.set_lines(files, lines)
    assert failure_of(files) == (
        "entry 4: missing: checkpoint size 10 covers index 4 but the pack has no entry for it"
    )


def test_last_entry_deleted_with_its_proof(files: dict[str, bytes]) -> None:
    lines = packs.lines(files)
    del lines[-1]
    del files["proofs/9.tlog-proof"]
    packs.set_lines(files, lines)
    assert failure_of(files) == (
        "entry 9: missing: checkpoint size 10 but the pack ends at index 8"
    )


def test_entry_line_deleted_but_proofs_kept(files: dict[str, bytes]) -> None:
    lines = packs.lines(files)
    del lines[2]
    packs.set_lines(files, lines)
    # Entry 3's line now sits where entry 2 was: it is not the leaf at index 2.
    assert failure_of(files).startswith("entry 2: inclusion: the entry is not at index 2 ")


def test_two_entries_swapped(files: dict[str, bytes]) -> None:
    lines = packs.lines(files)
    lines[2], lines[5] = lines[5], lines[2]
    packs.set_lines(files, lines)
    assert failure_of(files) == (
        "entry 2: inclusion: the entry is not at index 2 of the tree of size 10 "
        "signed in the checkpoint"
    )


def test_entry_replayed(files: dict[str, bytes]) -> None:
    lines = packs.lines(files)
    lines[6] = lines[1]
    packs.set_lines(files, lines)
    assert failure_of(files) == "entry 6: replayed: same envelope as entry 1"


def test_entry_replayed_past_the_end(files: dict[str, bytes]) -> None:
    lines = packs.lines(files)
    packs.set_lines(files, [*lines, lines[1]])
    files["proofs/10.tlog-proof"] = files["proofs/1.tlog-proof"].replace(
        b"index 1\n", b"index 10\n"
    )
    assert failure_of(files) == "entry 10: proof: index is beyond checkpoint size 10"


def _edit_checkpoint(files: dict[str, bytes], old: bytes, new: bytes) -> None:
    # A thorough attacker changes the checkpoint everywhere it appears.
    for name, data in list(files.items()):
        if name == "checkpoint" or name.startswith("proofs/"):
            assert old in data
            files[name] = data.replace(old, new)


def test_checkpoint_size_changed(ledger: MemoryLedger, files: dict[str, bytes]) -> None:
    _edit_checkpoint(files, b"\n10\n", b"\n11\n")
    assert failure_of(files) == "checkpoint: note signature does not verify"
    assert failure_of(files, ledger) == "checkpoint: note signature does not verify"


def test_checkpoint_root_changed(ledger: MemoryLedger, files: dict[str, bytes]) -> None:
    root = base64.b64encode(ledger.log.root()).decode().encode()
    forged = base64.b64encode(ledger.log.root(9)).decode().encode()
    _edit_checkpoint(files, root, forged)
    assert failure_of(files, ledger) == "checkpoint: note signature does not verify"


def test_checkpoint_in_a_proof_differs(files: dict[str, bytes]) -> None:
    files["proofs/7.tlog-proof"] = files["proofs/7.tlog-proof"].replace(b"\n10\n", b"\n11\n")
    assert failure_of(files) == (
        "entry 7: proof: proofs/7.tlog-proof is against another checkpoint than the pack's"
    )


def test_signature_from_another_key(files: dict[str, bytes]) -> None:
    lines = packs.lines(files)
    stranger = Ed25519PrivateKey.generate()
    original = dsse.Envelope.from_bytes(lines[3])
    lines[3] = dsse.sign(original.payload_type, original.payload, stranger).canonical_bytes()
    packs.set_lines(files, lines)
    stranger_id = dsse.key_id(stranger.public_key())
    assert failure_of(files) == (
        f"entry 3: signature: no valid signature: {stranger_id} is not a known key"
    )


def test_signature_from_another_key_under_the_tenant_key_id(files: dict[str, bytes]) -> None:
    lines = packs.lines(files)
    original = dsse.Envelope.from_bytes(lines[3])
    stranger = dsse.sign(original.payload_type, original.payload, Ed25519PrivateKey.generate())
    keyid = original.signatures[0].keyid
    forged = dsse.Envelope(
        original.payload_type,
        original.payload,
        (dsse.Signature(keyid=keyid, sig=stranger.signatures[0].sig),),
    )
    lines[3] = forged.canonical_bytes()
    packs.set_lines(files, lines)
    assert failure_of(files) == f"entry 3: signature: no valid signature: {keyid} does not verify"


def test_pack_re_signed_by_another_key_fails_only_when_pinned(
    ledger: MemoryLedger, tmp_path: Path
) -> None:
    # Someone with another key can build a self-consistent pack; pinning the log key defeats it.
    impostor = MemoryLedger("tenant-a", KeyStore(tmp_path / "impostor"))
    for number in range(3):
        impostor.append(gate_statement(number))
    pack = impostor.export_pack()
    assert verify_pack(pack).is_valid
    result = verify_pack(pack, trusted_key=pinned_key(ledger))
    assert str(result.failure) == "checkpoint: note is not signed by any trusted key"


def test_manifest_count_changed(files: dict[str, bytes]) -> None:
    manifest = json.loads(files["manifest.json"])
    manifest["counts"]["gate"] = 6
    files["manifest.json"] = json.dumps(manifest).encode()
    assert failure_of(files) == "manifest: count for kind 'gate' is 6 but the pack holds 5"


def test_manifest_entry_count_changed(files: dict[str, bytes]) -> None:
    manifest = json.loads(files["manifest.json"])
    manifest["entry_count"] = 9
    files["manifest.json"] = json.dumps(manifest).encode()
    assert failure_of(files) == "manifest: entry_count is 9 but the pack holds 10"


def test_filtered_pack_says_completeness_is_not_provable(ledger: MemoryLedger) -> None:
    pack = ledger.export_pack([1, 3, 5, 7, 9], filters={"kind": "gate"})
    result = verify_pack(pack, trusted_key=pinned_key(ledger))
    assert result.is_valid, result.failure
    assert result.is_complete is False
    assert result.counts == {"gate": 5}
    assert "filtered pack: completeness is not provable" in result.notes


def test_removing_filters_from_a_filtered_pack_is_detected(ledger: MemoryLedger) -> None:
    files = packs.unzip(ledger.export_pack([1, 3], filters={"kind": "gate"}))
    manifest = json.loads(files["manifest.json"])
    manifest["filters"] = {}
    files["manifest.json"] = json.dumps(manifest).encode()
    assert failure_of(files) == (
        "entry 0: missing: checkpoint size 10 covers index 0 but the pack has no entry for it"
    )


def test_rotated_keys_still_verify_old_entries(
    make_ledger: Callable[[int], MemoryLedger], key_store: KeyStore
) -> None:
    ledger = make_ledger(4)
    old_key = key_store.signing_key("tenant-a")
    new_key = key_store.rotate("tenant-a")
    assert new_key.key_id != old_key.key_id
    for number in range(4, 8):
        ledger.append(gate_statement(number))
    files = packs.unzip(ledger.export_pack())
    keys = json.loads(files["keys.json"])
    assert set(keys) == {old_key.key_id, new_key.key_id}
    assert keys[old_key.key_id]["valid_until"] is not None
    assert keys[new_key.key_id]["valid_until"] is None
    signers = {dsse.Envelope.from_bytes(line).signatures[0].keyid for line in packs.lines(files)}
    assert signers == {old_key.key_id, new_key.key_id}
    result = verify_pack(packs.rezip(files), trusted_key=pinned_key(ledger))
    assert result.is_valid, result.failure
    # The checkpoint was signed after rotation: the retired key is not its signer.
    old_note = note.NoteVerifier.parse(old_key.info.note_key)
    assert not verify_pack(packs.rezip(files), trusted_key=old_note).is_valid


def test_empty_log_pack_verifies(make_ledger: Callable[[int], MemoryLedger]) -> None:
    ledger = make_ledger(0)
    ledger.keys.signing_key(ledger.tenant_id)
    result = verify_pack(ledger.export_pack())
    assert result.is_valid, result.failure
    assert result.tree_size == 0 and result.entries_checked == 0


@pytest.mark.parametrize("missing", ["manifest.json", "checkpoint", "keys.json"])
def test_missing_file_is_unreadable(files: dict[str, bytes], missing: str) -> None:
    del files[missing]
    with pytest.raises(PackUnreadable, match=f"pack has no {missing}"):
        verify_pack(packs.rezip(files))


def test_not_a_zip_is_unreadable() -> None:
    with pytest.raises(PackUnreadable, match="not a zip file"):
        verify_pack(b"PK not really")


def test_trusted_key_forms(ledger: MemoryLedger, files: dict[str, bytes]) -> None:
    info = ledger.keys.public_keys(ledger.tenant_id)[-1]
    raw_b64 = base64.b64encode(info.public_key).decode()
    public_key = Ed25519PrivateKey.generate().public_key()  # for the PEM form only
    pem = public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    assert parse_trusted_key(raw_b64) == info.public_key
    assert parse_trusted_key(info.note_key) == note.NoteVerifier.parse(info.note_key)
    assert parse_trusted_key(pem) == dsse.raw_public_key(public_key)
    pack = packs.rezip(files)
    assert verify_pack(pack, trusted_key=parse_trusted_key(raw_b64)).is_valid
    with pytest.raises(note.NoteError):
        parse_trusted_key("nonsense")


def test_the_same_verdict_recorded_twice_verifies(key_store: KeyStore) -> None:
    # Ed25519 signatures are deterministic: an unchanged verdict recorded again is the same line.
    ledger = MemoryLedger("tenant-a", key_store)
    for _ in range(2):
        ledger.append(gate_statement(1))
    lines = packs.unzip(ledger.export_pack())["attestations.intoto.jsonl"].splitlines()
    assert lines[0] == lines[1]
    result = verify_pack(ledger.export_pack())
    assert result.is_valid, result.failure
    assert result.entries_checked == 2
