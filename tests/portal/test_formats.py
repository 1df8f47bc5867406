"""Every answer the service gives has a JSON, CSV and Parquet form, whatever the columns hold: the ledger's lists of
months (dates inside lists), and intervals a caller's query makes (``max(t) - min(t)``), which Arrow can write to
neither CSV nor Parquet: they come as DuckDB writes them."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet"])
def test_a_dataset_with_lists_of_dates_downloads(service, fmt: str) -> None:
    with service.client("centre") as client:
        answer = client.get("/api/datasets/problem_ledger/rows", params={"format": fmt, "limit": 50})
    assert answer.status_code == 200, answer.text
    if fmt == "json":
        months = [month for row in answer.json()["rows"] for month in row["channel_months"]]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
        months = [month for row in rows for month in json.loads(row["channel_months"])]
    else:
        months = [month.isoformat() for row in pq.read_table(io.BytesIO(answer.content)).to_pylist()
                  for month in row["channel_months"]]
    assert months and all(len(month) == 10 and month.endswith("-01") for month in months)


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet"])
def test_an_interval_comes_as_duckdb_writes_it(service, fmt: str) -> None:
    sql = ("select interval '1 year 2 months 3 days' + interval '4 hours 5 minutes 6.5 seconds' as span, "
           "interval '-90 seconds' as back, street_code from hotline_requests limit 1")
    with service.client("street") as client:
        answer = client.post("/api/query", json={"sql": sql, "format": fmt})
    assert answer.status_code == 200, answer.text
    if fmt == "json":
        row = answer.json()["rows"][0]
    elif fmt == "csv":
        row = next(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    else:
        row = pq.read_table(io.BytesIO(answer.content)).to_pylist()[0]
    assert (row["span"], row["back"]) == ("1 year 2 months 3 days 04:05:06.5", "-00:01:30")
