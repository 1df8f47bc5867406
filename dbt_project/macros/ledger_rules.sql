{#- The working rules of the long-standing problem ledger (老大难台账) and the responsibility chain (多维责任主体链)
    where kpis.md is silent (models/intermediate/ledger, models/marts/ledger). The ledger's months and counts are
    the vars ledger_hotspot_months, ledger_lookback_months, ledger_min_channels and ledger_channel_months; the
    frontage radius is var('frontage_radius_m'). -#}


{#- kpis.md's four channels, from the unified events' kinds (int_events_unified): a hotline work order, a grid
    case, an enforcement case, a sensor exceedance episode. Illegal-parking events are no channel of the ledger
    (kpis.md names four); they map to null. -#}
{% macro ledger_channel(event_kind) -%}
    case {{ event_kind }}
        when 'hotline_order' then 'hotline'
        when 'grid_case' then 'grid'
        when 'enforcement_case' then 'enforcement'
        when 'sensor_exceedance' then 'sensor'
    end
{%- endmacro %}


{#- The channel a matter reached the district by (the ledger's channel rule counts these): an event filed from
    another channel's report is that report's channel, not a channel of its own - a grid case the hotline
    dispatched (origin hotline) is the caller's, a case a sensor alarm raised (origin sensor) the sensor's, an
    enforcement case the hotline or the grid referred (origin hotline; grid_direct, grid_redispatch) the
    referring report's (`referring_grid_channel`: the report channel of the grid case it names, when it names
    one). Only a report that arrives on its own adds a channel: an order, an inspector's or camera's grid case,
    an enforcement team's patrol, a tip-off or a superior's assignment, a sensor exceedance. Otherwise every
    call the grid files as a case, and every case it refers to enforcement, would make two channels alone. -#}
{% macro ledger_report_channel(event_kind, origin, referring_grid_channel) -%}
    case
        when {{ event_kind }} = 'hotline_order' then 'hotline'
        when {{ event_kind }} = 'sensor_exceedance' then 'sensor'
        when {{ event_kind }} = 'grid_case' and {{ origin }} = 'hotline' then 'hotline'
        when {{ event_kind }} = 'grid_case' and {{ origin }} = 'sensor' then 'sensor'
        when {{ event_kind }} = 'grid_case' then 'grid'
        when {{ event_kind }} = 'enforcement_case' and {{ origin }} = 'hotline' then 'hotline'
        when {{ event_kind }} = 'enforcement_case' and {{ origin }} in ('grid_direct', 'grid_redispatch')
            then coalesce({{ referring_grid_channel }}, 'grid')
        when {{ event_kind }} = 'enforcement_case' then 'enforcement'
    end
{%- endmacro %}


{#- The district department each business domain belongs to (kpis.md: "the department that the matter's domain
    belongs to"), seed-free, by the hotline's department codes as the platform serves them in its dispatches
    (unit_type department): the department the district dispatches that domain's matters to.
      road_dust          D04 区住房和城乡建设委员会  (dust: construction sites and muck; the hotline's dust group goes there)
      cooking_fume       D03 区生态环境局            (fume analysers, DB11/1488-2018)
      garbage_sorting    D01 区城市管理委员会
      sanitation_vehicle D01 区城市管理委员会        (环卫)
      personnel          D01 区城市管理委员会        (the sanitation workforce)
      enforcement        D02 区城管执法局
      grid_supervision   D01 区城市管理委员会        (municipal facilities; the grid centre reports to it)
      static_traffic     D06 东城交通支队
      heavy_diesel       D03 区生态环境局            (vehicle emissions)
    A matter without a domain (the hotline groups property, utilities, social, other) has no department here. -#}
{% macro ledger_department_code(domain_code) -%}
    case {{ domain_code }}
        when 'road_dust' then 'D04'
        when 'cooking_fume' then 'D03'
        when 'garbage_sorting' then 'D01'
        when 'sanitation_vehicle' then 'D01'
        when 'personnel' then 'D01'
        when 'enforcement' then 'D02'
        when 'grid_supervision' then 'D01'
        when 'static_traffic' then 'D06'
        when 'heavy_diesel' then 'D03'
    end
{%- endmacro %}

{% macro ledger_department_name(department_code) -%}
    case {{ department_code }}
        when 'D01' then '区城市管理委员会'
        when 'D02' then '区城管执法局'
        when 'D03' then '区生态环境局'
        when 'D04' then '区住房和城乡建设委员会'
        when 'D06' then '东城交通支队'
    end
{%- endmacro %}


{#- "Recent" exceedances of the responsibility chain: episodes that began at most this many days before the data's
    now (the newest event). A setting (links.recent_exceedance_days): an exceedance has no workflow to be open in, and a
    month is the span the district reviews a place's recurrences over (hotspot_window_days' default). -#}
{% macro ledger_recent_days() -%}
    {{ var('link_recent_exceedance_days') }}
{%- endmacro %}


{#- The months before the current one the ledger's evaluation reads: the hotspot rule's lookback, and the channel
    rule's run of months one month further back (read while the current month is incomplete). Index 0 is the
    current month. -#}
{% macro ledger_months_evaluated() -%}
    greatest({{ var('ledger_lookback_months') }}, {{ var('ledger_channel_months') }} + 1)
{%- endmacro %}
