"""Publication of the shared district datasets: each mart gated by its suite (expectations/) and published into
the shared zone (gridlake/shared.py) only when it passes. ``gridlake publish`` and the ``publish`` DAG run it."""

from publication.flow import DatasetsHeldBack, Outcome, PublishReport, publish

__all__ = ["DatasetsHeldBack", "Outcome", "PublishReport", "publish"]
