"""The service's users: one token each, stored hashed (``$GRIDLAKE_HOME/portal/tokens.json``), issued and revoked by
an admin command (``gridlake portal token ...``). A token is ``glk_<id>_<secret>``: the id finds its entry, the
secret's SHA-256 must match (compared in constant time). Only the hash is kept, so the file reveals no token; a
revoked token fails at once (the service rereads the file whenever it is replaced: its time, size or inode change).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["IssuedToken", "TokenCheck", "TokenStore"]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once, never stored
    token_id: str
    user: str
    role: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class TokenCheck:
    """What a presented token is: ``problem`` is None for a valid one, else missing, malformed, unknown (no such
    id), wrong_secret or revoked; ``entry`` is the id's entry (its hash left out) when the id is known, so a refusal
    can be logged against the user it names."""

    problem: str | None
    token_id: str | None = None
    entry: dict[str, Any] | None = None


class TokenStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._loaded: tuple[tuple[int, int, int], dict[str, Any]] | None = None

    def _entries(self) -> dict[str, Any]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        # the time alone can miss a change: two writes within one tick of a coarse file-system clock share it
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        with self._lock:
            if self._loaded is None or self._loaded[0] != stamp:
                self._loaded = (stamp, json.loads(self.path.read_text(encoding="utf-8")))
            return self._loaded[1]

    def _write(self, entries: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        aside = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        aside.write_text(json.dumps(entries, ensure_ascii=False, indent=1), encoding="utf-8")
        os.chmod(aside, 0o600)
        os.replace(aside, self.path)

    def issue(self, user: str, role: str, attributes: dict[str, Any] | None = None) -> IssuedToken:
        """A new token for ``user`` as ``role`` (the caller checked both against the policies)."""
        entries = dict(self._entries())
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        entries[token_id] = {"user": user, "role": role, "attributes": attributes or {}, "sha256": _hash(secret),
                             "issued_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                             "revoked_at": None}
        self._write(entries)
        return IssuedToken(f"glk_{token_id}_{secret}", token_id, user, role, attributes or {})

    def revoke(self, token_id: str) -> bool:
        entries = dict(self._entries())
        if token_id not in entries or entries[token_id]["revoked_at"]:
            return False
        entries[token_id] = {**entries[token_id], "revoked_at": datetime.now(timezone.utc).isoformat(
            timespec="seconds")}
        self._write(entries)
        return True

    def list(self) -> list[dict[str, Any]]:
        """Every token's entry, without its hash."""
        return [{"token_id": token_id, **{key: value for key, value in entry.items() if key != "sha256"}}
                for token_id, entry in sorted(self._entries().items())]

    def check(self, token: str) -> dict[str, Any] | None:
        """The entry of a valid, unrevoked token (with its id, without its hash); None otherwise."""
        verdict = self.verify(token)
        return None if verdict.problem else verdict.entry

    def verify(self, token: str) -> TokenCheck:
        """What ``token`` is: valid (with its entry) or why not. Revoked is said only to the holder of the right
        secret; a wrong secret is just wrong."""
        if not token:
            return TokenCheck("missing")
        prefix, _, rest = token.partition("_")
        token_id, _, secret = rest.partition("_")
        if prefix != "glk" or not token_id or not secret:
            return TokenCheck("malformed")
        entry = self._entries().get(token_id)
        if entry is None:
            return TokenCheck("unknown", token_id)
        shown = {"token_id": token_id, **{key: value for key, value in entry.items() if key != "sha256"}}
        if not hmac.compare_digest(entry["sha256"], _hash(secret)):
            return TokenCheck("wrong_secret", token_id, shown)
        if entry["revoked_at"]:
            return TokenCheck("revoked", token_id, shown)
        return TokenCheck(None, token_id, shown)
