{# The platform's own festivals: sales events whose dates it sets itself, or that move from
   year to year (a brand day, a lunar-calendar festival), which no fixed calendar can know.
   The platform lists every occurrence in SUPPLYLOOP_FESTIVALS (or the dbt var
   platform_festivals), comma-separated, each `name:YYYY-MM-DD[:size]`: the festival's name, its
   peak day, and its extra demand relative to 6.18 (= 1.0; default 0.5), e.g.
       SUPPLYLOOP_FESTIVALS=brand_day:2025-12-20:0.6,brand_day:2026-11-18:0.6
   Read when the SQL runs, like the build window: a new list re-runs the forecast, no code
   changes. int_festival_days_listed gives each one the phases final_sprint (2 days before),
   peak and after (the day after); their uplifts are measured like any festival's. #}
{% macro platform_festivals() -%}
    {%- set value = var("platform_festivals", "") or (env_var("SUPPLYLOOP_FESTIVALS", "") if execute else "") -%}
    {%- set festivals = [] -%}
    {%- for item in value.split(",") | map("trim") | reject("equalto", "") -%}
        {%- set parts = item.split(":") | map("trim") | list -%}
        {%- if parts | length not in (2, 3) or not modules.re.match("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", parts[1]) or not modules.re.match("^[A-Za-z0-9_.-]+$", parts[0]) -%}
            {{ exceptions.raise_compiler_error("SUPPLYLOOP_FESTIVALS: '" ~ item ~ "' is not name:YYYY-MM-DD[:size] (e.g. brand_day:2026-11-18:0.6); fix the setting and run again") }}
        {%- endif -%}
        {%- set size = parts[2] if parts | length == 3 else "0.5" -%}
        {%- if not modules.re.match("^[0-9]+([.][0-9]+)?$", size) -%}
            {{ exceptions.raise_compiler_error("SUPPLYLOOP_FESTIVALS: the size of '" ~ item ~ "' must be a number (its demand relative to 6.18 = 1.0)") }}
        {%- endif -%}
        {%- do festivals.append({"festival": parts[0], "peak_day": parts[1], "size": size}) -%}
    {%- endfor -%}
    {%- do return(festivals) -%}
{%- endmacro %}
