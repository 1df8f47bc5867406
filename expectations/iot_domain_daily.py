"""iot_domain_daily: a sensor or position domain, a street and a Beijing day.

Its own rules: coverage is the share of the street's registered places that reported (0..1, null without
registered places); the counts nest (valid readings within readings, exceedances within valid readings, severe
within exceedances, reporting places within registered ones); and, as the mart promises, a street with
registered places has a row on every day of its domain's span, reporting or not.
"""

from __future__ import annotations

from collections.abc import Mapping

from expectations import reference
from expectations.builders import between, common, in_set, not_null, rows
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = ["SPEC", "checks"]

SPEC = DatasetSpec(
    name="iot_domain_daily",
    key=("domain_day_key",),
    depends_on=(),
    time_columns=("activity_date",),
    freshness_column="activity_date",
)

_COUNTS = ("readings", "valid_readings", "spike_readings", "stuck_readings", "exceedance_readings",
           "exceedance_episodes", "severe_readings", "severe_episodes", "offline_gaps", "sensors_reporting",
           "stuck_sensors", "sensors_registered", "registered_sensors_reporting", "gps_fixes", "units_active")


def checks(context: GateContext, columns: Mapping[str, str]) -> list[Check]:
    negative = " or ".join(f"{name} < 0" for name in _COUNTS if name in columns)
    return [
        *common(SPEC, context, columns),
        rows("key_matches_grain",
             "select domain_day_key, domain_code, street_code, activity_date from {batch} where domain_day_key is "
             "distinct from concat_ws('|', domain_code, coalesce(street_code, 'unresolved'), "
             "strftime(activity_date, '%Y-%m-%d'))",
             title="domain_day_key = domain_code|street_code|activity_date", failure="主键与粒度列不一致：{n} 行",
             column="domain_day_key"),
        in_set(SPEC, "domain_code", reference.domain_codes(), list_name="业务领域（seed domains）"),
        not_null(SPEC, "domain_code"),
        in_set(SPEC, "street_code", reference.street_codes(), list_name="东城区 17 个街道"),
        between(SPEC, "coverage_rate", min_value=0.0, max_value=1.0, name="rate_between:coverage_rate",
                label="覆盖率 coverage_rate"),
        rows("rate_consistent:coverage_rate",
             "select domain_day_key, registered_sensors_reporting, sensors_registered, coverage_rate from {batch} "
             "where coverage_rate is distinct from case when sensors_registered > 0 "
             "then cast(registered_sensors_reporting as double) / sensors_registered end "
             "and not abs(coverage_rate - cast(registered_sensors_reporting as double) / sensors_registered) "
             "<= 1e-9",
             title="覆盖率 = 有读数的登记点位 / 登记点位（无登记点位时为空）",
             failure="覆盖率与其分子分母不符：{n} 行", column="coverage_rate"),
        rows("counts_consistent",
             "select domain_day_key, readings, valid_readings, exceedance_readings, severe_readings, "
             "sensors_registered, registered_sensors_reporting from {batch} where valid_readings > readings "
             "or exceedance_readings > valid_readings or severe_readings > exceedance_readings "
             "or registered_sensors_reporting > sensors_registered or stuck_sensors > sensors_reporting"
             + (f" or {negative}" if negative else ""),
             title="计数非负且逐层包含（有效 ≤ 读数，超标 ≤ 有效，严重 ≤ 超标，有读数的登记点位 ≤ 登记点位）",
             failure="计数之间不自洽：{n} 行"),
        rows("no_missing_day",
             "with span as (select domain_code, min(activity_date) as first_day, max(activity_date) as last_day "
             "from {batch} group by all), registered as (select distinct domain_code, street_code from {batch} "
             "where sensors_registered > 0), days as (select registered.domain_code, registered.street_code, "
             "cast(unnest(generate_series(span.first_day, span.last_day, interval 1 day)) as date) as activity_date "
             "from registered join span on span.domain_code = registered.domain_code) "
             "select days.domain_code, days.street_code, days.activity_date from days "
             "anti join (select * from {batch}) as present "
             "on present.domain_code = days.domain_code and present.street_code = days.street_code "
             "and present.activity_date = days.activity_date order by 1, 2, 3",
             title="有登记点位的街道在其领域的每一天都有一行（有无读数）",
             failure="缺少日期：{n} 个领域·街道·日", column="activity_date"),
    ]
