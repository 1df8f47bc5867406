{#- The working rules of the unified events (int_events_unified, city_events) where the specs are silent: how
    severe an event is, per kind, on one scale (low, medium, high). reference.md grades only the orders (by
    urgency) and the dust load (severe above var('threshold_dust_load_severe_g_m2')); the rest is the district's
    choice, written here once. -#}


{#- A fine from this amount (CNY) makes an enforcement case high. The fines served run from 500 to 100,000 CNY:
    street order and parking draw up to 5,000, illegal building, advertising, night work and heavy fume cases
    20,000 and more. -#}
{% macro events_high_penalty_cny() -%}
    10000
{%- endmacro %}


{#- A sensor episode whose peak is this many times its threshold is high: twice the limit, the ratio of
    reference.md's severe dust load (1.0 g/m2) to the dust limit (0.5 g/m2), applied to the other kinds. -#}
{% macro events_high_exceedance_ratio() -%}
    2.0
{%- endmacro %}


{#- From this ratio of peak to threshold a sensor episode is medium (below it, low). -#}
{% macro events_medium_exceedance_ratio() -%}
    1.5
{%- endmacro %}


{#- The severity of an event (low, medium, high) from the columns the union carries; `alias` is the relation's.
      hotline_order      urgency (reference.md's limits): urgent and utility (2 h / 24 h) high, complex medium,
                         normal or unknown low;
      grid_case          medium when its matter is an enforcement matter (an offence the team may punish), low
                         otherwise (the grid platform grades nothing);
      enforcement_case   high with a fine of events_high_penalty_cny() or more, or a confiscation; low when
                         revoked, or decided/closed with no fine (a warning, an order to correct); medium
                         otherwise (a smaller fine, or no decision yet);
      sensor_exceedance  dust: high when the episode's peak is over the severe load (a dust_severe episode lies
                         in it); every kind: high from events_high_exceedance_ratio() × the threshold, medium from
                         events_medium_exceedance_ratio(), else low (a saturated lot, at most 100/95 of the
                         threshold, is low);
      parking_violation  low. -#}
{% macro events_severity(alias) -%}
    case {{ alias }}.event_kind
        when 'hotline_order' then
            case
                when {{ alias }}.urgency in ('urgent', 'utility') then 'high'
                when {{ alias }}.urgency = 'complex' then 'medium'
                else 'low'
            end
        when 'grid_case' then
            case when {{ alias }}.enforcement_matter_code is not null then 'medium' else 'low' end
        when 'enforcement_case' then
            case
                when {{ alias }}.penalty_cny >= {{ events_high_penalty_cny() }}
                    or {{ list_has(
                        'coalesce(' ~ alias ~ '.measures, ' ~ empty_list() ~ ')', "'confiscation'",
                    ) }} then 'high'
                when {{ alias }}.status = 'revoked' then 'low'
                when {{ alias }}.status in ('decided', 'closed') and coalesce({{ alias }}.penalty_cny, 0) <= 0
                    then 'low'
                else 'medium'
            end
        when 'sensor_exceedance' then
            case
                when {{ alias }}.matter_code = 'dust'
                    and {{ alias }}.peak_value > {{ var('threshold_dust_load_severe_g_m2') }} then 'high'
                when {{ alias }}.exceedance_ratio >= {{ events_high_exceedance_ratio() }} then 'high'
                when {{ alias }}.exceedance_ratio >= {{ events_medium_exceedance_ratio() }} then 'medium'
                else 'low'
            end
        else 'low'
    end
{%- endmacro %}
