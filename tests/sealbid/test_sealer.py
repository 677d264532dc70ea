"""What the manifest says about the sealing (docs/sealbid.md): the tool, its version and a salted
hash of the machine — the same within a lot, unlinkable across lots, never the raw identifier —
and the server's manifest check accepts manifests with and without it."""

from __future__ import annotations

import json

from bidding.lifecycle import DEFAULT_ANNOUNCED_FIELDS
from bidding.opening.rules import check_manifest
from sealbid import bidpackage


def test_the_same_machine_gives_the_same_hash_within_a_lot_only():
    ident = b"machine-id:0123456789abcdef0123456789abcdef"
    a = bidpackage.machine_hash(ident, tender="P1", lot="01")
    assert a == bidpackage.machine_hash(ident, tender="P1", lot="01")
    assert a != bidpackage.machine_hash(ident, tender="P1", lot="02")
    assert a != bidpackage.machine_hash(ident, tender="P2", lot="01")
    assert a != bidpackage.machine_hash(b"machine-id:other", tender="P1", lot="01")
    assert len(a) == 64 and "0123456789abcdef" not in a


def test_the_machine_id_file_comes_first_and_no_identity_means_no_machine(tmp_path):
    f = tmp_path / "machine-id"
    f.write_text("4c4c4544004d3510804bb4c04f4b4d32\n")
    assert bidpackage.machine_identity((str(f),)) == b"machine-id:4c4c4544004d3510804bb4c04f4b4d32"
    info = bidpackage.sealer_info(tender="P1", lot="01", version="1.2", identity=b"")
    assert info == {"tool": "sealbid", "version": "1.2"}


def test_the_manifest_carries_the_sealer_and_stays_compatible(tmp_path):
    doc = tmp_path / "技术标.docx"
    doc.write_bytes(b"x")
    fields = {"price": 123, "duration_days": 10, "quality": "合格"}
    ident = b"machine-id:4c4c4544004d3510804bb4c04f4b4d32"
    sealer = bidpackage.sealer_info(tender="P1", lot="01", version="0.1.0", identity=ident)
    with_sealer = json.loads(bidpackage.manifest(tender="P1", lot="01", bidder="X", fields=fields,
                                                 documents=[(doc, "documents/技术标.docx")], sealer=sealer))
    without = json.loads(bidpackage.manifest(tender="P1", lot="01", bidder="X", fields=fields,
                                             documents=[(doc, "documents/技术标.docx")]))
    assert "sealer" not in without and {k: v for k, v in with_sealer.items() if k != "sealer"} == without
    assert with_sealer["sealer"]["tool"] == "sealbid" and len(with_sealer["sealer"]["machine"]) == 64
    assert "4c4c4544" not in json.dumps(with_sealer)
    for m in (with_sealer, without):
        values, problems = check_manifest(m, DEFAULT_ANNOUNCED_FIELDS, expected={"tender": "P1", "lot": "01"})
        assert problems == [] and values == fields
