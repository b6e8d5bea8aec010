{#- Cluster-aware pieces for the DDL and system-table reads the project writes itself, rendered
    the way dbt-clickhouse renders its own from the same profile (`cluster`, `database_engine`):
    hooks/enrich/ddl.py is the Python twin of these macros. -#}

{#- ` on cluster "NAME"` when dbt-clickhouse would add it to a statement (a cluster is
    configured and the database engine is not Replicated, which replicates DDL by itself), else ''. -#}
{% macro on_cluster() %}
  {%- set cluster = adapter.get_clickhouse_cluster_name() -%}
  {%- if cluster is not none and adapter.should_on_cluster() -%}
    {{- return(' on cluster ' ~ cluster) -}}
  {%- endif -%}
  {{- return('') -}}
{% endmacro %}

{#- A system table as every node sees it: `clusterAllReplicas` when a cluster is configured, so
    parts and mutations of every replica count, not only those of the node that answers. -#}
{% macro cluster_system_table(name) %}
  {%- set cluster = adapter.get_clickhouse_cluster_name() -%}
  {%- if cluster is not none -%}
    {{- return('clusterAllReplicas(' ~ cluster ~ ', system.' ~ name ~ ')') -}}
  {%- endif -%}
  {{- return('system.' ~ name) -}}
{% endmacro %}

{#- ENGINE for a table the project creates outside a materialization: the Replicated variant of a
    MergeTree-family engine when a cluster is configured, as the models get through `+engine`. -#}
{% macro table_engine(engine) %}
  {%- if adapter.get_clickhouse_cluster_name() is not none and modules.re.match('^[A-Za-z]*MergeTree\\b', engine)
        and not engine.startswith('Replicated') -%}
    {{- return('Replicated' ~ engine) -}}
  {%- endif -%}
  {{- return(engine) -}}
{% endmacro %}

{#- Root override of dbt-clickhouse's create_table_as for the tables dbt's test materialization
    stores failures in: it builds their relation bare (`api.Relation.create`), which never carries
    ON CLUSTER, so on a cluster the gates' tables would exist on one node only. Everything else
    goes to the adapter's macro unchanged. -#}
{% macro clickhouse__create_table_as(temporary, relation, sql) -%}
  {%- if not temporary and model.resource_type == 'test' and on_cluster() -%}
    {%- set relation = relation.incorporate(can_on_cluster=True) -%}
  {%- endif -%}
  {{- return(dbt.clickhouse__create_table_as(temporary, relation, sql)) -}}
{%- endmacro %}
