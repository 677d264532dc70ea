"""Pure evaluation rules (评标规则): no ORM, no network, no clock. Callers pass ``now`` and data.

- ``exact``: exact rationals (``Fraction``) and rounding once, exactly, by a named mode.
- ``numbers``: Decimal conversion and the declared rounding rule.
- ``price_rule``: the tender's price rule as data (benchmark, trimming table, K, deductions,
  deviation rounding, floor, ceiling), validated; ``price``: scoring under it, exactly (财政部87号令
  Art. 55; trimmed means; composite benchmarks; 实施条例 51's ceiling; 经评审的最低投标价法).
- ``sme``: small and micro enterprises' price deductions (财库〔2020〕46号, 财库〔2022〕19号).
- ``abnormal``: abnormally low prices flagged for the committee (财政部87号令 Art. 60).
- ``bills`` and ``daxie``: 清标 of priced bills and amounts in words (评标委员会和评标方法暂行规定 Art. 19).
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
