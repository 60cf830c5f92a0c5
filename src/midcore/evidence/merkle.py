"""RFC 6962 / RFC 9162 Merkle tree: hashing, tree heads, inclusion and consistency proofs.

Generation works from stored hashes of complete (perfect) subtrees, keyed by (level, index): the
node at level L and index i covers leaves [i * 2**L, (i + 1) * 2**L). Such a node never changes
once its last leaf is appended, so an append stores the O(log n) nodes it completes, and any
subtree of any earlier tree size is the fold of a few stored perfect nodes. Proof generation is
split in three pure steps (which ranges, which nodes, assemble) so that a synchronous store
(memory) and an asynchronous one (the database) share the same code and fetch all the nodes they
need in one go.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from midcore.errors import BadRequest

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeKey = tuple[int, int]  # (level, index)
Range = tuple[int, int]  # leaves [start, end)


class ProofError(BadRequest):
    code = "invalid_proof_request"
    title = "Invalid proof request"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def perfect_nodes(start: int, end: int) -> list[NodeKey]:
    """The stored perfect subtrees that make up the RFC subtree [start, end), left to right.

    Every subtree the RFC recursion visits starts at a multiple of a power of two at least its
    size, so it splits into perfect subtrees of strictly decreasing size (the bits of end - start).
    """
    nodes: list[NodeKey] = []
    while start < end:
        size = 1 << ((end - start).bit_length() - 1)
        level = size.bit_length() - 1
        nodes.append((level, start >> level))
        start += size
    return nodes


def subtree_hash(start: int, end: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """MTH(D[start:end]) from stored perfect nodes: a right fold of its decomposition."""
    if start == end:
        return EMPTY_ROOT
    keys = perfect_nodes(start, end)
    result = nodes[keys[-1]]
    for key in reversed(keys[:-1]):
        result = node_hash(nodes[key], result)
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1 as subtree ranges, leaf side first."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """PROOF(m, D[n]) of RFC 9162 §2.1.4.1 as subtree ranges, in proof order."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    ranges: list[Range] = []
    start, end, m = 0, new_size, old_size
    is_whole_old_tree = True
    while m != end:
        k = _largest_power_of_two_below(end - start)
        if m - start <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            is_whole_old_tree = False
    if not is_whole_old_tree:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def nodes_for(ranges: Iterable[Range]) -> set[NodeKey]:
    keys: set[NodeKey] = set()
    for start, end in ranges:
        keys.update(perfect_nodes(start, end))
    return keys


def assemble(ranges: Sequence[Range], nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    return [subtree_hash(start, end, nodes) for start, end in ranges]


@dataclass
class AppendResult:
    """What appending leaves produced: the nodes to store, the new size and root."""

    new_nodes: dict[NodeKey, bytes]
    size: int
    root: bytes
    first_index: int


def append_leaves(
    size: int, frontier: Mapping[NodeKey, bytes], leaf_hashes: Sequence[bytes]
) -> AppendResult:
    """Append leaf hashes to a tree of `size` whose frontier (perfect_nodes(0, size)) is given.

    O(log n) per leaf: each append completes at most log2(n) new perfect nodes.
    """
    stack = [(level, index, frontier[(level, index)]) for level, index in perfect_nodes(0, size)]
    new_nodes: dict[NodeKey, bytes] = {}
    first_index = size
    for value in leaf_hashes:
        level, index, current = 0, size, value
        new_nodes[(0, index)] = current
        while stack and stack[-1][0] == level:
            _, left_index, left = stack.pop()
            level, index, current = level + 1, left_index >> 1, node_hash(left, current)
            new_nodes[(level, index)] = current
        stack.append((level, index, current))
        size += 1
    root = EMPTY_ROOT
    if stack:
        root = stack[-1][2]
        for _, _, value in reversed(stack[:-1]):
            root = node_hash(value, root)
    return AppendResult(new_nodes=new_nodes, size=size, root=root, first_index=first_index)


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ---


def root_from_inclusion_proof(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes | None:
    """The root that `proof` implies for `leaf` at `index`, or None when the proof is malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if sn == 0 or len(sibling) != HASH_SIZE:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return result if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """True when `leaf` (a leaf hash) is at `index` in the tree of `size` whose root is `root`."""
    computed = root_from_inclusion_proof(index, size, leaf, proof)
    return computed is not None and hmac.compare_digest(computed, root)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True when the tree of `new_size` with `new_root` extends the one of `old_size`."""
    if not 0 <= old_size <= new_size or any(len(p) != HASH_SIZE for p in proof):
        return False
    if old_size == new_size:
        return not proof and hmac.compare_digest(old_root, new_root)
    if old_size == 0:
        return not proof and hmac.compare_digest(old_root, EMPTY_ROOT)
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first_root = second_root = path[0]
    for value in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first_root = node_hash(value, first_root)
            second_root = node_hash(value, second_root)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            second_root = node_hash(second_root, value)
        fn >>= 1
        sn >>= 1
    return (
        sn == 0
        and hmac.compare_digest(first_root, old_root)
        and hmac.compare_digest(second_root, new_root)
    )


# --- storage protocol and the in-memory log ---


class NodeStore(Protocol):
    """Where the hashes of perfect subtrees live; nodes are written once and never change."""

    def get_nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]: ...

    def put_nodes(self, nodes: Mapping[NodeKey, bytes]) -> None: ...


@dataclass
class MemoryNodeStore:
    nodes: dict[NodeKey, bytes] = field(default_factory=dict)

    def get_nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        return {key: self.nodes[key] for key in keys}

    def put_nodes(self, nodes: Mapping[NodeKey, bytes]) -> None:
        for key, value in nodes.items():
            # Perfect nodes are immutable; a different value means a corrupted append.
            existing = self.nodes.setdefault(key, value)
            if existing != value:
                raise RuntimeError(f"node {key} already stored with another hash")


class MerkleLog:
    """An append-only log over a NodeStore: O(log n) appends, proofs from stored nodes only."""

    def __init__(self, store: NodeStore | None = None, size: int = 0) -> None:
        self.store: NodeStore = store if store is not None else MemoryNodeStore()
        self.size = size

    def append(self, data: bytes) -> int:
        return self.append_hashes([leaf_hash(data)])

    def append_hashes(self, leaf_hashes: Sequence[bytes]) -> int:
        """Append leaf hashes; returns the index of the first one."""
        frontier = self.store.get_nodes(perfect_nodes(0, self.size))
        result = append_leaves(self.size, frontier, leaf_hashes)
        self.store.put_nodes(result.new_nodes)
        self.size = result.size
        return result.first_index

    def _check_size(self, size: int | None) -> int:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ProofError(f"tree size {size} is not between 0 and {self.size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        size = self._check_size(size)
        return subtree_hash(0, size, self.store.get_nodes(perfect_nodes(0, size)))

    def leaf_hash_at(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise ProofError(f"leaf index {index} is not in a tree of size {self.size}")
        return self.store.get_nodes([(0, index)])[(0, index)]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        ranges = inclusion_ranges(index, self._check_size(size))
        return assemble(ranges, self.store.get_nodes(nodes_for(ranges)))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        ranges = consistency_ranges(old_size, self._check_size(new_size))
        return assemble(ranges, self.store.get_nodes(nodes_for(ranges)))


def root_of(leaves: Iterable[bytes]) -> bytes:
    """MTH of raw leaf data, computed from scratch (for checks and tests)."""
    log = MerkleLog()
    log.append_hashes([leaf_hash(leaf) for leaf in leaves])
    return log.root()
