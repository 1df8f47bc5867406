"""The departments' access to the shared zone: the query service and data portal, with per-role policies."""
