"""The service answers a street office's query with its street's rows only."""

from __future__ import annotations

from tests.portal.conftest import STREET


def test_a_street_office_reads_its_street(service) -> None:
    with service.client("street") as client:
        answer = client.post("/api/query", json={"sql": "select distinct street_code from hotline_requests"})
    assert answer.status_code == 200, answer.text
    assert [row["street_code"] for row in answer.json()["rows"]] == [STREET]
