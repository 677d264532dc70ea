"""Collusion and look-alike bid analysis (围标串标分析): advisory leads for the committee and the
supervisors, computed after the opening from what the platform captured (docs/collusion.md)."""
