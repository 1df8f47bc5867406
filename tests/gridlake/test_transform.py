"""gridlake.transform: the settings reach dbt as vars, every var the project reads is given, and the Spark build
knows which raw entities have landed nothing yet."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gridlake.settings import Settings
from gridlake.transform import PROJECT_DIR, dbt_vars, unlanded_sources


def test_a_setting_changed_in_the_environment_reaches_dbt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDLAKE_THRESHOLDS__FUME_MG_M3", "1.2")
    monkeypatch.setenv("GRIDLAKE_HOTLINE__NORMAL__RESOLVE", "P10D")
    monkeypatch.setenv("GRIDLAKE_THRESHOLDS__OFFLINE_GAP", "PT90M")
    given = dbt_vars(Settings())
    assert given["threshold_fume_mg_m3"] == 1.2
    assert given["resolve_hours_normal"] == 240 and given["respond_hours_urgent"] == 2
    assert given["weight_resolution"] == 0.4 and given["stuck_sensor_hours"] == 6
    assert given["offline_gap_minutes"] == 90 and "threshold_offline_gap" not in given


def test_every_var_the_project_reads_is_given() -> None:
    used = set()
    for path in [*PROJECT_DIR.rglob("*.sql"), *PROJECT_DIR.rglob("*.yml")]:
        if "target" in path.parts:
            continue
        used |= set(re.findall(r"""var\(\s*['"]([a-z0-9_]+)['"]""", path.read_text(encoding="utf-8")))
    assert used, "the project reads no var: the pattern above is wrong"
    # spark_unlanded_sources: run_dbt gives it on Spark only, from the lake (test_unlanded_sources_...)
    assert used - set(dbt_vars(Settings())) - {"spark_unlanded_sources"} == set()


def test_unlanded_sources_are_the_entities_with_only_their_declared_schema(tmp_path: Path) -> None:
    """What the Spark build needs for an entity Spark cannot read yet: its declared columns in Spark's types; an
    entity with a landed file is read from its files."""
    schema = pa.schema([("request_id", pa.string()), ("received_at", pa.timestamp("us", tz="UTC")),
                        ("amount", pa.decimal128(8, 1)), ("tags", pa.list_(pa.string()))])
    for entity in ("requests", "services"):
        folder = tmp_path / "raw" / "hotline" / entity
        folder.mkdir(parents=True)
        pq.write_table(schema.empty_table(), folder / "_schema.parquet")
    landed = tmp_path / "raw" / "hotline" / "services" / "ingest_date=2026-11-20"
    landed.mkdir()
    pq.write_table(schema.empty_table(), landed / "batch-0001.parquet")
    assert unlanded_sources(tmp_path) == {"hotline.requests": [
        ["request_id", "string"], ["received_at", "timestamp"], ["amount", "decimal(8,1)"], ["tags", "array<string>"],
    ]}
