"""``python -m gridlake``: the same as the ``gridlake`` command."""

from gridlake.cli import app

app()
