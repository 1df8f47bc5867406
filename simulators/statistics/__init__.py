"""The statistics platform simulator."""
