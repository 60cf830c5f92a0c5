"""The public vectors in shared/vectors/evidence-vectors.json, reproduced exactly."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from midcore.evidence import dsse, merkle, note

# A verbatim copy of the shared public vectors, so that CI needs nothing outside the repository.
VECTORS_PATH = Path(__file__).parent / "data" / "evidence-vectors.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_PATH.read_text())
TREE = VECTORS["rfc6962"]
LEAVES = [bytes.fromhex(value) for value in TREE["leaves_hex"]]


@pytest.fixture(scope="module")
def log() -> merkle.MerkleLog:
    log = merkle.MerkleLog()
    for leaf in LEAVES:
        log.append(leaf)
    return log


@pytest.mark.parametrize(("size", "root"), sorted(TREE["roots_by_size"].items()))
def test_roots(log: merkle.MerkleLog, size: str, root: str) -> None:
    assert log.root(int(size)).hex() == root
    assert merkle.root_of(LEAVES[: int(size)]).hex() == root


@pytest.mark.parametrize(
    "case", TREE["inclusion"], ids=lambda c: f"{c['leaf_index']}@{c['tree_size']}"
)
def test_inclusion_proofs(log: merkle.MerkleLog, case: dict[str, Any]) -> None:
    index, size = case["leaf_index"], case["tree_size"]
    proof = log.inclusion_proof(index, size)
    assert [value.hex() for value in proof] == case["proof"]
    root = bytes.fromhex(TREE["roots_by_size"][str(size)])
    assert merkle.verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), proof, root)
    other = merkle.leaf_hash(LEAVES[index] + b"x")
    assert not merkle.verify_inclusion(index, size, other, proof, root)


@pytest.mark.parametrize(
    "case", TREE["consistency"], ids=lambda c: f"{c['old_size']}-{c['new_size']}"
)
def test_consistency_proofs(log: merkle.MerkleLog, case: dict[str, Any]) -> None:
    old, new = case["old_size"], case["new_size"]
    proof = log.consistency_proof(old, new)
    assert [value.hex() for value in proof] == case["proof"]
    old_root = bytes.fromhex(TREE["roots_by_size"][str(old)])
    new_root = bytes.fromhex(TREE["roots_by_size"][str(new)])
    assert merkle.verify_consistency(old, new, old_root, new_root, proof)
    assert not merkle.verify_consistency(old, new, new_root, old_root, proof)


def test_dsse_pae() -> None:
    vector = VECTORS["dsse"]
    encoded = dsse.pae(vector["payload_type"], vector["payload_utf8"].encode())
    assert encoded == vector["pae_utf8"].encode()


def _ecdsa_verifier(vector: dict[str, Any]) -> dsse.Verifier:
    numbers = ec.EllipticCurvePublicNumbers(
        int(vector["ecdsa_p256_public_x"]), int(vector["ecdsa_p256_public_y"]), ec.SECP256R1()
    )
    public_key = numbers.public_key()

    def verify(signature: bytes, data: bytes) -> None:
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        public_key.verify(der, data, ec.ECDSA(SHA256()))

    return verify


@pytest.mark.parametrize("alphabet", ["standard", "urlsafe", "urlsafe-unpadded"])
def test_dsse_signature_vector(alphabet: str) -> None:
    vector = VECTORS["dsse"]
    signature = base64.b64decode(vector["sig_b64_raw_r_s"])
    payload = vector["payload_utf8"].encode()
    encode = base64.b64encode if alphabet == "standard" else base64.urlsafe_b64encode
    sig_text, payload_text = encode(signature).decode(), encode(payload).decode()
    if alphabet.endswith("unpadded"):
        sig_text, payload_text = sig_text.rstrip("="), payload_text.rstrip("=")
    envelope = dsse.Envelope.from_json(
        {
            "payload": payload_text,
            "payloadType": vector["payload_type"],
            "signatures": [{"keyid": "", "sig": sig_text}],
        }
    )
    verifier = _ecdsa_verifier(vector)
    assert dsse.verify(envelope, {"": verifier}) == ""
    tampered = dsse.Envelope(envelope.payload_type, b"hello worle", envelope.signatures)
    with pytest.raises(dsse.EnvelopeError, match="does not verify"):
        dsse.verify(tampered, {"": verifier})


def _signed_vector_note() -> str:
    vector = VECTORS["signed_note"]
    return f"{vector['text']}\n\u2014 PeterNeumann {vector['signature_b64']}\n"


def test_signed_note_vector_verifies() -> None:
    vector = VECTORS["signed_note"]
    verifier = note.NoteVerifier.parse(vector["verifier_key"])
    assert verifier.key_id.hex() == "c74f20a3"
    assert verifier.key_id == note.note_key_id("PeterNeumann", verifier.public_key)
    assert verifier.vkey == vector["verifier_key"]
    text, signer = note.open_note(_signed_vector_note(), [verifier])
    assert text == vector["text"]
    assert signer == verifier
    with pytest.raises(note.NoteError, match="does not verify"):
        note.open_note(_signed_vector_note().replace("answer", "ANSWER"), [verifier])


def test_signed_note_vector_signature_is_reproduced() -> None:
    # The private key published with the same example in golang.org/x/mod/sumdb/note.
    skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
    seed = base64.b64decode(skey.split("+", 4)[4])[1:]
    private_key = Ed25519PrivateKey.from_private_bytes(seed)
    vector = VECTORS["signed_note"]
    assert note.sign_note(vector["text"], "PeterNeumann", private_key) == _signed_vector_note()
