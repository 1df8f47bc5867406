from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from gridlake.settings import Settings, repo_root


def test_defaults_are_the_districts_working_values() -> None:
    settings = Settings()
    assert settings.home == repo_root() / "var"
    assert settings.hotline.for_urgency("normal").resolve == timedelta(days=7)
    assert settings.hotline.for_urgency("urgent").respond == timedelta(hours=2)
    assert settings.thresholds.fume_mg_m3 == 1.0
    assert settings.kpi.response + settings.kpi.resolution + settings.kpi.satisfaction == pytest.approx(1.0)
    assert settings.citymgmt_lookback >= timedelta(minutes=10)


def test_environment_overrides_nested_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GRIDLAKE_HOME", str(tmp_path))
    monkeypatch.setenv("GRIDLAKE_THRESHOLDS__FUME_MG_M3", "1.2")
    monkeypatch.setenv("GRIDLAKE_KPI__BASICALLY_SATISFIED", "0.8")
    settings = Settings()
    assert settings.home == tmp_path
    assert settings.sim_root == tmp_path / "sim"
    assert settings.thresholds.fume_mg_m3 == 1.2
    assert settings.kpi.basically_satisfied == 0.8


def test_an_unknown_urgency_is_an_error() -> None:
    with pytest.raises(KeyError, match="emergency"):
        Settings().hotline.for_urgency("emergency")
