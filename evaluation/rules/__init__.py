"""Pure evaluation rules (评标规则): no ORM, no network, no clock. Callers pass ``now`` and data.

- ``numbers``: Decimal conversion and the declared rounding rule.
- ``price``: price-score formulas (财政部87号令 Art. 55; the construction trimmed-mean formula;
  经评审的最低投标价法).
- ``aggregate``: item definitions, score validation and aggregation across experts.
- ``alerts``: alerts with stable codes, and the rules for returning a score for correction.
- ``compliance``: majority decisions of the compliance review.
- ``ranking``: ordering, tie-breaks and the verifiable tie draw, recommended candidates.
- ``steps``: the evaluation session's state machine.
- ``committee``: avoidance, committee size rules, the chair election.
- ``draw``: the verifiable expert draw, and the replacement draw of one member (Reg 48).
- ``motions``: rejecting all bids by the committee's vote (R12 27), extending the time (Reg 48).
- ``adjustments``: the lowest-evaluated-price adjustments and the price-comparison table.

The rules and the reasons for each choice are in ``docs/evaluation.md`` ("Evaluation rules").
"""
