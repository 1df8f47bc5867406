"""The simulators' shared clock.

The platforms are generated with their whole future (orders keep changing for days after the span ends);
the clock decides what is visible "now". It starts at the end of the generated span and moves only when
told (``POST /_sim/clock`` on any HTTP simulator, or ``gridlake sim clock``), so tests and the demo decide
when records change. Listeners (the PostgreSQL replica, the statistics drop) catch up when it moves.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

__all__ = ["SimClock", "to_micros"]


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (the stores' time keys)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the simulators keep aware times only")
    return int(moment.timestamp() * 1_000_000)


class SimClock:
    """A settable clock with listeners, persisted to ``state.json`` when given a path."""

    def __init__(self, now: datetime, *, state_path: Path | None = None) -> None:
        self._lock = threading.RLock()
        self._listeners: list[Callable[[datetime], None]] = []
        self._state_path = state_path
        if state_path is not None and state_path.exists():
            now = datetime.fromisoformat(json.loads(state_path.read_text())["now"])
        self._now = now

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def now_micros(self) -> int:
        return to_micros(self.now())

    def subscribe(self, listener: Callable[[datetime], None]) -> None:
        """Call ``listener(now)`` now and after every move."""
        with self._lock:
            self._listeners.append(listener)
            listener(self._now)

    def set(self, now: datetime) -> datetime:
        """Move the clock (forward only: the platforms' past does not change)."""
        with self._lock:
            if now < self._now:
                raise ValueError(f"the clock moves forward only: {now.isoformat()} < {self._now.isoformat()}")
            self._now = now
            if self._state_path is not None:
                self._state_path.write_text(json.dumps({"now": now.isoformat()}))
            for listener in self._listeners:
                listener(now)
            return now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            return self.set(self._now + delta)
