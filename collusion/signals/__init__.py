"""Collusion and look-alike signals (围标串标分析), as pure functions.

Each signal reads facts already captured (who uploaded and decrypted from where, what sealed each
bid, the decrypted documents, the announced prices, the platform's history) and returns ``Lead``s:
which bidders, which legal item the fact supports, the evidence and a strength. A lead is material
for people to weigh, never a finding: the committee and the supervisors decide.

No Django, no ORM, no clock (the "Pure rules" import contract): the app (``collusion.analysis``)
gathers the facts and stores the leads.
"""
