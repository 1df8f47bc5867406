"""Users' tokens: stored hashed, issued and revoked by the admin's command, a revocation seen at once."""

from __future__ import annotations

import os
from pathlib import Path

from portal.tokens import TokenStore


def test_a_revocation_is_seen_even_when_the_file_keeps_its_time(tmp_path: Path) -> None:
    """Two writes within one tick of a coarse file-system clock leave the file's time unchanged: the service's
    store (another instance, as in the service) must still see the revocation."""
    path = tmp_path / "tokens.json"
    admin, service = TokenStore(path), TokenStore(path)
    issued = admin.issue("街道甲", "street_office", {"street_code": "110101001"})
    assert service.check(issued.token) is not None
    before = path.stat()
    assert admin.revoke(issued.token_id)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert service.check(issued.token) is None
