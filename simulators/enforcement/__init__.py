"""The enforcement platform simulator."""
