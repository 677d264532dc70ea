"""Small shared pieces with no models: typed errors, the clock, environment parsing."""
