-- The long-standing problem ledger (老大难台账, kpis.md), evaluated as of the month of the data's now (the newest
-- event of the four channels): one row per (community, service group) on the ledger or on its way there. Two
-- rules, each judged over whole calendar months (Beijing):
--   repeat_hotspot  a repeat hotspot (屡治屡返) in var('ledger_hotspot_months') or more of the last
--                   var('ledger_lookback_months') months, the current month included (month to date);
--   channels        events from var('ledger_min_channels') or more channels (hotline, grid case, enforcement,
--                   sensor exceedance; an event counts in the channel its matter reached the district by, so a
--                   call the grid filed as a case is one channel, not two: macros/ledger_rules.sql)
--                   in every one of var('ledger_channel_months') consecutive months ending with
--                   the current month - or, while the current month is incomplete, ending with the previous one
--                   (a problem of long standing does not leave the ledger on the first of a month).
-- A month the data do not cover wholly (before the lake began, or the current month) is undecided where it
-- lacks what the rule asks: a rule is met (true) when the months seen meet it, not met (false) only when the
-- wholly covered months rule it out, and undecided (null) otherwise. With weeks of data no pair can be judged
-- on months: months_observed and months_complete say how far the data are from it.
with events as (

    select * from {{ ref('int_ledger_events_grouped') }}

),

pair_months as (

    select * from {{ ref('int_ledger_pair_months_counted') }}

),

communities as (

    select community_code, street_code from {{ ref('dongcheng_communities') }}

),

groups as (

    select service_group, service_group_name, domain_code from {{ ref('service_groups') }}

),

span as (

    select
        min(occurred_date) as first_date,
        max(occurred_date) as last_date,
        max(occurred_at) as data_as_of,
        date_trunc('month', max(occurred_date))::date as current_month
    from events

),

-- the months evaluated, 0 = the current month, with how many of their days the data cover
months as (

    select
        month_index,
        period_month,
        greatest(
            0,
            {{ dbt.datediff(
                'greatest(period_month, span.first_date)', 'least(last_day(period_month), span.last_date)', 'day',
            ) }} + 1
        ) as days_observed,
        cast(day(last_day(period_month)) as integer) as days_in_month
    from (
        select
            offsets.month_index,
            (span.current_month - {{ interval_of('offsets.month_index', 'months') }})::date as period_month
        from span
        cross join (
            select {{ integer_series(0, ledger_months_evaluated()) }} as month_index
        ) as offsets
        where span.current_month is not null
    ) as evaluated
    cross join span

),

-- the pairs with a repeat hotspot month or a month of enough channels among the months evaluated
candidates as (

    select distinct pair_months.community_code, pair_months.service_group
    from pair_months
    inner join months
        on months.period_month = pair_months.period_month
    where pair_months.is_repeat_hotspot
        or pair_months.channel_count >= {{ var('ledger_min_channels') }}

),

pair_window as (

    select
        candidates.community_code,
        candidates.service_group,
        months.month_index,
        months.period_month,
        months.days_observed > 0 as is_observed,
        months.days_observed = months.days_in_month as is_complete,
        coalesce(pair_months.is_repeat_hotspot, false) as is_hotspot_month,
        coalesce(pair_months.channel_count, 0) >= {{ var('ledger_min_channels') }} as is_channel_month
    from candidates
    cross join months
    left join pair_months
        on pair_months.community_code = candidates.community_code
        and pair_months.service_group = candidates.service_group
        and pair_months.period_month = months.period_month

),

summarised as (

    select
        community_code,
        service_group,
        count(*) filter (where month_index < {{ var('ledger_lookback_months') }} and is_observed) as months_observed,
        count(*) filter (where month_index < {{ var('ledger_lookback_months') }} and is_complete) as months_complete,
        count(*) filter (where month_index < {{ var('ledger_lookback_months') }} and is_hotspot_month)
            as hotspot_months,
        count(*) filter (
            where month_index < {{ var('ledger_lookback_months') }} and is_complete and not is_hotspot_month
        ) as months_ruled_out_as_hotspot,
        {{ ordered_list(
            'period_month',
            'period_month',
            condition='month_index < ' ~ (var('ledger_lookback_months')) ~ ' and is_hotspot_month',
        ) }} as repeat_hotspot_months,
        {{ ordered_list(
            'period_month',
            'period_month',
            condition='month_index < ' ~ (var('ledger_lookback_months')) ~ ' and is_channel_month',
        ) }} as channel_months,
        bool_or(is_complete) filter (where month_index = 0) as is_current_month_complete,
        bool_or(is_channel_month) filter (where month_index = 0) as is_current_channel_month,
        -- a run of channel months that a wholly covered month without them breaks: the run ending now ...
        bool_or(is_complete and not is_channel_month) filter (
            where month_index < {{ var('ledger_channel_months') }}
        ) as is_run_ending_now_broken,
        -- ... and the run ending with the previous month
        bool_or(is_complete and not is_channel_month) filter (
            where month_index between 1 and {{ var('ledger_channel_months') }}
        ) as is_run_ending_before_broken
    from pair_window
    group by community_code, service_group

),

streaks as (

    -- consecutive channel months back from the current month, or from the previous one when the current month
    -- is incomplete and has not reached the channels yet
    select
        summarised.*,
        case when not is_current_month_complete and not is_current_channel_month then 1 else 0 end as streak_start
    from summarised

),

streak_lengths as (

    select
        streaks.community_code,
        streaks.service_group,
        coalesce(
            min(pair_window.month_index) filter (
                where not pair_window.is_channel_month and pair_window.month_index >= streaks.streak_start
            ),
            {{ ledger_months_evaluated() }}
        ) - streaks.streak_start as channel_streak_months
    from streaks
    inner join pair_window
        on pair_window.community_code = streaks.community_code
        and pair_window.service_group = streaks.service_group
    group by streaks.community_code, streaks.service_group, streaks.streak_start

),

judged as (

    select
        streaks.*,
        streak_lengths.channel_streak_months,
        case
            when streaks.hotspot_months >= {{ var('ledger_hotspot_months') }} then true
            when {{ var('ledger_lookback_months') }} - streaks.months_ruled_out_as_hotspot
                < {{ var('ledger_hotspot_months') }} then false
        end as is_hotspot_rule_met,
        case
            when streak_lengths.channel_streak_months >= {{ var('ledger_channel_months') }} then true
            when streaks.is_run_ending_now_broken
                and (streaks.is_current_month_complete or streaks.is_run_ending_before_broken) then false
        end as is_channel_rule_met
    from streaks
    inner join streak_lengths
        on streak_lengths.community_code = streaks.community_code
        and streak_lengths.service_group = streaks.service_group

),

-- what the pair holds over the lookback months: its events and the units that handled them
listed as (

    select
        events.community_code,
        events.service_group,
        count(*) filter (where events.channel = 'hotline') as orders,
        count(*) filter (where events.channel = 'grid') as grid_cases,
        count(*) filter (where events.channel = 'enforcement') as enforcement_cases,
        count(*) filter (where events.channel = 'sensor') as exceedances,
        count(*) filter (where events.is_open) as open_events,
        {{ ordered_list('events.report_channel', 'events.report_channel', distinct=true) }} as channels,
        {{ ordered_list(
            'events.source_id', 'events.occurred_at, events.source_id', condition="events.channel = 'hotline'",
        ) }}
            as request_ids,
        {{ ordered_list(
            'events.source_id', 'events.occurred_at, events.source_id', condition="events.channel = 'grid'",
        ) }}
            as grid_case_ids,
        {{ ordered_list(
            'events.source_id', 'events.occurred_at, events.source_id', condition="events.channel = 'enforcement'",
        ) }} as enforcement_case_ids,
        {{ ordered_list(
            'events.source_id', 'events.occurred_at, events.source_id', condition="events.channel = 'sensor'",
        ) }}
            as exceedance_ids,
        {{ ordered_list(
            "events.responsible_unit_type || ':' || events.responsible_unit_code",
            "events.responsible_unit_type || ':' || events.responsible_unit_code",
            condition='events.responsible_unit_code is not null',
            distinct=true,
        ) }} as units_involved,
        {{ ordered_list(
            'events.uscc', 'events.uscc', condition='events.uscc is not null', distinct=true,
        ) }} as enterprise_usccs,
        min(events.occurred_at) as first_event_at,
        max(events.occurred_at) as last_event_at
    from events
    inner join candidates
        on candidates.community_code = events.community_code
        and candidates.service_group = events.service_group
    where events.is_counted
        and events.month_index < {{ var('ledger_lookback_months') }}
    group by events.community_code, events.service_group

),

final as (

    select
        judged.community_code || '|' || judged.service_group as ledger_key,
        communities.street_code,
        judged.community_code,
        judged.service_group,
        groups.service_group_name,
        groups.domain_code,
        span.current_month as period_month,
        (span.current_month - {{ interval_of(
            var('ledger_lookback_months') ~ ' - 1', 'months',
        ) }})::date as lookback_from_month,
        cast(judged.months_observed as integer) as months_observed,
        cast(judged.months_complete as integer) as months_complete,
        cast(judged.hotspot_months as integer) as hotspot_months,
        cast(coalesce(judged.repeat_hotspot_months, {{ empty_list() }}) as {{ type_list('date') }})
            as repeat_hotspot_months,
        judged.is_hotspot_rule_met,
        cast(coalesce(judged.channel_months, {{ empty_list() }}) as {{ type_list('date') }}) as channel_months,
        cast(judged.channel_streak_months as integer) as channel_streak_months,
        judged.is_channel_rule_met,
        coalesce(judged.is_hotspot_rule_met, false) or coalesce(judged.is_channel_rule_met, false)
            as is_ledger_entry,
        case
            when judged.is_hotspot_rule_met and judged.is_channel_rule_met then 'both'
            when judged.is_hotspot_rule_met then 'repeat_hotspot'
            when judged.is_channel_rule_met then 'channels'
        end as entry_rule,
        case
            when judged.is_hotspot_rule_met or judged.is_channel_rule_met then 'entry'
            when judged.is_hotspot_rule_met is null or judged.is_channel_rule_met is null then 'undecided'
            else 'not_entry'
        end as ledger_status,
        cast(coalesce(listed.channels, {{ empty_list() }}) as {{ type_list(dbt.type_string()) }}) as channels,
        cast(coalesce(listed.orders, 0) as integer) as orders,
        cast(coalesce(listed.grid_cases, 0) as integer) as grid_cases,
        cast(coalesce(listed.enforcement_cases, 0) as integer) as enforcement_cases,
        cast(coalesce(listed.exceedances, 0) as integer) as exceedances,
        cast(coalesce(listed.open_events, 0) as integer) as open_events,
        cast(coalesce(listed.request_ids, {{ empty_list() }}) as {{ type_list(dbt.type_string()) }}) as request_ids,
        cast(coalesce(listed.grid_case_ids, {{ empty_list() }}) as {{ type_list(dbt.type_string()) }}) as grid_case_ids,
        cast(coalesce(listed.enforcement_case_ids, {{ empty_list() }}) as {{ type_list(dbt.type_string()) }})
            as enforcement_case_ids,
        cast(coalesce(listed.exceedance_ids, {{ empty_list() }}) as {{ type_list(dbt.type_string()) }})
            as exceedance_ids,
        cast(coalesce(listed.units_involved, {{ empty_list() }}) as {{ type_list(dbt.type_string()) }})
            as units_involved,
        cast(coalesce(listed.enterprise_usccs, {{ empty_list() }}) as {{ type_list(dbt.type_string()) }})
            as enterprise_usccs,
        listed.first_event_at,
        listed.last_event_at,
        span.data_as_of
    from judged
    cross join span
    left join listed
        on listed.community_code = judged.community_code
        and listed.service_group = judged.service_group
    left join communities
        on communities.community_code = judged.community_code
    left join groups
        on groups.service_group = judged.service_group

)

select * from final
