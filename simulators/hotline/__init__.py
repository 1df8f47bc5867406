"""The hotline platform simulator."""
