"""``sealbid``: the bidder's command-line tool (docs/sealbid.md). Seals bids on the bidder's own
machine with ``crypto.envelope``, submits them resumably, and checks receipts offline."""
