"""The shape every signal returns, and the legal items leads are tied to."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Strength(StrEnum):
    """How much a lead weighs on its own. Never a verdict: a strong lead still needs a person."""

    WEAK = "weak"
    MODERATE = "moderate"
    STRONG = "strong"


STRENGTH_ORDER = {Strength.WEAK: 0, Strength.MODERATE: 1, Strength.STRONG: 2}


class Article(StrEnum):
    """The items of 《招标投标法实施条例》 a lead supports."""

    A40_1 = "reg40.1"  # 不同投标人的投标文件由同一单位或者个人编制
    A40_2 = "reg40.2"  # 不同投标人委托同一单位或者个人办理投标事宜
    A40_3 = "reg40.3"  # 不同投标人的投标文件载明的项目管理成员为同一人
    A40_4 = "reg40.4"  # 不同投标人的投标文件异常一致或者投标报价呈规律性差异
    A40_5 = "reg40.5"  # 不同投标人的投标文件相互混装
    A39_2 = "reg39.2"  # 投标人之间约定中标人


class Signal(StrEnum):
    SAME_MACHINE = "same_machine"
    SAME_NETWORK = "same_network"
    SAME_CERTIFICATE = "same_certificate"
    SHARED_METADATA = "shared_metadata"
    SHARED_MEDIA = "shared_media"
    SIMILAR_TEXT = "similar_text"
    SHARED_ERRORS = "shared_errors"
    MISPLACED_NAME = "misplaced_name"
    SHARED_PERSON = "shared_person"
    PRICE_PATTERN = "price_pattern"
    CLOSE_DECRYPTION = "close_decryption"
    CO_BIDDING = "co_bidding"


SIGNAL_ARTICLES: dict[Signal, tuple[Article, ...]] = {
    Signal.SAME_MACHINE: (Article.A40_1, Article.A40_2),
    Signal.SAME_NETWORK: (Article.A40_2,),
    Signal.SAME_CERTIFICATE: (Article.A40_2,),
    Signal.SHARED_METADATA: (Article.A40_1,),
    Signal.SHARED_MEDIA: (Article.A40_1, Article.A40_4),
    Signal.SIMILAR_TEXT: (Article.A40_4,),
    Signal.SHARED_ERRORS: (Article.A40_4,),
    Signal.MISPLACED_NAME: (Article.A40_5,),
    Signal.SHARED_PERSON: (Article.A40_3,),
    Signal.PRICE_PATTERN: (Article.A40_4,),
    Signal.CLOSE_DECRYPTION: (Article.A40_2,),
    Signal.CO_BIDDING: (Article.A39_2,),
}


@dataclass(frozen=True)
class Lead:
    signal: Signal
    bidders: tuple[str, ...]  # the bidders' keys (the app uses organisation ids as text), sorted
    strength: Strength
    evidence: dict[str, Any] = field(default_factory=dict)  # JSON-able: what a person checks
    articles: tuple[Article, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"signal": self.signal.value, "bidders": list(self.bidders), "strength": self.strength.value,
                "articles": [a.value for a in (self.articles or SIGNAL_ARTICLES[self.signal])],
                "evidence": self.evidence}


def lead(signal: Signal, bidders, strength: Strength, **evidence: Any) -> Lead:
    return Lead(signal, tuple(sorted(set(bidders))), strength, evidence, SIGNAL_ARTICLES[signal])


def stronger(a: Strength, b: Strength) -> Strength:
    return a if STRENGTH_ORDER[a] >= STRENGTH_ORDER[b] else b
