{#- The latest version of each key among a raw entity's rows, as a select (staging's `latest` CTE). Versions are
    ordered by the platform's updated time, then by landing (a version landed again later wins over its earlier
    landing, as an incremental run's replacement does: macros/citymgmt_readings.sql), then by batch. `key`: an
    expression over the raw columns (a code is compared normalised). -#}
{% macro latest_versions(relation, key) -%}
    select *
    from {{ relation }}
    qualify row_number() over (
        partition by {{ key }}
        order by updated_at desc, _ingested_at desc, _batch_id desc
    ) = 1
{%- endmacro %}
