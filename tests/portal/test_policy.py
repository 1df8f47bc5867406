"""The policy file is checked whole when it loads: a mistake in it stops the service at start with a message naming
the role, the dataset and what is wrong, not a query at run time; and the shipped policies fit the published data."""

from __future__ import annotations

from pathlib import Path

import pytest

from expectations import DATASETS
from gridlake.settings import Settings
from gridlake.shared import SharedZone
from portal.policy import PolicyError, default_policies, load_policies


def _load(tmp_path: Path, text: str):
    path = tmp_path / "policies.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policies(path)


def _street_office(rows: str) -> str:
    return f"""
never: [phone]
roles:
  street_office:
    title: 街道办事处
    requires: [street_code]
    datasets:
      hotline_requests: {{rows: "{rows}"}}
"""


def test_a_valid_file_loads_with_its_conditions_written_for_a_user(tmp_path: Path) -> None:
    policies = _load(tmp_path, _street_office("street_code = {street_code}"))
    user = policies.user("甲", "street_office", {"street_code": "110101001"})
    assert user.rule("hotline_requests").condition(user.attributes) == "street_code = '110101001'"
    assert policies.never == frozenset({"phone"})


def test_a_dataset_that_is_not_shared_is_refused(tmp_path: Path) -> None:
    text = "roles:\n  centre:\n    datasets:\n      complaints_raw: {}\n"
    with pytest.raises(PolicyError, match=r"role centre: 'complaints_raw' is not a shared dataset"):
        _load(tmp_path, text)


@pytest.mark.parametrize(("rows", "why"), [
    ("select * from hotline_requests", "rows must be one condition"),
    ("street_code in (select street_code from city_events)", "rows must be one condition"),
    ("exists (select 1 from city_events)", "rows must be one condition"),
    ("street_code = {street_code} union select 1", "rows must be one condition"),
    ("street_code = {street_code}; drop table source", "rows must be one condition"),
    ("drop table source", "rows must be one condition"),
    ("street_code = = {street_code}", "rows is not a SQL condition"),
    ("street_code = 'unclosed", "rows is not a SQL condition"),
])
def test_a_row_rule_that_is_not_one_condition_is_refused(tmp_path: Path, rows: str, why: str) -> None:
    with pytest.raises(PolicyError, match=rf"role street_office, hotline_requests: {why}"):
        _load(tmp_path, _street_office(rows))


def test_other_mistakes_are_refused_with_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"unknown keys \['mask_columns'\]"):
        _load(tmp_path, "roles:\n  centre:\n    datasets:\n      hotline_requests: {mask_columns: [x]}\n")
    with pytest.raises(PolicyError, match="datasets must be 'all' or a mapping"):
        _load(tmp_path, "roles:\n  centre:\n    datasets: [hotline_requests]\n")
    with pytest.raises(PolicyError, match="no roles"):
        _load(tmp_path, "never: [phone]\n")


def test_a_user_lacking_an_attribute_its_role_requires_is_refused(tmp_path: Path) -> None:
    policies = _load(tmp_path, _street_office("street_code = {street_code}"))
    with pytest.raises(PolicyError, match="needs the attribute"):
        policies.user("甲", "street_office", {})
    with pytest.raises(PolicyError, match="unknown role 'nobody'"):
        policies.user("甲", "nobody")


def test_an_attribute_cannot_widen_a_condition(tmp_path: Path) -> None:
    """An attribute is written in as a literal: a quote in it is data, not SQL."""
    policies = _load(tmp_path, _street_office("street_code = {street_code}"))
    user = policies.user("甲", "street_office", {"street_code": "x' or '1'='1"})
    assert user.rule("hotline_requests").condition(user.attributes) == "street_code = 'x'' or ''1''=''1'"


def test_the_shipped_policies_name_shared_datasets_and_columns_they_hold(portal_home: Settings) -> None:
    """Every role's datasets are shared ones, and every masked column is one the published dataset holds: a
    misspelt mask would hide nothing."""
    zone = SharedZone.default(portal_home)
    policies = default_policies()
    assert {"centre", "street_office", "urban_management", "environment", "credit_office",
            "statistics_bureau"} <= set(policies.roles)
    for role in policies.roles.values():
        for dataset, rule in role.datasets.items():
            assert dataset in DATASETS
            columns = set(zone.read(dataset).column_names)
            assert set(rule.mask) <= columns, (role.name, dataset, set(rule.mask) - columns)
