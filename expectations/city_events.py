"""city_events: one event of any of the nine domains (order, grid case, enforcement case, exceedance episode,
violation) with its domain, place, severity, status and links.

Its own rules: the key is the kind and the platform's id; every hotline order and every grid case of the
shared datasets is an event, and no other (reconciled both ways with hotline_requests and grid_case_lifecycle);
every linked event is an event of the dataset; the linked count is the length of the four lists.
"""

from __future__ import annotations

from collections.abc import Mapping

from expectations import reference
from expectations.builders import common, ident, in_set, not_null, rows
from expectations.spec import Check, DatasetSpec, GateContext

__all__ = ["SPEC", "checks"]

SPEC = DatasetSpec(
    name="city_events",
    key=("event_id",),
    depends_on=("hotline_requests", "grid_case_lifecycle"),
    time_columns=("occurred_at", "occurred_date", "closed_at"),
    freshness_column="occurred_at",
)

_LINKS = ("linked_hotline_order_ids", "linked_grid_case_ids", "linked_enforcement_case_ids", "linked_exceedance_ids",
          "linked_violation_ids")


def _same_ids(kind: str, dataset: str, key: str) -> Check:
    return rows(
        f"events_match:{dataset}",
        f"select coalesce(events.source_id, source.{key}) as source_id, events.event_id, "
        f"source.{key} is not null as in_{dataset} from (select event_id, source_id from {{batch}} "
        f"where event_kind = '{kind}') as events full outer join {ident(dataset)} as source "
        f"on source.{key} = events.source_id where events.event_id is null or source.{key} is null",
        reads=(dataset,), column="source_id",
        title=f"{dataset} 的每一行都是一个 {kind} 事件，且没有别的 {kind} 事件",
        failure=f"{kind} 事件与 {dataset} 不一一对应：{{n}} 个",
    )


def checks(context: GateContext, columns: Mapping[str, str]) -> list[Check]:
    linked = " + ".join(f"len({name})" for name in _LINKS)
    every_link = " union all ".join(
        f"select event_id, '{name}' as list, unnest({name}) as linked_id from {{batch}}" for name in _LINKS
    )
    return [
        *common(SPEC, context, columns),
        rows("key_matches_grain",
             "select event_id, event_kind, source_id from {batch} "
             "where event_id is distinct from event_kind || ':' || source_id",
             title="event_id = event_kind:source_id", failure="主键与粒度列不一致：{n} 行", column="event_id"),
        in_set(SPEC, "event_kind",
               ("hotline_order", "grid_case", "enforcement_case", "sensor_exceedance", "parking_violation"),
               list_name="事件类型", name="in_set:event_kind"),
        in_set(SPEC, "severity", ("low", "medium", "high"), list_name="严重程度 (low, medium, high)",
               name="in_set:severity"),
        not_null(SPEC, "severity"),
        in_set(SPEC, "status_group", ("open", "closed", "cancelled", "observed"), list_name="状态组",
               name="in_set:status_group"),
        in_set(SPEC, "domain_code", reference.domain_codes(), list_name="业务领域（seed domains）"),
        rows("domain_known",
             "select event_id, event_kind, domain_code from {batch} "
             "where domain_code is null and event_kind <> 'hotline_order'",
             title="除热线工单外，每个事件都有业务领域", failure="事件缺少业务领域：{n} 行", column="domain_code"),
        in_set(SPEC, "enforcement_matter_code", reference.matter_codes(), list_name="30 项执法事项"),
        in_set(SPEC, "street_code", reference.street_codes(), list_name="东城区 17 个街道"),
        in_set(SPEC, "community_code", reference.community_codes(), list_name="东城区 169 个社区"),
        rows("occurred_date_of_time",
             "select event_id, occurred_at, occurred_date from {batch} where occurred_date is distinct from "
             "cast(occurred_at at time zone 'Asia/Shanghai' as date)",
             title="occurred_date 为 occurred_at 的北京日期", failure="发生日期与发生时间不符：{n} 行",
             column="occurred_date"),
        rows("linked_count",
             f"select event_id, linked_event_count, {linked} as listed from {{batch}} "
             f"where linked_event_count is distinct from {linked}",
             title="linked_event_count = 五个关联列表的长度之和", failure="关联数与关联列表不符：{n} 行",
             column="linked_event_count"),
        rows("links_resolve",
             f"select links.event_id, links.list, links.linked_id from ({every_link}) as links "
             f"anti join (select * from {{batch}}) as events on events.event_id = links.linked_id",
             title="关联的每个事件都在本数据集中", failure="关联到不存在的事件：{n} 处"),
        _same_ids("hotline_order", "hotline_requests", "request_id"),
        _same_ids("grid_case", "grid_case_lifecycle", "case_id"),
    ]
