"""RFC 6962 / RFC 9162 Merkle tree: known vectors, hand arithmetic, and properties of proofs."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.merkle import (
    EMPTY_ROOT, MemoryTree, ProofError, TreeBuilder, consistency_proof, consistency_ranges,
    inclusion_proof, inclusion_ranges, leaf_hash, node_hash, root_from_leaf_hashes,
    verify_consistency, verify_inclusion)

# The Certificate Transparency test vectors (transparency-dev/merkle testonly/constants.go).
CT_LEAVES = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
             b"\x50\x51\x52\x53\x54\x55\x56\x57",
             b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"]
CT_ROOTS = [bytes.fromhex(h) for h in [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]]
CT_HASHES = [leaf_hash(d) for d in CT_LEAVES]
CT_TREE = MemoryTree(CT_HASHES)
CT_INCLUSION = {  # (index, size): audit path, from the CT reference tests
    (0, 1): [],
    (0, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (5, 8): ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}
CT_CONSISTENCY = {  # (m, n): consistency proof
    (1, 1): [],
    (1, 8): ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
             "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    (6, 8): ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
             "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
             "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
    (2, 5): ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
             "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"],
}

# One tree serves every smaller size: a tree's first m leaves are the tree of size m. Sizes under
# test go up to MAX; the tree is twice as large so that "wrong size 2n" has a true root too.
MAX = 300
LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(2 * MAX)]
TREE = MemoryTree(LEAVES)
ROOTS = [TREE.root(n) for n in range(2 * MAX + 1)]
sizes = st.integers(min_value=1, max_value=MAX)


def ref_mth(hashes: list[bytes]) -> bytes:
    """MTH exactly as RFC 6962 §2.1 writes it (recursive), as an independent reference."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return node_hash(ref_mth(hashes[:k]), ref_mth(hashes[k:]))


def ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) as RFC 9162 §2.1.3.1 writes it."""
    if len(hashes) == 1:
        return []
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    if m < k:
        return ref_path(m, hashes[:k]) + [ref_mth(hashes[k:])]
    return ref_path(m - k, hashes[k:]) + [ref_mth(hashes[:k])]


def ref_subproof(m: int, hashes: list[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) as RFC 9162 §2.1.4.1 writes it."""
    if m == len(hashes):
        return [] if b else [ref_mth(hashes)]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    if m <= k:
        return ref_subproof(m, hashes[:k], b) + [ref_mth(hashes[k:])]
    return ref_subproof(m - k, hashes[k:], False) + [ref_mth(hashes[:k])]


def fails(check, *args) -> bool:
    try:
        check(*args)
    except ProofError:
        return True
    return False


# --- known values -------------------------------------------------------------------------------

def test_the_empty_tree_root_is_sha256_of_nothing():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_leaf_hashes([]) == EMPTY_ROOT == TreeBuilder().root() == MemoryTree([]).root()


def test_leaf_and_node_hashes_match_the_rfc6962_hasher_vectors():
    assert leaf_hash(b"").hex() == \
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert leaf_hash(b"L123456").hex() == \
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert node_hash(b"N123", b"N456").hex() == \
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"


def test_a_three_leaf_tree_is_hashed_as_rfc6962_says():
    sha = lambda data: hashlib.sha256(data).digest()  # noqa: E731
    a, b, c = sha(b"\x00" + b"a"), sha(b"\x00" + b"b"), sha(b"\x00" + b"c")
    # n = 3 splits at k = 2: MTH = H(0x01 || MTH(a, b) || MTH(c)), and MTH(c) is c's leaf hash.
    expected = sha(b"\x01" + sha(b"\x01" + a + b) + c)
    assert root_from_leaf_hashes([leaf_hash(x) for x in (b"a", b"b", b"c")]) == expected
    # The proof that c is leaf 2 is its one sibling, MTH(a, b); and size 2 -> 3 needs only c.
    tree = MemoryTree([a, b, c])
    assert inclusion_proof(2, 3, tree) == [sha(b"\x01" + a + b)]
    assert consistency_proof(2, 3, tree) == [c]


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_roots_match_the_certificate_transparency_vectors(size):
    want = CT_ROOTS[size]
    builder = TreeBuilder()
    builder.extend(CT_HASHES[:size])
    assert root_from_leaf_hashes(CT_HASHES[:size]) == want
    assert builder.root() == want
    assert CT_TREE.root(size) == want


def test_roots_of_larger_trees_match_the_compact_range_golden_values():
    # transparency-dev/merkle compact/range_test.go, TestGetRootHashGolden: leaf i's data is
    # i as two little-endian bytes.
    golden = {10: "VjWMPSYNtCuCNlF/RLnQy6HcwSk6CIipfxm+hettA+4=",
              15: "j4SulYmocFuxdeyp12xXCIgK6PekBcxzAIj4zbQzNEI=",
              16: "c+4Uc6BCMOZf/v3NZK1kqTUJe+bBoFtOhP+P3SayKRE=",
              100: "dUh9hYH88p0CMoHkdr1wC2szbhcLAXOejWpINIooKUY=",
              255: "SmdsuKUqiod3RX2jyF2M6JnbdE4QuTwwipfAowI4/i0="}
    hashes = [leaf_hash(i.to_bytes(2, "little")) for i in range(255)]
    for size, root in golden.items():
        assert base64.b64encode(root_from_leaf_hashes(hashes[:size])).decode() == root


@pytest.mark.parametrize(("index", "size"), sorted(CT_INCLUSION))
def test_inclusion_proofs_match_the_certificate_transparency_vectors(index, size):
    proof = inclusion_proof(index, size, CT_TREE)
    assert [p.hex() for p in proof] == CT_INCLUSION[index, size]
    verify_inclusion(CT_HASHES[index], index, size, proof, CT_ROOTS[size])


@pytest.mark.parametrize(("m", "n"), sorted(CT_CONSISTENCY))
def test_consistency_proofs_match_the_certificate_transparency_vectors(m, n):
    proof = consistency_proof(m, n, CT_TREE)
    assert [p.hex() for p in proof] == CT_CONSISTENCY[m, n]
    verify_consistency(m, n, proof, CT_ROOTS[m], CT_ROOTS[n])


def test_proofs_equal_the_rfc_recursive_definitions_for_every_small_tree():
    for n in range(1, 65):
        assert TREE.root(n) == ref_mth(LEAVES[:n]) == ROOTS[n]
        for i in range(n):
            assert inclusion_proof(i, n, TREE) == ref_path(i, LEAVES[:n])
        for m in range(1, n):
            assert consistency_proof(m, n, TREE) == ref_subproof(m, LEAVES[:n], True)


# --- proofs verify ------------------------------------------------------------------------------

@settings(deadline=None)
@given(sizes)
def test_every_inclusion_proof_verifies(n):
    for i in range(n):
        verify_inclusion(LEAVES[i], i, n, inclusion_proof(i, n, TREE), ROOTS[n])


@settings(deadline=None)
@given(sizes)
def test_every_consistency_proof_verifies(n):
    for m in range(1 if n else 0, n + 1):
        verify_consistency(m, n, consistency_proof(m, n, TREE), ROOTS[m], ROOTS[n])


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=40))
def test_proofs_verify_for_arbitrary_leaf_data(data):
    hashes = [leaf_hash(d) for d in data]
    tree, n = MemoryTree(hashes), len(hashes)
    root = root_from_leaf_hashes(hashes)
    for i in range(n):
        verify_inclusion(hashes[i], i, n, inclusion_proof(i, n, tree), root)
    for m in range(1, n + 1):
        verify_consistency(m, n, consistency_proof(m, n, tree), tree.root(m), root)


# --- mutated proofs fail ------------------------------------------------------------------------

@settings(deadline=None)
@given(st.data())
def test_a_mutated_inclusion_proof_fails(data):
    n = data.draw(sizes)
    i = data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(i, n, TREE)
    bad_proofs = [proof + [ROOTS[n]], [ROOTS[n]] + proof]
    for k in range(len(proof)):
        for bit in (0, 7, 255):
            flipped = bytearray(proof[k])
            flipped[bit // 8] ^= 1 << (bit % 8)
            bad_proofs.append(proof[:k] + [bytes(flipped)] + proof[k + 1:])
        bad_proofs.append(proof[:k] + proof[k + 1:])
    for bad in bad_proofs:
        assert fails(verify_inclusion, LEAVES[i], i, n, bad, ROOTS[n])
    for j in {i - 1, i + 1, i ^ 2} - {i}:  # the right leaf claimed at the wrong index
        assert fails(verify_inclusion, LEAVES[i], j, n, proof, ROOTS[n])
    for m in {n - 1, n + 1, 2 * n, n // 2} - {n}:  # the wrong size, with that size's true root
        assert fails(verify_inclusion, LEAVES[i], i, m, proof, ROOTS[m])
    for j in {i - 1, i + 1} & set(range(n)):  # another leaf's hash at this index
        assert fails(verify_inclusion, LEAVES[j], i, n, proof, ROOTS[n])


@settings(deadline=None)
@given(st.data())
def test_a_mutated_consistency_proof_fails(data):
    n = data.draw(st.integers(2, MAX))
    m = data.draw(st.integers(1, n - 1))
    proof = consistency_proof(m, n, TREE)
    bad_proofs = [proof + [ROOTS[n]], [ROOTS[m]] + proof, proof[:-1], proof[1:]]
    for k in range(len(proof)):
        for bit in (0, 7, 255):
            flipped = bytearray(proof[k])
            flipped[bit // 8] ^= 1 << (bit % 8)
            bad_proofs.append(proof[:k] + [bytes(flipped)] + proof[k + 1:])
    for bad in bad_proofs:
        assert fails(verify_consistency, m, n, bad, ROOTS[m], ROOTS[n])
    for m2 in {m - 1, m + 1} - {0, n}:  # wrong old size, with that size's true root
        assert fails(verify_consistency, m2, n, proof, ROOTS[m2], ROOTS[n])
    for n2 in {n - 1, n + 1} - {m}:  # wrong new size
        assert fails(verify_consistency, m, n2, proof, ROOTS[m], ROOTS[n2])
    assert fails(verify_consistency, m, n, proof, ROOTS[m - 1], ROOTS[n])
    assert fails(verify_consistency, m, n, proof, ROOTS[m], ROOTS[n - 1])


# --- tampering with the leaves is evident -------------------------------------------------------

@settings(deadline=None)
@given(st.data())
def test_editing_any_leaf_changes_the_root_and_breaks_its_old_proof(data):
    n = data.draw(sizes)
    k = data.draw(st.integers(0, n - 1))
    edited = LEAVES[:n]
    edited[k] = leaf_hash(b"edited")
    new_root = root_from_leaf_hashes(edited)
    assert new_root != ROOTS[n]
    old_proof = inclusion_proof(k, n, TREE)
    assert fails(verify_inclusion, edited[k], k, n, old_proof, ROOTS[n])
    assert fails(verify_inclusion, LEAVES[k], k, n, old_proof, new_root)
    # A checkpoint signed before the edit cannot be extended to the edited log.
    if k < n - 1:
        m = data.draw(st.integers(k + 1, n - 1))
        proof = consistency_proof(m, n, MemoryTree(edited))
        assert fails(verify_consistency, m, n, proof, ROOTS[m], new_root)


@settings(deadline=None)
@given(st.data())
def test_swapping_two_leaves_changes_the_root(data):
    n = data.draw(st.integers(2, MAX))
    i, j = sorted(data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True)))
    swapped = LEAVES[:n]
    swapped[i], swapped[j] = swapped[j], swapped[i]
    assert root_from_leaf_hashes(swapped) != ROOTS[n]
    assert fails(verify_inclusion, LEAVES[i], j, n, inclusion_proof(i, n, TREE), ROOTS[n])


@settings(deadline=None)
@given(st.data())
def test_deleting_a_leaf_changes_the_root_and_breaks_consistency(data):
    n = data.draw(st.integers(2, MAX))
    k = data.draw(st.integers(0, n - 1))
    shorter = LEAVES[:k] + LEAVES[k + 1:n]
    assert root_from_leaf_hashes(shorter) != ROOTS[n]
    if k < n - 1:  # (dropping the last leaf is the old tree of size n - 1: a smaller size shows it)
        assert root_from_leaf_hashes(shorter) != ROOTS[n - 1]
    # Refill to the old size: the root still differs, and no old checkpoint past k extends to it.
    refilled = shorter + [leaf_hash(b"filler")]
    assert root_from_leaf_hashes(refilled) != ROOTS[n]
    m = data.draw(st.integers(k + 1, n))
    proof = consistency_proof(m, n, MemoryTree(refilled)) if m < n else []
    assert fails(verify_consistency, m, n, proof, ROOTS[m], root_from_leaf_hashes(refilled))


# --- builders agree -----------------------------------------------------------------------------

def test_tree_builder_root_equals_root_from_leaf_hashes_at_every_size():
    builder = TreeBuilder()
    for n in range(1, MAX + 1):
        builder.append(LEAVES[n - 1])
        assert builder.size == n
        assert builder.root() == ROOTS[n] == root_from_leaf_hashes(LEAVES[:n])
        assert len(builder.frontier) == n.bit_count()  # O(log n) state


@given(st.integers(0, 5000))
def test_tree_builder_resumes_from_its_frontier(n):
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n + 3)]
    first = TreeBuilder()
    first.extend(leaves[:n])
    resumed = TreeBuilder(first.size, first.frontier)
    resumed.extend(leaves[n:])
    assert resumed.root() == root_from_leaf_hashes(leaves)


@pytest.mark.parametrize("size", [1023, 1024, 1025, 4097])
def test_memory_tree_and_tree_builder_agree_on_larger_trees(size):
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    builder = TreeBuilder()
    builder.extend(leaves)
    tree = MemoryTree(leaves)
    assert builder.root() == root_from_leaf_hashes(leaves) == tree.root() == ref_mth(leaves)
    verify_inclusion(leaves[size // 3], size // 3, size,
                     inclusion_proof(size // 3, size, tree), tree.root())
    verify_consistency(size // 2, size, consistency_proof(size // 2, size, tree),
                       tree.root(size // 2), tree.root())


# --- edge cases ---------------------------------------------------------------------------------

def test_inclusion_rejects_an_index_outside_the_tree():
    for index, size in [(0, 0), (1, 1), (2, 1), (-1, 5)]:
        assert fails(verify_inclusion, LEAVES[0], index, size, [], ROOTS[1])
        with pytest.raises(ValueError):
            inclusion_ranges(index, size)


def test_a_single_leaf_tree_proves_inclusion_with_an_empty_path():
    verify_inclusion(LEAVES[0], 0, 1, [], ROOTS[1])
    assert fails(verify_inclusion, LEAVES[1], 0, 1, [], ROOTS[1])
    assert fails(verify_inclusion, LEAVES[0], 0, 1, [LEAVES[1]], ROOTS[1])


def test_consistency_edge_cases_follow_the_reference_implementation():
    verify_consistency(5, 5, [], ROOTS[5], ROOTS[5])
    assert fails(verify_consistency, 5, 5, [ROOTS[5]], ROOTS[5], ROOTS[5])
    assert fails(verify_consistency, 5, 5, [], ROOTS[5], ROOTS[6])
    verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    assert fails(verify_consistency, 0, 0, [], ROOTS[1], ROOTS[1])  # size 0 has one root
    assert fails(verify_consistency, 0, 0, [EMPTY_ROOT], EMPTY_ROOT, EMPTY_ROOT)
    # From the empty tree: meaningless, with or without a proof (transparency-dev/merkle).
    assert fails(verify_consistency, 0, 7, [ROOTS[7]], EMPTY_ROOT, ROOTS[7])
    assert fails(verify_consistency, 0, 7, [], EMPTY_ROOT, ROOTS[7])
    assert fails(verify_consistency, 0, 7, [], ROOTS[1], ROOTS[7])
    # A proof of the right length that is the wrong one, and one hash too many or too few.
    good = consistency_proof(3, 7, TREE)
    assert fails(verify_consistency, 3, 7, good + [ROOTS[1]], ROOTS[3], ROOTS[7])
    assert fails(verify_consistency, 3, 7, good[:-1], ROOTS[3], ROOTS[7])
    assert fails(verify_consistency, 3, 7, good[::-1], ROOTS[3], ROOTS[7])
    assert fails(verify_consistency, 4, 7, [ROOTS[4]] + consistency_proof(4, 7, TREE), ROOTS[4], ROOTS[7])
    assert fails(verify_consistency, 3, 7, [], ROOTS[3], ROOTS[7])
    assert fails(verify_consistency, 7, 3, [], ROOTS[7], ROOTS[3])
    assert consistency_ranges(0, 9) == consistency_ranges(9, 9) == []
    with pytest.raises(ValueError):
        consistency_ranges(9, 8)


def test_hashes_of_the_wrong_length_are_rejected():
    proof = inclusion_proof(3, 8, TREE)
    assert fails(verify_inclusion, LEAVES[3][:31], 3, 8, proof, ROOTS[8])
    assert fails(verify_inclusion, LEAVES[3], 3, 8, proof, ROOTS[8] + b"\x00")
    assert fails(verify_inclusion, LEAVES[3], 3, 8, proof[:-1] + [b""], ROOTS[8])
    assert fails(verify_consistency, 3, 8, [b"x" * 33], ROOTS[3], ROOTS[8])
    with pytest.raises(ValueError):
        root_from_leaf_hashes([b"short"])
    with pytest.raises(ValueError):
        TreeBuilder().append(b"short")
    with pytest.raises(ValueError):
        TreeBuilder(3, [LEAVES[0]])  # size 3 needs two frontier hashes
    with pytest.raises(ValueError):
        TREE.subtree_hash(0, 2 * MAX + 1)
