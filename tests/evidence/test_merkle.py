"""Merkle log properties, checked against an independent recursive MTH (RFC 9162 §2.1.1)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as s

from midcore.evidence import merkle

MAX_SIZE = 3000
LEAVES = [f"leaf {n}".encode() for n in range(MAX_SIZE)]


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH straight from the RFC's definition, sharing no code with the implementation."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    left, right = reference_root(leaves[:k]), reference_root(leaves[k:])
    return hashlib.sha256(b"\x01" + left + right).digest()


@pytest.fixture(scope="module")
def big_log() -> merkle.MerkleLog:
    log = merkle.MerkleLog()
    for leaf in LEAVES:
        log.append(leaf)
    return log


@s.composite
def size_and_index(draw: s.DrawFn) -> tuple[int, int]:
    size = draw(s.integers(1, MAX_SIZE))
    return size, draw(s.integers(0, size - 1))


@s.composite
def two_sizes(draw: s.DrawFn) -> tuple[int, int]:
    new = draw(s.integers(1, MAX_SIZE))
    return draw(s.integers(1, new)), new


@settings(max_examples=60, deadline=None)
@given(size_and_index())
def test_every_inclusion_proof_verifies(big_log: merkle.MerkleLog, case: tuple[int, int]) -> None:
    size, index = case
    root = big_log.root(size)
    proof = big_log.inclusion_proof(index, size)
    assert merkle.verify_inclusion(index, size, merkle.leaf_hash(LEAVES[index]), proof, root)
    # A modified leaf, another index, or a wrong size must not verify.
    assert not merkle.verify_inclusion(
        index, size, merkle.leaf_hash(LEAVES[index] + b"!"), proof, root
    )
    if size > 1:
        other = (index + 1) % size
        assert not merkle.verify_inclusion(
            other, size, merkle.leaf_hash(LEAVES[index]), proof, root
        )
    # A wrong size, with the root a checkpoint of that size would carry.
    for wrong_size in (size - 1, size + 1):
        if 0 < wrong_size <= MAX_SIZE and wrong_size != size:
            assert not merkle.verify_inclusion(
                index,
                wrong_size,
                merkle.leaf_hash(LEAVES[index]),
                proof,
                big_log.root(wrong_size),
            )


@settings(max_examples=60, deadline=None)
@given(two_sizes())
def test_every_consistency_proof_verifies(big_log: merkle.MerkleLog, case: tuple[int, int]) -> None:
    old, new = case
    old_root, new_root = big_log.root(old), big_log.root(new)
    proof = big_log.consistency_proof(old, new)
    assert merkle.verify_consistency(old, new, old_root, new_root, proof)
    if old < new:
        # The old tree with one leaf changed is not a prefix of the new one.
        forged_old = reference_root([*LEAVES[: old - 1], b"forged"])
        assert not merkle.verify_consistency(old, new, forged_old, new_root, proof)
        assert not merkle.verify_consistency(old, new, old_root, big_log.root(new - 1), proof)
        # Wrong sizes, each with the root of that size.
        if new < MAX_SIZE:
            wrong_new = big_log.root(new + 1)
            assert not merkle.verify_consistency(old, new + 1, old_root, wrong_new, proof)
        if old > 1:
            wrong_old = big_log.root(old - 1)
            assert not merkle.verify_consistency(old - 1, new, wrong_old, new_root, proof)


@settings(max_examples=40, deadline=None)
@given(s.lists(s.integers(1, 40), min_size=1, max_size=30))
def test_batched_appends_match_reference_roots(batches: list[int]) -> None:
    log = merkle.MerkleLog()
    appended: list[bytes] = []
    for batch in batches:
        leaves = [f"entry {len(appended) + n}".encode() for n in range(batch)]
        first = log.append_hashes([merkle.leaf_hash(leaf) for leaf in leaves])
        assert first == len(appended)
        appended.extend(leaves)
        assert log.root() == reference_root(appended)


def test_appends_store_only_new_perfect_nodes() -> None:
    store = merkle.MemoryNodeStore()
    log = merkle.MerkleLog(store)
    for number in range(1024):
        log.append(b"%d" % number)
    # A perfect tree of 1024 leaves has 2047 nodes; nothing else is stored.
    assert len(store.nodes) == 2047
    before = dict(store.nodes)
    log.append(b"one more")
    assert set(store.nodes) - set(before) == {(0, 1024)}


def test_roots_of_small_trees_match_reference() -> None:
    log = merkle.MerkleLog()
    for size in range(1, 130):
        log.append(LEAVES[size - 1])
        assert log.root() == reference_root(LEAVES[:size])
    assert merkle.MerkleLog().root() == merkle.EMPTY_ROOT


def test_consistency_edge_cases(big_log: merkle.MerkleLog) -> None:
    root = big_log.root(10)
    assert big_log.consistency_proof(10, 10) == []
    assert merkle.verify_consistency(10, 10, root, root, [])
    assert not merkle.verify_consistency(10, 10, root, big_log.root(11), [])
    assert merkle.verify_consistency(0, 10, merkle.EMPTY_ROOT, root, [])
    assert not merkle.verify_consistency(11, 10, root, root, [])
    assert not merkle.verify_consistency(5, 10, big_log.root(5), root, [])


def test_out_of_range_requests_are_refused(big_log: merkle.MerkleLog) -> None:
    with pytest.raises(merkle.ProofError):
        big_log.inclusion_proof(5, 5)
    with pytest.raises(merkle.ProofError):
        big_log.inclusion_proof(0, MAX_SIZE + 1)
    with pytest.raises(merkle.ProofError):
        big_log.consistency_proof(8, 4)
    assert not merkle.verify_inclusion(5, 5, merkle.leaf_hash(b"x"), [], merkle.EMPTY_ROOT)
