"""The opening hall (开标): the room kind ``hall:<lot id>``, its actions, timers, decryption, the
opening record and backup decryption. Spec: docs/opening.md. The phase machine is ``bidding.phases``.
"""
