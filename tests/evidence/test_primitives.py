"""DSSE, signed notes, checkpoints, tlog-proof text and statements."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from midcore.evidence import dsse, note, statements
from midcore.evidence.proof import TlogProof, TlogProofError


def test_pae_counts_bytes_not_characters() -> None:
    assert dsse.pae("t/é", "ü".encode()) == "DSSEv1 4 t/é 2 ü".encode()


def test_envelope_round_trip_and_canonical_bytes() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = dsse.sign(dsse.IN_TOTO_PAYLOAD_TYPE, b'{"a":1}', key)
    line = envelope.canonical_bytes()
    assert line == json.dumps(json.loads(line), sort_keys=True, separators=(",", ":")).encode()
    assert b" " not in line
    parsed = dsse.Envelope.from_bytes(line)
    assert parsed == envelope
    kid = dsse.key_id(key.public_key())
    assert envelope.signatures[0].keyid == kid == dsse.key_id(dsse.raw_public_key(key.public_key()))
    assert len(kid) == 64 and kid == kid.lower()
    raw = dsse.raw_public_key(key.public_key())
    assert dsse.verify(parsed, dsse.ed25519_verifiers({kid: raw})) == kid


def test_envelope_from_other_key_is_refused() -> None:
    envelope = dsse.sign("t", b"x", Ed25519PrivateKey.generate())
    other = Ed25519PrivateKey.generate()
    raw = dsse.raw_public_key(other.public_key())
    with pytest.raises(dsse.EnvelopeError, match="is not a known key"):
        dsse.verify(envelope, dsse.ed25519_verifiers({dsse.key_id(raw): raw}))
    same_id = {envelope.signatures[0].keyid: raw}
    with pytest.raises(dsse.EnvelopeError, match="does not verify"):
        dsse.verify(envelope, dsse.ed25519_verifiers(same_id))


def test_base64_alphabets_are_accepted() -> None:
    data = bytes(range(256))
    for text in (
        base64.b64encode(data).decode(),
        base64.urlsafe_b64encode(data).decode(),
        base64.urlsafe_b64encode(data).decode().rstrip("="),
    ):
        assert dsse.b64decode_any(text) == data
    with pytest.raises(dsse.EnvelopeError):
        dsse.b64decode_any("not base64!")


def test_checkpoint_signed_and_opened() -> None:
    key = Ed25519PrivateKey.generate()
    raw = dsse.raw_public_key(key.public_key())
    checkpoint = note.Checkpoint("example.com/log", 12, bytes(range(32)))
    assert checkpoint.body() == (
        "example.com/log\n12\n" + base64.b64encode(bytes(range(32))).decode() + "\n"
    )
    signed = note.sign_checkpoint(checkpoint, "example.com/log", key)
    verifier = note.NoteVerifier.parse(note.verifier_key("example.com/log", raw))
    opened, signer = note.open_checkpoint(signed, [verifier])
    assert opened == checkpoint and signer == verifier
    forged = signed.replace("\n12\n", "\n13\n")
    with pytest.raises(note.NoteError, match="does not verify"):
        note.open_checkpoint(forged, [verifier])
    stranger = note.NoteVerifier.parse(
        note.verifier_key(
            "example.com/log", dsse.raw_public_key(Ed25519PrivateKey.generate().public_key())
        )
    )
    with pytest.raises(note.NoteError, match="not signed by any trusted key"):
        note.open_checkpoint(signed, [stranger])


@pytest.mark.parametrize("body", ["o\n-1\nAAAA\n", "o\n01\n" + "A" * 43 + "=\n", "o\n1\n"])
def test_malformed_checkpoints_are_refused(body: str) -> None:
    with pytest.raises(note.NoteError):
        note.Checkpoint.parse(body)


def test_tlog_proof_round_trip() -> None:
    hashes = (bytes(32), bytes(range(32)))
    text = TlogProof(7, hashes, "origin\n8\nroot\n\n\u2014 origin sig\n").encode()
    assert text.startswith("c2sp.org/tlog-proof@v1\nindex 7\n")
    assert TlogProof.parse(text) == TlogProof(7, hashes, "origin\n8\nroot\n\n\u2014 origin sig\n")
    with_extra = TlogProof(0, (), "c\n", extra=b"ctx").encode()
    assert with_extra.split("\n")[1] == "extra " + base64.b64encode(b"ctx").decode()
    assert TlogProof.parse(with_extra).extra == b"ctx"
    with pytest.raises(TlogProofError, match="leading zeroes"):
        TlogProof.parse(text.replace("index 7", "index 07"))
    with pytest.raises(TlogProofError, match="first line"):
        TlogProof.parse(text.replace("@v1", "@v2"))


def test_statements() -> None:
    subject = statements.subject("ws", git_commit="ab" * 20)
    value = statements.statement(
        [subject], statements.TEST_RESULT_PREDICATE, statements.test_result_predicate("WARNED")
    )
    assert value["_type"] == "https://in-toto.io/Statement/v1"
    assert value["subject"] == [{"name": "ws", "digest": {"gitCommit": "ab" * 20}}]
    assert statements.decode(statements.encode(value)) == value
    assert statements.kind_of(value) == "gate"
    with pytest.raises(statements.StatementError):
        statements.subject("ws")
    with pytest.raises(statements.StatementError):
        statements.subject("ws", sha256="ABC")
    with pytest.raises(statements.StatementError):
        statements.test_result_predicate("OK")  # type: ignore[arg-type]
    with pytest.raises(statements.StatementError):
        statements.decode(b'{"_type": "other"}')


def test_signature_without_keyid_is_tried_against_every_key() -> None:
    key = Ed25519PrivateKey.generate()
    signed = dsse.sign("t", b"x", key)
    anonymous = dsse.Envelope("t", b"x", (dsse.Signature(keyid="", sig=signed.signatures[0].sig),))
    other = dsse.raw_public_key(Ed25519PrivateKey.generate().public_key())
    mine = dsse.raw_public_key(key.public_key())
    verifiers = dsse.ed25519_verifiers({dsse.key_id(other): other, dsse.key_id(mine): mine})
    assert dsse.verify(anonymous, verifiers) == dsse.key_id(mine)
    with pytest.raises(dsse.EnvelopeError, match="does not verify"):
        dsse.verify(anonymous, dsse.ed25519_verifiers({dsse.key_id(other): other}))
