"""All the signals of one tender, from the facts the app gathered, with the enabled set and the
thresholds given as settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .errors import ErrorSettings, shared_errors
from .extract import DocFacts
from .identity import (BidderIdentity, Observation, misplaced_names, shared_media, shared_metadata,
                       shared_observations, shared_persons)
from .leads import Lead, Signal
from .prices import PriceSettings, close_decryptions, price_patterns
from .text import TextSettings, similar_text


@dataclass
class TenderFacts:
    bidders: list[BidderIdentity]
    documents: dict[str, list[DocFacts]] = field(default_factory=dict)  # bidder key → its documents
    tender_documents: list[DocFacts] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    prices: dict[str, int] = field(default_factory=dict)  # fen
    decrypted_at: dict[str, datetime] = field(default_factory=dict)
    benchmark_fen: int | None = None  # the 评标基准价 the lot's price rule computes from the prices
    benchmark_kind: str = ""  # mean, composite


@dataclass(frozen=True)
class AnalysisSettings:
    enabled: frozenset[Signal] = frozenset(Signal) - {Signal.CO_BIDDING}
    text: TextSettings = TextSettings()
    prices: PriceSettings = PriceSettings()
    errors: ErrorSettings = ErrorSettings()
    decryption_within_seconds: float = 2.0
    ignored_networks: tuple[str, ...] = ()
    media_min_bytes: int = 2048


def analyse(facts: TenderFacts, settings: AnalysisSettings = AnalysisSettings()) -> list[Lead]:
    on = settings.enabled
    tender_text = "\n".join(d.text for d in facts.tender_documents)
    tender_media = {h for d in facts.tender_documents for _, h, _ in d.media + d.attachments}
    leads: list[Lead] = []
    if on & {Signal.SAME_MACHINE, Signal.SAME_NETWORK, Signal.SAME_CERTIFICATE}:
        leads += [x for x in shared_observations(facts.observations, ignored_networks=settings.ignored_networks)
                  if x.signal in on]
    if Signal.SHARED_METADATA in on:
        leads += shared_metadata(facts.documents, own_names={b.key: {b.name, *b.aliases} for b in facts.bidders},
                                 tender_docs=facts.tender_documents)
    if Signal.SHARED_MEDIA in on:
        leads += shared_media(facts.documents, tender_media, min_bytes=settings.media_min_bytes)
    if Signal.SIMILAR_TEXT in on:
        texts = {b: "\n".join(d.text for d in docs) for b, docs in facts.documents.items()}
        leads += similar_text(texts, tender_text, settings.text)
    if Signal.SHARED_ERRORS in on:
        leads += shared_errors(facts.documents, facts.tender_documents, settings.errors)
    if Signal.MISPLACED_NAME in on:
        leads += misplaced_names(facts.documents, facts.bidders, tender_text)
    if Signal.SHARED_PERSON in on:
        leads += shared_persons(facts.documents, tender_text)
    if Signal.PRICE_PATTERN in on:
        leads += price_patterns(facts.prices, settings.prices, benchmark_fen=facts.benchmark_fen,
                                benchmark_kind=facts.benchmark_kind)
    if Signal.CLOSE_DECRYPTION in on:
        leads += close_decryptions(facts.decrypted_at, within_seconds=settings.decryption_within_seconds)
    return leads
