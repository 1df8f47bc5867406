"""gridlake.transform: the settings reach dbt as vars, and every var the project reads is given."""

from __future__ import annotations

import re

import pytest

from gridlake.settings import Settings
from gridlake.transform import PROJECT_DIR, dbt_vars


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
    assert used - set(dbt_vars(Settings())) == set()
