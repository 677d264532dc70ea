"""Across tenders (实施条例 39(二) 约定中标人): the same group of companies bidding together again
and again, with one of them always winning or the wins going round the group.

The co-bidding graph has the companies as nodes and an edge for each pair that bid in the same
tender at least ``min_together`` times; each maximal clique of it is a candidate group, and the
tenders in which all its members bid are read for who won.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import combinations

from .leads import Lead, Signal, Strength, lead


@dataclass(frozen=True)
class TenderOutcome:
    key: str
    bidders: frozenset[str]
    winner: str | None = None


@dataclass(frozen=True)
class GraphSettings:
    min_together: int = 4
    win_share: float = 0.75  # one member won at least this share of the tenders bid together
    group_share: float = 0.9  # or the group's members won (in turn) nearly all of them
    max_bidders_per_tender: int = 60
    max_group: int = 8


def co_bidding(tenders: list[TenderOutcome], settings: GraphSettings = GraphSettings()) -> list[Lead]:
    import networkx as nx  # imported when the signal runs

    pairs: Counter = Counter()
    tenders_of: dict[str, set[int]] = {}
    for n, t in enumerate(tenders):
        members = sorted(t.bidders)
        for b in members:
            tenders_of.setdefault(b, set()).add(n)
        if len(members) <= settings.max_bidders_per_tender:
            pairs.update(combinations(members, 2))
    graph = nx.Graph()
    graph.add_edges_from(pair for pair, count in pairs.items() if count >= settings.min_together)
    leads, seen = [], set()
    for clique in nx.find_cliques(graph):
        if len(clique) > settings.max_group:
            continue
        group = _core(sorted(clique), tenders_of)
        if tuple(group) in seen:
            continue
        seen.add(tuple(group))
        clique = group
        together = set.intersection(*(tenders_of[b] for b in group))
        if len(together) < settings.min_together:
            continue
        wins = Counter(tenders[n].winner for n in together if tenders[n].winner in clique)
        decided = sum(1 for n in together if tenders[n].winner)
        if not decided:
            continue
        top, top_wins = wins.most_common(1)[0] if wins else (None, 0)
        group_wins = sum(wins.values())
        if top_wins >= settings.win_share * decided:
            pattern = "one_wins"
        elif group_wins >= settings.group_share * decided and len(wins) >= 2:
            pattern = "rotation"
        else:
            continue
        strength = Strength.STRONG if len(together) >= 2 * settings.min_together else Strength.MODERATE
        leads.append(lead(Signal.CO_BIDDING, group, strength, pattern=pattern, tenders_together=len(together),
                          decided=decided, wins=dict(sorted(wins.items())),
                          tenders=sorted(tenders[n].key for n in together)[:50]))
    return sorted(leads, key=lambda x: x.bidders)


def _core(group: list[str], tenders_of: dict[str, set[int]]) -> list[str]:
    """The group without members that joined it by chance: while leaving one member out at least
    doubles the tenders the rest bid in together, leave it out (an outsider that happened to bid
    four times with a ring that bid together a hundred times)."""
    group = list(group)
    while len(group) > 2:
        together = len(set.intersection(*(tenders_of[b] for b in group)))
        best, best_count = None, together
        for member in group:
            rest = [b for b in group if b != member]
            count = len(set.intersection(*(tenders_of[b] for b in rest)))
            if count > best_count:
                best, best_count = member, count
        if best is None or best_count < 2 * together:
            break
        group.remove(best)
    return group
