from tests.bidding.conftest import bid_storage, fast_hashing  # noqa: F401  (the sealed-bid fixtures)
