"""The citymgmt platform simulator."""
