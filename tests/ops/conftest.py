from tests.bidding.conftest import bid_storage, fast_hashing  # noqa: F401  (stored bids for the ops tests)
