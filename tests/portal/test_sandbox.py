"""The engine beneath the queries is a sandbox of its own: a query the SQL guard let through by mistake (the guard is
taken out of the way here) still cannot read a file, change the engine's settings or see a dataset its query did not
register - the engine is shared by every query, so this is what keeps them apart."""

from __future__ import annotations

import pytest

import portal.access
from portal.access import Access
from portal.policy import default_policies
from portal.sql import QueryRefused
from tests.portal.conftest import STREET


@pytest.fixture
def unguarded(portal_home, monkeypatch: pytest.MonkeyPatch) -> Access:
    """An Access whose guard lets anything through, saying it reads hotline_requests and the datasets of the role
    the text names."""
    monkeypatch.setattr(portal.access, "check_query", lambda sql, allowed, *, max_chars: (
        None, {"hotline_requests"} | {name for name in allowed if name in sql}))
    return Access(portal_home, default_policies())


@pytest.mark.parametrize(("reads", "error"), [
    ("read_csv('/etc/passwd')", "Permission Error"),
    ("read_parquet('{published}')", "Permission Error"),  # a real file of the shared zone, all streets in it
    ("seasonal_patterns", "Catalog Error"),  # not the street office's
])
def test_the_engine_refuses_what_the_guard_missed(unguarded: Access, portal_home, reads: str, error: str) -> None:
    published = next((portal_home.home / "shared" / "hotline_requests").resolve().glob("v=*/*.parquet"))
    centre = default_policies().user("centre", "centre")
    unguarded.query(centre, "select count(*) as n from seasonal_patterns")  # read by another user just before
    street = default_policies().user("street", "street_office", {"street_code": STREET})
    with pytest.raises(QueryRefused) as refused:
        unguarded.query(street, f"select * from {reads.format(published=published)}")
    assert refused.value.code == "execution_error" and error in refused.value.reason


def test_the_engines_settings_stay_locked(unguarded: Access) -> None:
    street = default_policies().user("street", "street_office", {"street_code": STREET})
    answer = unguarded.query(street, "select current_setting('enable_external_access') as files, "
                                     "current_setting('lock_configuration') as locked, count(*) as orders, "
                                     "count(distinct street_code) as streets from hotline_requests")
    assert answer.table.to_pylist()[0] | {"orders": None} == {"files": False, "locked": True, "orders": None,
                                                              "streets": 1}
