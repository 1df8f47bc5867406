{#- Where the sensors are: the nearest unit grid of a point (macros/places_locate.sql's bucketed join against
    int_grid_cells_indexed; farther than places_max_cell_distance_m() from every centroid, nowhere), for the
    register rows and fixes that carry a point but no usable street (parking lots, garbage stations, diesel OBD
    fixes). -#}


{#- A select of `key` (the relation's key column, kept under its name) with the nearest cell's grid_code,
    street_code, community_code and distance_m (ties by grid code), for the rows of `relation` that have a
    cell within reach; rows without one are not in it (left join it). -#}
{% macro iot_nearest_cell(relation, key, lat='lat', lon='lon') -%}
    select
        {{ key }},
        grid_code,
        cell_street_code as street_code,
        cell_community_code as community_code,
        distance_m
    from (
        {{ places_pairs_within(
            relation,
            '(select grid_code, street_code as cell_street_code, community_code as cell_community_code, '
            ~ 'centroid_lat, centroid_lon from ' ~ ref('int_grid_cells_indexed') ~ ')',
            places_max_cell_distance_m(),
            left_columns=[key], right_columns=['grid_code', 'cell_street_code', 'cell_community_code'],
            left_lat=lat, left_lon=lon, right_lat='centroid_lat', right_lon='centroid_lon',
        ) }}
    ) as pairs
    qualify row_number() over (partition by {{ key }} order by distance_m, grid_code) = 1
{%- endmacro %}
