"""The checked-in vectors of the versions with custodians' shares (tests/crypto/vectors/envelope-v2,
envelope-v3): loading one with its generator, and the checks both pass the same way. What differs,
how the shares are computed (Shamir over GF(2^128) in v2, replicated XOR sharing in v3), stays in
each version's test module."""

from __future__ import annotations

import importlib.util
import io
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from crypto import envelope, escrow_shares, keys

VECTORS = Path(__file__).parent / "vectors"


@dataclass(frozen=True)
class Vector:
    index: dict  # index.json
    data: bytes  # the envelope's bytes
    gen: ModuleType  # its generator, make_envelope_<version>_vectors.py

    def key(self, name: str):
        return keys.private_key_from_scalar(bytes.fromhex(self.index["keys"][name]["scalar"]))

    def header(self):
        return envelope.read_header(io.BytesIO(self.data))


def load(version: str) -> Vector:
    """The checked-in vector of ``version`` ("v2", "v3") and its generator, loaded from its file."""
    index = json.loads((VECTORS / f"envelope-{version}" / "index.json").read_text(encoding="utf-8"))
    data = (VECTORS / f"envelope-{version}" / index["file"]).read_bytes()
    name = f"make_envelope_{version}_vectors"
    spec = importlib.util.spec_from_file_location(name, VECTORS / f"{name}.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return Vector(index, data, gen)


def check_the_generator_reproduces_it(vector: Vector) -> None:
    data, index = vector.gen.build()
    assert data == vector.data and index == vector.index


def check_each_custodian_unwraps(vector: Vector, header, values: list[bytes]) -> None:
    """Custodian i's stanza names its key, opens with the independent RFC 9180 code under the
    spec's info to ``values[i - 1]`` (the share the spec computes), and unwrap_share agrees."""
    for i, (spec_share, value) in enumerate(zip(vector.index["shares"], values, strict=True), start=1):
        custodian = vector.key(f"custodian{i}")
        stanza = header.shares[i - 1]
        assert stanza.key_id == vector.index["keys"][f"custodian{i}"]["key_id"]
        assert vector.gen.v1.hpke_open_base(stanza.body, custodian, spec_share["info"].encode()) == value
        assert escrow_shares.unwrap_share(header, custodian) == escrow_shares.Share(i, value)


def check_the_bidder_opens_it_and_a_stranger_opens_nothing(vector: Vector) -> None:
    header = vector.header()
    file_key = envelope.unwrap_file_key(header, vector.key("bidder"), role="bidder")
    assert file_key.hex() == vector.index["file_key"] and header.commitment_b64 == vector.index["commitment"]
    assert envelope.open_bytes(vector.data, file_key=file_key).hex() == vector.index["plaintext"]
    for unwrap in (envelope.unwrap_file_key, escrow_shares.unwrap_share):
        with pytest.raises(envelope.InvalidEnvelope):
            unwrap(header, vector.key("stranger"))
