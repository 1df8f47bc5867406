"""bench/marts.py's hand-written side: the KPI and sensor marts as one DuckDB query each, straight over the raw
Parquet files the dbt sources read (and the seeds' CSV files), as a data engineer would write them without dbt.

Each query computes what dbt_project's models compute from staging to the mart, with the settings in force
substituted where the models read a var (as dbt renders them): the latest version of each record among the raw
batches, soft deletes left out, the spike, stuck-run and offline-gap flags over each sensor's series, the places
resolved against the registers and the unit grid, the hotline orders' final unit, deadlines and repeat rule. What
it leaves out is what dbt's build of the marts carries beyond them: the staging and intermediate tables and their
other columns (names, communities, grids, enterprises, the hotline's service groups), the events that are located
but that no mart here reads (work orders, grid and enforcement cases in int_points_located), and the incremental
machinery (a full build computes what an incremental run keeps). Two steps are written more directly, to the same
result: a restaurant's street (dbt: int_points_located → int_places_located, of which only the street as served,
the served community's and the nearest cell's reach a restaurant) and the nearest cell (arg_min over the pairs
rather than a window over them, ties by grid code as in dbt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gridlake.settings import repo_root

__all__ = ["queries"]

_FULL_WIDTH = ("０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ"
               "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ")
_HALF_WIDTH = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ZONE = "'Asia/Shanghai'"


def _norm(expr: str) -> str:
    """A code made comparable (macros/normalise.sql): half-width, no spaces, upper case, '' as null."""
    return (f"nullif(upper(replace(replace(translate({expr}, '{_FULL_WIDTH}', '{_HALF_WIDTH}'), ' ', ''), '　', '')),"
            " '')")


def _local_date(expr: str) -> str:
    return f"cast(({expr} at time zone {_ZONE}) as date)"


class _Sql:
    """The pieces the queries share, for one lake and one set of settings (gridlake.transform.dbt_vars)."""

    def __init__(self, lake: Path, given: dict[str, Any]) -> None:
        self.lake = lake
        self.v = given  # rendered with str(), as Jinja renders dbt's vars: 0.95 is a decimal literal, as in dbt
        self.reference = repo_root() / "gridlake" / "reference_data"

    def raw(self, platform: str, entity: str) -> str:
        return f"read_parquet('{self.lake}/raw/{platform}/{entity}/**/*.parquet', union_by_name = true)"

    def latest(self, entity: str, key: str, columns: str) -> str:
        """The live latest version of each key of a citymgmt entity (macros/latest_versions.sql)."""
        return f"""
            select {columns}
            from {self.raw('citymgmt', entity)}
            qualify row_number() over (
                partition by {key} order by updated_at desc, _ingested_at desc, _batch_id desc) = 1
        """

    def names(self) -> str:
        """CTEs street_names and community_names: every spelling of a street and a community (int_*_names)."""
        streets = f"read_csv('{self.reference}/dongcheng_streets.csv', header = true, all_varchar = true)"
        communities = f"read_csv('{self.reference}/dongcheng_communities.csv', header = true, all_varchar = true)"
        return f"""
        street_names as (
            select {_norm('spelling')} as street_spelling, street_code, spelling_kind
            from (
                select street_code, street_code as spelling, 'code' as spelling_kind, 1 as preference from {streets}
                union all select street_code, street_name, 'name', 2 from {streets}
                union all select street_code, short_name, 'short_name', 3 from {streets}
                union all select street_code, street_name || '办事处', 'office_name', 4 from {streets}
            )
            where {_norm('spelling')} is not null
            qualify row_number() over (partition by {_norm('spelling')} order by preference) = 1
        ),
        community_names as (
            select {_norm('spelling')} as community_spelling, community_code, street_code
            from (
                select community_code, street_code, community_code as spelling, 1 as preference from {communities}
                union all select community_code, street_code, community_name, 2 from {communities}
                union all select community_code, street_code, regexp_replace(community_name, '居委会$', ''), 3
                    from {communities}
            )
            where {_norm('spelling')} is not null
            qualify row_number() over (partition by {_norm('spelling')} order by preference) = 1
        )"""

    # --- the hotline -----------------------------------------------------------------------------------------

    def hours(self, kind: str, urgency: str) -> str:
        cases = " ".join(f"when '{level}' then cast({self.v[f'{kind}_hours_{level}']} as double)"
                         for level in ("urgent", "utility", "normal", "complex"))
        return f"case {urgency} {cases} end"

    def orders(self) -> str:
        """CTEs up to `orders`: each work order's latest version with its final unit, deadlines and flags
        (stg_hotline__requests, int_hotline_dispatches_unnested, int_hotline_requests_enriched), and
        `dispatches`: each dispatch with its unit resolved."""
        return f"""
        {self.names()},
        requests as (
            select
                service_request_id as request_id,
                {_norm('service_code')} as service_code,
                request_type,
                urgency,
                requested_datetime as received_at,
                updated_datetime as updated_at,
                responded_datetime as responded_at,
                resolved_datetime as resolved_at,
                dispatches,
                return_visit.visited_at as return_visited_at,
                return_visit.is_resolved as return_visit_resolved,
                return_visit.satisfaction as return_visit_satisfaction,
                repeat_of as repeat_of_request_id,
                complainant_phone_hash,
                coalesce(is_excluded, false) as is_excluded
            from {self.raw('hotline', 'requests')}
            qualify row_number() over (
                partition by service_request_id order by updated_datetime desc, _ingested_at desc) = 1
        ),
        dispatches as (
            select
                unnested.request_id,
                cast(unnested.dispatch_seq as integer) as dispatch_seq,
                nullif(lower(trim(unnested.dispatch.unit_type)), '') as unit_type,
                case
                    when lower(trim(unnested.dispatch.unit_type)) = 'street'
                        then coalesce(by_code.street_code, by_name.street_code, {_norm('unnested.dispatch.unit_code')})
                    else {_norm('unnested.dispatch.unit_code')}
                end as unit_code,
                unnested.dispatch.unit_name as unit_name,
                unnested.dispatch.dispatched_at as dispatched_at,
                unnested.dispatch.accepted_at as accepted_at,
                unnested.dispatch.returned_at is not null as is_returned
            from (
                select requests.request_id, dispatched.dispatch, dispatched.dispatch_seq
                from requests, unnest(requests.dispatches) with ordinality as dispatched (dispatch, dispatch_seq)
            ) as unnested
            left join street_names as by_code
                on by_code.street_spelling = {_norm('unnested.dispatch.unit_code')}
            left join street_names as by_name
                on by_name.street_spelling = {_norm('unnested.dispatch.unit_name')}
        ),
        flow as (
            select
                request_id,
                count(*) as dispatch_count,
                any_value(unit_code) filter (where is_final) as final_unit_code,
                any_value(unit_type) filter (where is_final) as final_unit_type,
                any_value(accepted_at) filter (where is_final) as final_accepted_at
            from (
                select
                    *,
                    coalesce(dispatch_seq = max(case when accepted_at is not null and not is_returned
                        then dispatch_seq end) over (partition by request_id), false) as is_final
                from dispatches
            )
            group by request_id
        ),
        previous_same as (
            select
                request_id,
                lag(received_at) over (
                    partition by complainant_phone_hash, service_code order by received_at, request_id
                ) as previous_received_at
            from requests
            where complainant_phone_hash is not null and service_code is not null
        ),
        deadlines as (
            select
                requests.*,
                requests.received_at + to_seconds({self.hours('respond', 'requests.urgency')} * 3600)
                    as respond_deadline,
                requests.received_at + to_seconds({self.hours('resolve', 'requests.urgency')} * 3600)
                    as resolve_deadline,
                max(requests.updated_at) over () as data_as_of,
                coalesce(flow.dispatch_count, 0) as dispatch_count,
                flow.final_unit_code,
                flow.final_unit_type,
                (epoch(flow.final_accepted_at) - epoch(requests.received_at)) / 3600 as transfer_hours,
                coalesce(requests.return_visit_satisfaction in ('satisfied', 'basically_satisfied', 'unsatisfied'),
                    false) as is_visit_answered,
                case
                    when requests.repeat_of_request_id is not null then true
                    when epoch(requests.received_at) - epoch(previous_same.previous_received_at)
                        <= {self.v['repeat_window_days']} * 86400 then true
                    else false
                end as is_repeat
            from requests
            left join flow on flow.request_id = requests.request_id
            left join previous_same on previous_same.request_id = requests.request_id
        ),
        orders as (
            select
                request_id,
                final_unit_type,
                final_unit_code,
                updated_at,
                return_visited_at,
                data_as_of,
                dispatch_count,
                transfer_hours,
                is_visit_answered,
                is_repeat,
                is_excluded,
                coalesce(responded_at <= respond_deadline, false) as is_responded_in_time,
                coalesce(coalesce(responded_at, data_as_of) > respond_deadline, false) as is_late_response,
                coalesce(coalesce(resolved_at, data_as_of) > resolve_deadline, false) as is_overdue,
                is_visit_answered and coalesce(return_visit_resolved, false) as is_visit_resolved,
                is_visit_answered and return_visit_satisfaction = 'satisfied' as is_visit_satisfied,
                is_visit_answered and return_visit_satisfaction = 'basically_satisfied' as is_visit_basically_satisfied,
                not is_excluded and coalesce(request_type not in ('consult', 'praise'), true) and not is_repeat
                    as is_counted_in_rates,
                {_local_date('resolve_deadline')} as deadline_date,
                date_trunc('month', {_local_date('resolve_deadline')})::date as period_month,
                coalesce(resolve_deadline <= data_as_of, false) as is_due
            from deadlines
        ),
        unit_names as (
            select unit_type, unit_code, arg_max(unit_name, dispatched_at) as unit_name
            from dispatches
            where unit_type in ('street', 'department')
            group by all
        )"""

    def unit_kpis(self, held: str, returned: str, period: list[str], answered: str) -> str:
        """CTEs held_counts, returned_counts, counts and scored: per unit and period, the volumes and counts, its
        returns, the rates, composite and rank (macros/hotline_kpis.sql); `held`: the due orders of streets and
        departments per period, `returned`: a row per return of a due order per period."""
        columns = ", ".join(period)
        w = {name: f"cast({self.v[f'weight_{name}']} as double)"
             for name in ("response", "resolution", "satisfaction", "basically_satisfied")}
        return f"""
        held_counts as (
            select
                final_unit_type as unit_type,
                final_unit_code as unit_code,
                {columns},
                count(*) as orders,
                count(*) filter (where is_counted_in_rates) as orders_counted,
                count(*) filter (where is_counted_in_rates and is_responded_in_time) as responded_in_time,
                count(*) filter (where is_counted_in_rates and {answered}) as visits_answered,
                count(*) filter (where is_counted_in_rates and {answered} and is_visit_resolved) as visits_resolved,
                count(*) filter (where is_counted_in_rates and {answered} and is_visit_satisfied) as visits_satisfied,
                count(*) filter (where is_counted_in_rates and {answered} and is_visit_basically_satisfied)
                    as visits_basically_satisfied,
                count(*) filter (where is_repeat) as repeat_orders,
                count(*) filter (where is_excluded) as excluded_orders,
                count(*) filter (where is_overdue) as overdue_orders,
                count(*) filter (where is_late_response) as late_response_orders,
                sum(dispatch_count) as dispatches,
                round(avg(transfer_hours), 6) as mean_transfer_hours
            from {held}
            group by all
        ),
        returned_counts as (
            select unit_type, unit_code, {columns}, count(*) as returns
            from {returned}
            group by all
        ),
        counts as (
            select
                coalesce(h.unit_type, r.unit_type) as unit_type,
                coalesce(h.unit_code, r.unit_code) as unit_code,
                {", ".join(f"coalesce(h.{c}, r.{c}) as {c}" for c in period)},
                coalesce(h.orders, 0) as orders,
                coalesce(h.orders_counted, 0) as orders_counted,
                coalesce(h.responded_in_time, 0) as responded_in_time,
                coalesce(h.visits_answered, 0) as visits_answered,
                coalesce(h.visits_resolved, 0) as visits_resolved,
                coalesce(h.visits_satisfied, 0) as visits_satisfied,
                coalesce(h.visits_basically_satisfied, 0) as visits_basically_satisfied,
                coalesce(h.repeat_orders, 0) as repeat_orders,
                coalesce(h.excluded_orders, 0) as excluded_orders,
                coalesce(h.overdue_orders, 0) as overdue_orders,
                coalesce(h.late_response_orders, 0) as late_response_orders,
                coalesce(h.dispatches, 0) as dispatches,
                coalesce(r.returns, 0) as returns,
                h.mean_transfer_hours
            from held_counts as h
            full outer join returned_counts as r
                on r.unit_type = h.unit_type and r.unit_code = h.unit_code
                {" ".join(f"and r.{c} = h.{c}" for c in period)}
        ),
        rated as (
            select
                *,
                cast(responded_in_time as double) / nullif(orders_counted, 0) as response_rate,
                cast(visits_resolved as double) / nullif(visits_answered, 0) as resolution_rate,
                (visits_satisfied + {w['basically_satisfied']} * visits_basically_satisfied)
                    / nullif(visits_answered, 0) as satisfaction_rate
            from counts
        ),
        scored as (
            select
                *,
                case when composite_score is not null then
                    row_number() over (
                        partition by unit_type, {period[0]}, composite_score is null
                        order by composite_score desc, round(resolution_rate, 9) desc, orders_counted desc, unit_code
                    )
                end as unit_rank,
                count(composite_score) over (partition by unit_type, {period[0]}) as units_ranked
            from (
                select
                    *,
                    round(100 * ({w['response']} * response_rate + {w['resolution']} * resolution_rate
                        + {w['satisfaction']} * satisfaction_rate)
                        / ({w['response']} + {w['resolution']} + {w['satisfaction']}), 6) as composite_score
                from rated
            )
        )"""

    @staticmethod
    def unit_columns(period: list[str]) -> str:
        """The marts' columns from unit_type to mean_transfer_hours, from `scored` joined to `unit_names`."""
        integers = ("orders", "orders_counted", "responded_in_time", "visits_answered", "visits_resolved",
                    "visits_satisfied", "visits_basically_satisfied")
        later = ("unit_rank", "units_ranked", "repeat_orders", "excluded_orders", "overdue_orders",
                 "late_response_orders", "dispatches", "returns")
        return ",\n".join([
            "scored.unit_type", "scored.unit_code", "unit_names.unit_name", *(f"scored.{c}" for c in period),
            *(f"cast(scored.{c} as integer) as {c}" for c in integers),
            "scored.response_rate", "scored.resolution_rate", "scored.satisfaction_rate", "scored.composite_score",
            *(f"cast(scored.{c} as integer) as {c}" for c in later), "scored.mean_transfer_hours"])

    def hotline_kpi_monthly(self) -> str:
        period = ["period_month"]
        return f"""
        with {self.orders()},
        held as (
            select * from orders where is_due and final_unit_type in ('street', 'department')
        ),
        returned as (
            select dispatches.unit_type, dispatches.unit_code, orders.period_month
            from dispatches
            inner join orders on orders.request_id = dispatches.request_id
            where dispatches.is_returned and orders.is_due and dispatches.unit_type in ('street', 'department')
        ),
        {self.unit_kpis('held', 'returned', period, 'is_visit_answered')}
        select
            concat_ws('|', scored.unit_type, scored.unit_code, strftime(scored.period_month, '%Y-%m'))
                as unit_month_key,
            {self.unit_columns(period)},
            last_day(scored.period_month) < (as_of.data_as_of at time zone {_ZONE})::date as is_period_complete,
            as_of.data_as_of
        from scored
        left join unit_names on unit_names.unit_type = scored.unit_type and unit_names.unit_code = scored.unit_code
        cross join (select max(data_as_of) as data_as_of from orders) as as_of
        """

    def hotline_kpi_daily(self) -> str:
        period = ["kpi_date", "period_month"]
        return f"""
        with {self.orders()},
        as_of as (
            select max(data_as_of) as data_as_of, {_local_date('max(data_as_of)')} as as_of_date from orders
        ),
        days as (
            select distinct
                months.period_month,
                cast(unnest(generate_series(
                    months.period_month, least(last_day(months.period_month), as_of.as_of_date), interval 1 day
                )) as date) as kpi_date
            from (select distinct period_month from orders where is_due) as months
            cross join as_of
        ),
        held as (
            select
                days.kpi_date,
                days.period_month,
                orders.* exclude (period_month),
                orders.is_visit_answered
                    and {_local_date('coalesce(orders.return_visited_at, orders.updated_at)')} <= days.kpi_date
                    as is_answered_by_then
            from days
            inner join orders
                on orders.period_month = days.period_month
                and orders.deadline_date <= days.kpi_date
            where orders.is_due and orders.final_unit_type in ('street', 'department')
        ),
        returned as (
            select dispatches.unit_type, dispatches.unit_code, days.kpi_date, days.period_month
            from dispatches
            inner join orders on orders.request_id = dispatches.request_id
            inner join days on days.period_month = orders.period_month and orders.deadline_date <= days.kpi_date
            where dispatches.is_returned and orders.is_due and dispatches.unit_type in ('street', 'department')
        ),
        {self.unit_kpis('held', 'returned', period, 'is_answered_by_then')}
        select
            concat_ws('|', scored.unit_type, scored.unit_code, strftime(scored.kpi_date, '%Y-%m-%d'))
                as unit_day_key,
            {self.unit_columns(period)},
            as_of.data_as_of
        from scored
        left join unit_names on unit_names.unit_type = scored.unit_type and unit_names.unit_code = scored.unit_code
        cross join as_of
        """

    # --- the sensors --------------------------------------------------------------------------------------------

    def x_m(self, lon: str) -> str:
        return (f"(cast({lon} as double) * 111195.0797"
                f" * cos(radians(({self.v['lat_min']} + {self.v['lat_max']}) / 2.0)))")

    @staticmethod
    def y_m(lat: str) -> str:
        return f"(cast({lat} as double) * 111195.0797)"

    def nearest_cell(self, points: str, key: str) -> str:
        """A select of `key` and the street_code of the nearest cell within the radius (ties: the lower grid code),
        for the rows of `points` (key, lat, lon): macros/places_locate.sql's bucketed join against `cells`."""
        radius = self.v["link_max_cell_distance_m"]
        return f"""
            select
                p.{key},
                arg_min(c.cell_street_code, (sqrt(pow(c.y_m - p.y_m, 2) + pow(c.x_m - p.x_m, 2)), c.grid_code))
                    as street_code
            from (
                select {key}, {self.x_m('lon')} as x_m, {self.y_m('lat')} as y_m,
                    cast(floor({self.x_m('lon')} / ({radius})) as bigint) as bucket_x,
                    cast(floor({self.y_m('lat')} / ({radius})) as bigint) as bucket_y
                from {points}
                where lat is not null and lon is not null and isfinite(lat) and isfinite(lon)
            ) as p
            inner join (
                select grid_code, street_code as cell_street_code,
                    {self.x_m('centroid_lon')} as x_m, {self.y_m('centroid_lat')} as y_m,
                    cast(floor({self.x_m('centroid_lon')} / ({radius})) as bigint) + nx.step as bucket_x,
                    cast(floor({self.y_m('centroid_lat')} / ({radius})) as bigint) + ny.step as bucket_y
                from cells
                cross join (values (-1), (0), (1)) as nx (step)
                cross join (values (-1), (0), (1)) as ny (step)
                where centroid_lat is not null and centroid_lon is not null
                    and isfinite(centroid_lat) and isfinite(centroid_lon)
            ) as c
                on c.bucket_x = p.bucket_x and c.bucket_y = p.bucket_y
            where sqrt(pow(c.y_m - p.y_m, 2) + pow(c.x_m - p.x_m, 2)) <= ({radius})
            group by p.{key}
        """

    @staticmethod
    def usable(expr: str, lat: str, lon: str) -> str:
        """A coordinate when the point is usable (macros/citymgmt_registers.sql), else null."""
        return (f"case when coalesce(not ({lat} = 0 and {lon} = 0) and {lat} between 39.40 and 41.10"
                f" and {lon} between 115.40 and 117.55, false) then cast({expr} as double) end")

    @staticmethod
    def series(series: str, at: str, key: str) -> str:
        """A sensor's series (macros/citymgmt_readings.sql: a reading without a sensor or a time is alone)."""
        return (f"partition by case when {series} is not null and {at} is not null then {series} end,"
                f" case when {series} is null or {at} is null then {key} end")

    def window(self, series: str, at: str, key: str) -> str:
        """The series in time order (readings at the same instant by key)."""
        return f"{self.series(series, at, key)} order by {at}, {key}"

    @staticmethod
    def live_with_neighbours(latest: str, window: str, at: str, neighbours: dict[str, str]) -> str:
        """The live rows of a latest-version select, each with its series neighbours: previous_<name> and
        next_<name> of each ``neighbours`` column, and previous_at and next_at."""
        pairs = [f"lag({column}) over in_order as previous_{name}, lead({column}) over in_order as next_{name}"
                 for name, column in {**neighbours, "at": at}.items()]
        return (f"select *, {', '.join(pairs)} from ({latest}) where deleted_at is null"
                f" window in_order as ({window})")

    def scalar_spike(self, value: str, at: str, bound: str, max_gap: str) -> str:
        return f"""coalesce(
            {at} - previous_at <= interval '{max_gap}' and next_at - {at} <= interval '{max_gap}'
            and (({value} - previous_value > {bound} and {value} - next_value > {bound})
                or (previous_value - {value} > {bound} and next_value - {value} > {bound})),
            false)"""

    @staticmethod
    def position_spike(at: str) -> str:
        def km(lat1: str, lon1: str, lat2: str, lon2: str) -> str:
            return (f"(2 * 6371.0088 * asin(sqrt(pow(sin(radians({lat2} - {lat1}) / 2), 2)"
                    f" + cos(radians({lat1})) * cos(radians({lat2})) * pow(sin(radians({lon2} - {lon1}) / 2), 2))))")

        return f"""coalesce(
            {km('previous_lat', 'previous_lon', 'lat', 'lon')} > greatest(0.5, 150 * epoch({at} - previous_at) / 3600.0)
            and {km('lat', 'lon', 'next_lat', 'next_lon')} > greatest(0.5, 150 * epoch(next_at - {at}) / 3600.0),
            false)"""

    def stuck(self, at: str, value: str) -> str:
        """A reading in a run of one value (window `one_run`) that lasted the stuck limit or more."""
        return f"""coalesce({value} is not null and epoch(max({at}) over one_run) - epoch(min({at}) over one_run)
            >= {self.v['stuck_sensor_hours']} * 3600, false)"""

    def sensor_readings(self) -> str:
        """CTEs registers, cells, places (int_sensor_places_resolved) and `readings`: every live reading of the
        seven domains in one shape, flagged (the staging models and macros/iot_readings.sql), with the instant an
        offline gap after it began (`gap_from`) where one did."""
        v = self.v
        gap = v["offline_gap_minutes"]
        series_dust = self.window("sensor_id", "measured_at", "reading_id")
        series_fume = self.window("restaurant_id", "measured_at", "reading_id")
        series_vehicle = self.window("vehicle_id", "recorded_at", "position_id")
        series_staff = self.window("worker_id", "recorded_at", "position_id")
        series_lot = self.window("lot_id", "recorded_at", "occupancy_id")
        series_obd = self.window("vin_hash", "recorded_at", "obd_id")
        return f"""
        {self.names()},
        raw_cells as ({self.latest('grid__cell', _norm('grid_code'), '*')}),
        cells as (
            select
                {_norm('raw_cells.grid_code')} as grid_code,
                coalesce(street.street_code, community.street_code) as street_code,
                {self.usable('centroid_lat', 'centroid_lat', 'centroid_lon')} as centroid_lat,
                {self.usable('centroid_lon', 'centroid_lat', 'centroid_lon')} as centroid_lon
            from raw_cells
            left join street_names as street on street.street_spelling = {_norm('raw_cells.street_code')}
            left join community_names as community
                on community.community_spelling = {_norm('raw_cells.community_code')}
            where raw_cells.deleted_at is null
        ),
        lots as (
            select
                cast(lot_id as varchar) as lot_id, cast(capacity as integer) as capacity,
                {_norm('street_code')} as street_served, null::varchar as community_served,
                {self.usable('lat', 'lat', 'lon')} as lat, {self.usable('lon', 'lat', 'lon')} as lon
            from ({self.latest('traffic__parking_lot', 'lot_id', '*')})
            where deleted_at is null
        ),
        registered as (
            select 'road_dust' as domain_code, cast(road_id as varchar) as place_id,
                {_norm('street_code')} as street_served, null::varchar as community_served,
                null::double as lat, null::double as lon
            from ({self.latest('dust__road', 'road_id', '*')}) where deleted_at is null
            union all
            select 'cooking_fume', cast(restaurant_id as varchar), {_norm('street_code')}, {_norm('community_code')},
                {self.usable('lat', 'lat', 'lon')}, {self.usable('lon', 'lat', 'lon')}
            from ({self.latest('fume__restaurant', 'restaurant_id', '*')}) where deleted_at is null
            union all
            select 'garbage_sorting', cast(station_id as varchar), {_norm('street_code')}, {_norm('community_code')},
                {self.usable('lat', 'lat', 'lon')}, {self.usable('lon', 'lat', 'lon')}
            from ({self.latest('garbage__station', 'station_id', '*')}) where deleted_at is null
            union all
            select 'sanitation_vehicle', cast(vehicle_id as varchar), {_norm('street_code')}, null, null, null
            from ({self.latest('vehicle__vehicle', 'vehicle_id', '*')}) where deleted_at is null
            union all
            select 'personnel', cast(worker_id as varchar), {_norm('street_code')}, null, null, null
            from ({self.latest('staff__worker', 'worker_id', '*')}) where deleted_at is null
            union all
            select 'static_traffic', lot_id, street_served, community_served, lat, lon from lots
        ),
        pointed as (
            select domain_code || '/' || place_id as place_key, lat, lon from registered
            where lat is not null and lon is not null
        ),
        places as (
            -- the street as served, else the served community's, else the point's nearest cell's
            select
                registered.domain_code,
                registered.place_id,
                coalesce(street.street_code, community.street_code, nearest.street_code) as street_code
            from registered
            left join street_names as street on street.street_spelling = registered.street_served
            left join community_names as community on community.community_spelling = registered.community_served
            left join ({self.nearest_cell('pointed', 'place_key')}) as nearest
                on nearest.place_key = registered.domain_code || '/' || registered.place_id
        ),
        dust as (
            select
                *,
                {self.stuck('measured_at', 'dust_load_g_m2')} as is_stuck
            from (
                select
                    *,
                    count(*) filter (where previous_at is null or dust_load_g_m2 is distinct from previous_value)
                        over ({series_dust}) as run_number
                from (
                    select
                        reading_id, road_id, sensor_id, measured_at, dust_load_g_m2,
                        lag(dust_load_g_m2) over in_order as previous_value,
                        lead(dust_load_g_m2) over in_order as next_value,
                        lag(measured_at) over in_order as previous_at,
                        lead(measured_at) over in_order as next_at
                    from ({self.latest('dust__reading', 'reading_id', '*')})
                    where deleted_at is null
                    window in_order as ({series_dust})
                )
            )
            window one_run as ({self.series("sensor_id", "measured_at", "reading_id")}, run_number)
        ),
        fume as (
            select
                *,
                {self.stuck('measured_at', 'concentration_mg_m3')} as is_stuck
            from (
                select
                    *,
                    count(*) filter (where previous_at is null or concentration_mg_m3 is distinct from previous_value)
                        over ({series_fume}) as run_number
                from (
                    select
                        reading_id, restaurant_id, measured_at, concentration_mg_m3,
                        lag(concentration_mg_m3) over in_order as previous_value,
                        lead(concentration_mg_m3) over in_order as next_value,
                        lag(measured_at) over in_order as previous_at,
                        lead(measured_at) over in_order as next_at
                    from ({self.latest('fume__reading', 'reading_id', '*')})
                    where deleted_at is null
                    window in_order as ({series_fume})
                )
            )
            window one_run as ({self.series("restaurant_id", "measured_at", "reading_id")}, run_number)
        ),
        vehicle as ({self.live_with_neighbours(
            self.latest('vehicle__position', 'position_id',
                        'position_id, vehicle_id, recorded_at, '
                        'lat, lon, working, deleted_at'),
            series_vehicle, 'recorded_at', {'lat': 'lat', 'lon': 'lon'})}),
        staff as ({self.live_with_neighbours(
            self.latest('staff__position', 'position_id',
                        'position_id, worker_id, recorded_at, '
                        'lat, lon, on_duty, deleted_at'),
            series_staff, 'recorded_at', {'lat': 'lat', 'lon': 'lon'})}),
        occupancy as ({self.live_with_neighbours(
            self.latest('traffic__occupancy', 'occupancy_id',
                        'occupancy_id, lot_id, '
                        'recorded_at, occupied, deleted_at'),
            series_lot, 'recorded_at', {'value': 'occupied'})}),
        obd as ({self.live_with_neighbours(
            self.latest('diesel__obd', 'obd_id',
                        'obd_id, vin_hash, recorded_at, lat, '
                        'lon, nox_ppm, speed_kmh, deleted_at'),
            series_obd, 'recorded_at', {'lat': 'lat', 'lon': 'lon'})}),
        fixes as ({self.nearest_cell('obd', 'obd_id')}),
        readings as (
            select
                'road_dust' as domain_code, sensor_id, road_id as place_id, cast(reading_id as varchar) as reading_id,
                measured_at as reading_at,
                cast(dust_load_g_m2 as double) as measured_value,
                {self.scalar_spike('dust_load_g_m2', 'measured_at', '1.0', '15 minutes')} as is_spike,
                is_stuck,
                coalesce(dust_load_g_m2 > {v['threshold_dust_load_g_m2']}, false) as is_over_threshold,
                coalesce(dust_load_g_m2 > {v['threshold_dust_load_severe_g_m2']}, false) as is_over_severe,
                null::boolean as is_active,
                null::varchar as fix_street_code,
                case when coalesce((epoch(measured_at) - epoch(previous_at)) / 60.0 > {gap}, false)
                    then measured_at - to_microseconds(cast(round(
                        (epoch(measured_at) - epoch(previous_at)) / 60.0 * 60000000) as bigint))
                end as gap_from
            from dust
            where sensor_id is not null
            union all
            select
                'cooking_fume', restaurant_id, restaurant_id, cast(reading_id as varchar), measured_at,
                cast(concentration_mg_m3 as double),
                {self.scalar_spike('concentration_mg_m3', 'measured_at', '2.0', '30 minutes')},
                is_stuck,
                coalesce(concentration_mg_m3 > {v['threshold_fume_mg_m3']}, false), false, null, null, null
            from fume
            where restaurant_id is not null
            union all
            select
                'garbage_sorting', station_id, station_id, cast(collection_id as varchar), collected_at,
                cast(weight_kg as double), coalesce(weight_kg > 20000, false), false, false, false, null, null, null
            from ({self.latest('garbage__collection', 'collection_id',
                               'collection_id, station_id, collected_at, weight_kg, deleted_at')})
            where deleted_at is null and station_id is not null
            union all
            select
                'sanitation_vehicle', vehicle_id, vehicle_id, cast(position_id as varchar), recorded_at, null,
                {self.position_spike('recorded_at')}, false, false, false, coalesce(working, false), null, null
            from vehicle
            where vehicle_id is not null
            union all
            select
                'personnel', worker_id, worker_id, cast(position_id as varchar), recorded_at, null,
                {self.position_spike('recorded_at')}, false, false, false, coalesce(on_duty, false), null, null
            from staff
            where worker_id is not null
            union all
            select
                'static_traffic', occupancy.lot_id, occupancy.lot_id, cast(occupancy.occupancy_id as varchar),
                occupancy.recorded_at,
                case when lots.capacity > 0 then occupancy.occupied / lots.capacity end,
                {self.scalar_spike('occupied', 'recorded_at',
                                   'greatest(100, 0.5 * greatest(previous_value, next_value))', '45 minutes')},
                false,
                coalesce(lots.capacity > 0 and occupancy.occupied > {v['threshold_parking_saturation']}
                    * lots.capacity, false),
                false, null, null,
                case when coalesce((epoch(recorded_at) - epoch(previous_at)) / 60.0 > {gap}, false)
                    then recorded_at - to_microseconds(cast(round(
                        (epoch(recorded_at) - epoch(previous_at)) / 60.0 * 60000000) as bigint))
                end
            from occupancy
            left join lots on lots.lot_id = occupancy.lot_id
            where occupancy.lot_id is not null
            union all
            select
                'heavy_diesel', obd.vin_hash, null::varchar, cast(obd.obd_id as varchar), obd.recorded_at,
                cast(obd.nox_ppm as double),
                {self.position_spike('obd.recorded_at')}, false,
                coalesce(obd.nox_ppm > {v['threshold_diesel_nox_ppm']}
                    and obd.speed_kmh > {v['threshold_diesel_min_speed_kmh']}, false),
                false, null, fixes.street_code, null
            from obd
            left join fixes on fixes.obd_id = obd.obd_id
            where obd.vin_hash is not null
        )"""

    def iot_domain_daily(self) -> str:
        threshold_domains = "('road_dust', 'cooking_fume', 'static_traffic', 'heavy_diesel')"
        stuck_domains = "('road_dust', 'cooking_fume')"
        gap_domains = "('road_dust', 'static_traffic')"
        position_domains = "('sanitation_vehicle', 'personnel', 'heavy_diesel')"
        return f"""
        with {self.sensor_readings()},
        sensor_days as (
            -- per sensor, day and place (int_sensor_days_aggregated), gaps counted on the day they began
            select
                aggregated.*,
                coalesce(gaps.offline_gaps, 0) as offline_gaps
            from (
                select
                    domain_code, sensor_id, {_local_date('reading_at')} as activity_date, place_id, fix_street_code,
                    count(*) as readings,
                    count(*) filter (where not is_spike and not is_stuck) as valid_readings,
                    count(*) filter (where is_spike) as spike_readings,
                    count(*) filter (where is_stuck) as stuck_readings,
                    count(*) filter (where is_over_threshold and not is_spike and not is_stuck) as exceedance_readings,
                    count(*) filter (where is_over_severe and not is_spike and not is_stuck) as severe_readings,
                    count(*) filter (where is_active) as active_readings
                from readings
                group by all
            ) as aggregated
            left join (
                select domain_code, sensor_id, {_local_date('gap_from')} as activity_date, place_id, fix_street_code,
                    count(*) as offline_gaps
                from readings
                where gap_from is not null
                group by all
            ) as gaps
                on gaps.domain_code = aggregated.domain_code
                and gaps.sensor_id = aggregated.sensor_id
                and gaps.activity_date = aggregated.activity_date
                and gaps.place_id is not distinct from aggregated.place_id
                and gaps.fix_street_code is not distinct from aggregated.fix_street_code
        ),
        counted as (
            select
                sensor_days.domain_code,
                coalesce(places.street_code, sensor_days.fix_street_code) as street_code,
                sensor_days.activity_date,
                sum(readings) as readings,
                sum(valid_readings) as valid_readings,
                sum(spike_readings) as spike_readings,
                sum(stuck_readings) as stuck_readings,
                sum(exceedance_readings) as exceedance_readings,
                sum(severe_readings) as severe_readings,
                sum(offline_gaps) as offline_gaps,
                count(distinct sensor_id) as sensors_reporting,
                count(distinct sensor_id) filter (where stuck_readings > 0) as stuck_sensors,
                count(distinct sensor_days.place_id) filter (where places.place_id is not null)
                    as registered_sensors_reporting,
                count(distinct sensor_id) filter (where active_readings > 0) as units_active
            from sensor_days
            left join places
                on places.domain_code = sensor_days.domain_code and places.place_id = sensor_days.place_id
            group by all
        ),
        exceeding as (
            -- valid readings over the threshold, and dust over the severe load as a kind of its own
            select
                case domain_code when 'road_dust' then 'dust' when 'cooking_fume' then 'fume'
                    when 'heavy_diesel' then 'diesel_nox' when 'static_traffic' then 'parking_saturation'
                end as exceedance_kind,
                domain_code, sensor_id, place_id, reading_id, reading_at, fix_street_code
            from readings
            where is_over_threshold and not is_spike and not is_stuck
                and domain_code in {threshold_domains}
            union all
            select 'dust_severe', domain_code, sensor_id, place_id, reading_id, reading_at, fix_street_code
            from readings
            where is_over_threshold and not is_spike and not is_stuck and domain_code = 'road_dust' and is_over_severe
        ),
        episodes as (
            -- a new episode where the previous exceeding reading of the sensor lies over 30 minutes earlier
            select
                exceedance_kind, domain_code, sensor_id,
                min(reading_at) as started_at,
                arg_min_null(place_id, (reading_at, reading_id)) as place_id,
                arg_min_null(fix_street_code, (reading_at, reading_id)) as fix_street_code
            from (
                select
                    *,
                    count(*) filter (where previous_at is null or reading_at - previous_at > interval '30 minutes')
                        over (partition by exceedance_kind, sensor_id order by reading_at, reading_id
                              rows unbounded preceding) as episode_number
                from (
                    select
                        *,
                        lag(reading_at) over (partition by exceedance_kind, sensor_id order by reading_at, reading_id)
                            as previous_at
                    from exceeding
                )
            )
            group by exceedance_kind, domain_code, sensor_id, episode_number
        ),
        episodes_per_day as (
            select
                episodes.domain_code,
                coalesce(places.street_code, episodes.fix_street_code) as street_code,
                {_local_date('episodes.started_at')} as activity_date,
                count(*) filter (where exceedance_kind <> 'dust_severe') as exceedance_episodes,
                count(*) filter (where exceedance_kind = 'dust_severe') as severe_episodes
            from episodes
            left join places on places.domain_code = episodes.domain_code and places.place_id = episodes.place_id
            group by all
        ),
        registered_per_street as (
            select domain_code, street_code, count(*) as sensors_registered from places group by all
        ),
        calendar as (
            select
                domain_code,
                cast(unnest(generate_series(min(activity_date), max(activity_date), interval 1 day)) as date)
                    as activity_date
            from sensor_days
            group by domain_code
        ),
        spine as (
            select calendar.domain_code, registered_per_street.street_code, calendar.activity_date
            from calendar
            inner join registered_per_street on registered_per_street.domain_code = calendar.domain_code
            union
            select domain_code, street_code, activity_date from counted
            union
            select domain_code, street_code, activity_date from episodes_per_day
        ),
        joined as (
            select
                spine.domain_code, spine.street_code, spine.activity_date,
                coalesce(c.readings, 0) as readings,
                coalesce(c.valid_readings, 0) as valid_readings,
                coalesce(c.spike_readings, 0) as spike_readings,
                coalesce(c.stuck_readings, 0) as stuck_readings,
                coalesce(c.exceedance_readings, 0) as exceedance_readings,
                coalesce(e.exceedance_episodes, 0) as exceedance_episodes,
                coalesce(c.severe_readings, 0) as severe_readings,
                coalesce(e.severe_episodes, 0) as severe_episodes,
                coalesce(c.offline_gaps, 0) as offline_gaps,
                coalesce(c.sensors_reporting, 0) as sensors_reporting,
                coalesce(c.stuck_sensors, 0) as stuck_sensors,
                coalesce(r.sensors_registered, 0) as sensors_registered,
                coalesce(c.registered_sensors_reporting, 0) as registered_sensors_reporting,
                coalesce(c.units_active, 0) as units_active
            from spine
            left join counted as c
                on c.domain_code = spine.domain_code and c.street_code is not distinct from spine.street_code
                and c.activity_date = spine.activity_date
            left join episodes_per_day as e
                on e.domain_code = spine.domain_code and e.street_code is not distinct from spine.street_code
                and e.activity_date = spine.activity_date
            left join registered_per_street as r
                on r.domain_code = spine.domain_code and r.street_code is not distinct from spine.street_code
        )
        select
            concat_ws('|', domain_code, coalesce(street_code, 'unresolved'), strftime(activity_date, '%Y-%m-%d'))
                as domain_day_key,
            domain_code,
            street_code,
            activity_date,
            cast(readings as integer) as readings,
            cast(valid_readings as integer) as valid_readings,
            cast(spike_readings as integer) as spike_readings,
            cast(case when domain_code in {stuck_domains} then stuck_readings end as integer) as stuck_readings,
            cast(case when domain_code in {threshold_domains} then exceedance_readings end as integer)
                as exceedance_readings,
            cast(case when domain_code in {threshold_domains} then exceedance_episodes end as integer)
                as exceedance_episodes,
            cast(case when domain_code = 'road_dust' then severe_readings end as integer) as severe_readings,
            cast(case when domain_code = 'road_dust' then severe_episodes end as integer) as severe_episodes,
            cast(case when domain_code in {gap_domains} then offline_gaps end as integer) as offline_gaps,
            cast(sensors_reporting as integer) as sensors_reporting,
            cast(case when domain_code in {stuck_domains} then stuck_sensors end as integer) as stuck_sensors,
            cast(case when domain_code <> 'heavy_diesel' then sensors_registered end as integer)
                as sensors_registered,
            cast(case when domain_code <> 'heavy_diesel' then registered_sensors_reporting end as integer)
                as registered_sensors_reporting,
            case when domain_code <> 'heavy_diesel' and sensors_registered > 0
                then registered_sensors_reporting / sensors_registered end as coverage_rate,
            cast(case when domain_code in {position_domains} then readings end as integer) as gps_fixes,
            cast(case when domain_code in ('sanitation_vehicle', 'personnel') then units_active end as integer)
                as units_active
        from joined
        """


def queries(lake: Path, given: dict[str, Any]) -> dict[str, str]:
    """The three marts' queries over the lake at `lake` with the settings `given` (gridlake.transform.dbt_vars)."""
    sql = _Sql(lake, given)
    return {"hotline_kpi_daily": sql.hotline_kpi_daily(), "hotline_kpi_monthly": sql.hotline_kpi_monthly(),
            "iot_domain_daily": sql.iot_domain_daily()}
