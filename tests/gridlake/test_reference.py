from __future__ import annotations

import pytest

from gridlake.reference import communities, resolve_street, streets


def test_the_district_has_17_streets_and_169_communities_each_in_a_street() -> None:
    assert len(streets()) == 17
    assert len(communities()) == 169
    codes = {street.street_code for street in streets()}
    assert all(community.street_code in codes for community in communities())
    assert all(community.community_code.startswith(community.street_code) for community in communities())


@pytest.mark.parametrize("written", ["110101001", "东华门街道", "东华门", " 东华门 ", "１１０１０１００１"])
def test_a_street_resolves_from_code_full_name_or_short_name(written: str) -> None:
    assert resolve_street(written) == "110101001"


@pytest.mark.parametrize("written", [None, "", "110102001", "朝阳区", "东华"])
def test_unknown_streets_do_not_resolve(written: str | None) -> None:
    assert resolve_street(written) is None
