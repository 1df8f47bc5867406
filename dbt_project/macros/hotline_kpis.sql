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
