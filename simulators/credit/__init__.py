"""The credit platform simulator."""
