"""Where a generated dataset lives and what it says about itself.

A dataset is one folder, ``$GRIDLAKE_HOME/sim/<name>/``:

    meta.json          how it was generated (seed, scale, days, span) and row counts per platform
    truth.json         the ground truth: what was injected (planted patterns, dirty records by kind)
    state.json         the simulators' clock, persisted so that a restart keeps "now"
    hotline.sqlite     the hotline's work-order versions (simulators.store)
    enforcement.sqlite the enforcement platform's case versions
    credit.sqlite      the credit platform's subject and record versions
    pgdata/            the fusion platform's PostgreSQL data directory (database citymgmt)
    statistics/        the statistics bureau's releases, published into drop/ as the clock passes them
    drop/              the statistics drop folder the connector reads
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gridlake.settings import get_settings

__all__ = ["Dataset"]


@dataclass(frozen=True)
class Dataset:
    root: Path

    @classmethod
    def named(cls, name: str = "default", *, home: Path | None = None) -> "Dataset":
        base = (home / "sim") if home is not None else get_settings().sim_root
        return cls(base / name)

    @property
    def meta_path(self) -> Path:
        return self.root / "meta.json"

    @property
    def truth_path(self) -> Path:
        return self.root / "truth.json"

    @property
    def state_path(self) -> Path:
        return self.root / "state.json"

    def store_path(self, platform: str) -> Path:
        return self.root / f"{platform}.sqlite"

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def statistics_dir(self) -> Path:
        return self.root / "statistics"

    @property
    def drop_dir(self) -> Path:
        return self.root / "drop"

    @property
    def exists(self) -> bool:
        """True once generation finished (meta.json is written last)."""
        return self.meta_path.exists()

    def meta(self) -> dict[str, Any]:
        return json.loads(self.meta_path.read_text(encoding="utf-8"))

    def truth(self) -> dict[str, Any]:
        return json.loads(self.truth_path.read_text(encoding="utf-8"))

    def end(self) -> datetime:
        """The end of the generated span: the simulators' "now" when first served."""
        return datetime.fromisoformat(self.meta()["end"])
