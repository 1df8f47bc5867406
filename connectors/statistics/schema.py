"""The Arrow schema the statistics connector lands in the raw zone, declared here, never inferred.

One row is one enterprise in one release (``YYYYMM`` or a revision ``YYYYMM_rN``). Every row carries its
release's ``period``, ``revision`` and ``published_at``, so a revision that lands the full month again is told
apart from the release it replaces (staging keeps the newest revision of each period).

Figures are decimals (the bureau reports 10k CNY and tonnes to 0.01; decimals keep ``12,345.67`` exact through
the lake). A blank figure is zero, ``-`` is "not reported" and lands as null.

A column the spec does not declare (schema drift) is landed, not dropped: its cells, as written, in
``extra_fields`` (JSON text keyed by the header as written). A declared column a release lacks (landed only when
the schema change is accepted) lands as null.
"""

from __future__ import annotations

import pyarrow as pa

__all__ = ["FIGURE", "KEY_ENTERPRISE_SCHEMA"]

FIGURE = pa.decimal128(20, 4)

KEY_ENTERPRISE_SCHEMA = pa.schema(
    [
        pa.field("release", pa.string(), nullable=False),  # the drop folder: 202610 or 202610_r1
        pa.field("period", pa.string(), nullable=False),  # YYYYMM
        pa.field("revision", pa.int16(), nullable=False),  # 0 for the first release of a month
        pa.field("published_at", pa.timestamp("us", tz="UTC"), nullable=False),  # the manifest's
        pa.field("manifest_sha256", pa.string(), nullable=False),
        pa.field("source_row", pa.int32(), nullable=False),  # data row in the CSV, from 1
        pa.field("uscc", pa.string(), nullable=False),  # normalised, check character verified
        pa.field("enterprise_name", pa.string()),
        pa.field("street_name", pa.string()),  # as written: 东华门街道, 东华门, or a street that no longer exists
        pa.field("street_code", pa.string()),  # resolved; null when the name is unknown (staging decides)
        pa.field("industry_code", pa.string()),  # GB/T 4754
        pa.field("revenue_wan", FIGURE),  # year to date, 10k CNY
        pa.field("profit_wan", FIGURE),
        pa.field("tax_wan", FIGURE),
        pa.field("employees", pa.int64()),  # at the end of the month
        pa.field("energy_tce", FIGURE),  # year to date, tonnes of standard coal
        pa.field("period_label", pa.string()),  # 报告期 as written: 2026年10月
        pa.field("extra_fields", pa.string()),  # schema drift: undeclared columns as JSON text {header: cell}
    ],
    metadata={"source": "statistics bureau drop: key_enterprises_YYYYMM.csv (verified against the .xlsx)",
              "grain": "one enterprise per release"},
)
