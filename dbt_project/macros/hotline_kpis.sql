{#- The 接诉即办 working definitions (kpis.md, reference.md) shared by the hotline models. -#}

{#- The respond or resolve limit (hours) of an urgency, from the settings passed as vars; an urgency the
    district has no limit for gives null (no deadline), never a silent default. -#}
{% macro hotline_limit_hours(kind, urgency) -%}
    case {{ urgency }}
        {%- for level in ['urgent', 'utility', 'normal', 'complex'] %}
        when '{{ level }}' then cast({{ var(kind ~ '_hours_' ~ level) }} as double)
        {%- endfor %}
    end
{%- endmacro %}

{#- The three rates, the composite score and the rank of each unit among its kind in a period, from a relation
    of counts per (unit_type, unit_code, <period>) with orders_counted, responded_in_time, visits_answered,
    visits_resolved, visits_satisfied, visits_basically_satisfied. A rate whose denominator is 0 is null; the
    composite is null when a rate is, and such a unit is not ranked. Ranking (kpis.md): composite descending,
    then resolution rate, then volume (orders counted) descending; unit_code last, so ranks are 1..n. -#}
{% macro hotline_unit_scores(counts, period) -%}
    with rates as (

        select
            counts.*,
            cast(responded_in_time as double) / nullif(orders_counted, 0) as response_rate,
            cast(visits_resolved as double) / nullif(visits_answered, 0) as resolution_rate,
            (visits_satisfied + cast({{ var('weight_basically_satisfied') }} as double) * visits_basically_satisfied)
                / nullif(visits_answered, 0) as satisfaction_rate
        from {{ counts }} as counts

    ),

    scored as (

        select
            rates.*,
            -- 0-100; the weights are normalised by their sum, so the scale holds whatever weights are in force.
            -- Rounded to 6 places so that equal rates give equal scores however the sum was associated.
            round(100 * (
                cast({{ var('weight_response') }} as double) * response_rate
                + cast({{ var('weight_resolution') }} as double) * resolution_rate
                + cast({{ var('weight_satisfaction') }} as double) * satisfaction_rate
            ) / (
                cast({{ var('weight_response') }} as double)
                + cast({{ var('weight_resolution') }} as double)
                + cast({{ var('weight_satisfaction') }} as double)
            ), 6) as composite_score
        from rates

    )

    select
        scored.*,
        case when composite_score is not null then
            row_number() over (
                partition by unit_type, {{ period }}, composite_score is null
                order by composite_score desc, round(resolution_rate, 9) desc, orders_counted desc, unit_code
            )
        end as unit_rank,
        count(composite_score) over (partition by unit_type, {{ period }}) as units_ranked
    from scored
{%- endmacro %}


{#- The figures of each handling unit and period that hotline_kpi_monthly and hotline_kpi_daily share, as a select
    in the marts' column order from unit_type to mean_transfer_hours (the key, is_period_complete and data_as_of
    are each mart's own): the volumes and counts of the orders the unit held last, its returns (退单), the rates,
    composite and rank (hotline_unit_scores), and the name the platform last dispatched to.
    orders: the due orders of street offices and departments, one row per order and period, with the period
    columns; answered: its column saying the order's return visit is answered and counts in the period (the
    resolved and satisfied visits are counted among those); returns: one row per return a unit made on an order of
    the period (unit_type, unit_code, the period columns); dispatches: the units' dispatches (for their names);
    period_columns: the period, the one units are ranked in first (['period_month'], ['kpi_date', 'period_month']).
    A unit that only returned orders of the period has a row with returns and no rates. -#}
{% macro hotline_unit_kpis(orders, returns, dispatches, period_columns, answered='is_visit_answered') -%}
    with held as (

        select
            final_unit_type as unit_type,
            final_unit_code as unit_code,
            {%- for column in period_columns %}
            {{ column }},
            {%- endfor %}
            count(*) as orders,
            count(*) filter (where is_counted_in_rates) as orders_counted,
            count(*) filter (where is_counted_in_rates and is_responded_in_time) as responded_in_time,
            count(*) filter (where is_counted_in_rates and {{ answered }}) as visits_answered,
            count(*) filter (where is_counted_in_rates and {{ answered }} and is_visit_resolved) as visits_resolved,
            count(*) filter (where is_counted_in_rates and {{ answered }} and is_visit_satisfied) as visits_satisfied,
            count(*) filter (where is_counted_in_rates and {{ answered }} and is_visit_basically_satisfied)
                as visits_basically_satisfied,
            count(*) filter (where is_repeat) as repeat_orders,
            count(*) filter (where is_excluded) as excluded_orders,
            count(*) filter (where is_overdue) as overdue_orders,
            count(*) filter (where is_late_response) as late_response_orders,
            sum(dispatch_count) as dispatches,
            round(avg(transfer_hours), 6) as mean_transfer_hours  -- rounded: a parallel sum of doubles may differ in its last bit run to run
        from {{ orders }}
        group by all

    ),

    returned as (

        select unit_type, unit_code, {{ period_columns | join(', ') }}, count(*) as returns
        from {{ returns }}
        group by all

    ),

    unit_names as (

        select unit_type, unit_code, {{ arg_max('unit_name', 'dispatched_at') }} as unit_name
        from {{ dispatches }}
        group by all

    ),

    counts as (

        select
            coalesce(held.unit_type, returned.unit_type) as unit_type,
            coalesce(held.unit_code, returned.unit_code) as unit_code,
            {%- for column in period_columns %}
            coalesce(held.{{ column }}, returned.{{ column }}) as {{ column }},
            {%- endfor %}
            coalesce(held.orders, 0) as orders,
            coalesce(held.orders_counted, 0) as orders_counted,
            coalesce(held.responded_in_time, 0) as responded_in_time,
            coalesce(held.visits_answered, 0) as visits_answered,
            coalesce(held.visits_resolved, 0) as visits_resolved,
            coalesce(held.visits_satisfied, 0) as visits_satisfied,
            coalesce(held.visits_basically_satisfied, 0) as visits_basically_satisfied,
            coalesce(held.repeat_orders, 0) as repeat_orders,
            coalesce(held.excluded_orders, 0) as excluded_orders,
            coalesce(held.overdue_orders, 0) as overdue_orders,
            coalesce(held.late_response_orders, 0) as late_response_orders,
            coalesce(held.dispatches, 0) as dispatches,
            coalesce(returned.returns, 0) as returns,
            held.mean_transfer_hours
        from held
        full outer join returned
            on returned.unit_type = held.unit_type
            and returned.unit_code = held.unit_code
            {%- for column in period_columns %}
            and returned.{{ column }} = held.{{ column }}
            {%- endfor %}

    ),

    scored as (

        {{ hotline_unit_scores('counts', period_columns[0]) }}

    )

    select
        scored.unit_type,
        scored.unit_code,
        unit_names.unit_name,
        {%- for column in period_columns %}
        scored.{{ column }},
        {%- endfor %}
        cast(scored.orders as integer) as orders,
        cast(scored.orders_counted as integer) as orders_counted,
        cast(scored.responded_in_time as integer) as responded_in_time,
        cast(scored.visits_answered as integer) as visits_answered,
        cast(scored.visits_resolved as integer) as visits_resolved,
        cast(scored.visits_satisfied as integer) as visits_satisfied,
        cast(scored.visits_basically_satisfied as integer) as visits_basically_satisfied,
        scored.response_rate,
        scored.resolution_rate,
        scored.satisfaction_rate,
        scored.composite_score,
        cast(scored.unit_rank as integer) as unit_rank,
        cast(scored.units_ranked as integer) as units_ranked,
        cast(scored.repeat_orders as integer) as repeat_orders,
        cast(scored.excluded_orders as integer) as excluded_orders,
        cast(scored.overdue_orders as integer) as overdue_orders,
        cast(scored.late_response_orders as integer) as late_response_orders,
        cast(scored.dispatches as integer) as dispatches,
        cast(scored.returns as integer) as returns,
        scored.mean_transfer_hours
    from scored
    left join unit_names
        on unit_names.unit_type = scored.unit_type
        and unit_names.unit_code = scored.unit_code
{%- endmacro %}
