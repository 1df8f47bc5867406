"""grid_case_lifecycle: one grid case and its seven-step loop, durations and on-time verdict.

Its own rules: durations are never negative (a dirty loop has none rather than a negative one); the closure
limit is the sum of the three limits; the on-time verdict exists only for a timed case and is decided for every
case counted in the on-time rate; is_returned agrees with the return count.
"""

from __future__ import annotations

from collections.abc import Mapping

from expectations import reference
from expectations.builders import between, common, in_set, not_null, rows
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = ["SPEC", "checks"]

SPEC = DatasetSpec(
    name="grid_case_lifecycle",
    key=("case_id",),
    depends_on=(),
    # closure_deadline lies ahead for an open case by design
    time_columns=("reported_at", "reported_date", "collect_at", "file_at", "dispatch_at", "handle_at", "feedback_at",
                  "verify_close_at", "evaluate_at", "last_return_at", "voided_at", "updated_at", "data_as_of"),
    freshness_column="data_as_of",
)

DURATIONS = ("file_hours", "dispatch_hours", "handle_hours", "feedback_hours", "verify_close_hours",
             "evaluate_hours", "closure_hours")


def checks(context: GateContext, columns: Mapping[str, str]) -> list[Check]:
    return [
        *common(SPEC, context, columns),
        in_set(SPEC, "case_origin", ("inspector", "video", "hotline", "media", "sensor", "superior"),
               list_name="案件来源", name="in_set:case_origin"),
        in_set(SPEC, "case_kind", ("component", "event"), list_name="案件类型 (component, event)",
               name="in_set:case_kind"),
        not_null(SPEC, "case_kind"),
        not_null(SPEC, "reported_at"),
        in_set(SPEC, "street_code", reference.street_codes(), list_name="东城区 17 个街道"),
        in_set(SPEC, "community_code", reference.community_codes(), list_name="东城区 169 个社区"),
        *(between(SPEC, column, min_value=0.0, name=f"duration_not_negative:{column}", label=f"环节耗时 {column}")
          for column in DURATIONS),
        rows("closure_limit_is_sum",
             "select case_id, dispatch_limit_hours, handle_limit_hours, verify_limit_hours, closure_limit_hours "
             "from {batch} where not (least(dispatch_limit_hours, handle_limit_hours, verify_limit_hours) > 0 "
             "and abs(closure_limit_hours - (dispatch_limit_hours + handle_limit_hours + verify_limit_hours)) "
             "<= 1e-9)",
             title="结案时限 = 派遣 + 处置 + 核查时限（均为正）", failure="结案时限与各环节时限不符：{n} 行",
             column="closure_limit_hours"),
        rows("on_time_verdict",
             "select case_id, is_counted_in_durations, is_counted_in_on_time_rate, is_closed_on_time from {batch} "
             "where (is_counted_in_on_time_rate and is_closed_on_time is null) "
             "or (is_closed_on_time is not null and not is_counted_in_durations)",
             title="计入按时结案率的案件都有结论，有结论的案件都计时", failure="按时结案结论与计入规则不符：{n} 行",
             column="is_closed_on_time"),
        rows("returned_flag",
             "select case_id, is_returned, return_count from {batch} "
             "where return_count < 0 or is_returned is distinct from (return_count > 0)",
             title="is_returned 与退回次数一致", failure="退回标志与退回次数不符：{n} 行", column="is_returned"),
    ]
