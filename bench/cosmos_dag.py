"""Cosmos renderings of the dbt project, for ``bench/build.py --cosmos`` only: what the ``transform`` DAG would cost
with a task per model, or a task per layer, instead of its one ``dbt build`` task. Outside ``dags/``, so that no
scheduler loads them; they need the ``cosmos`` dependency group (``uv sync --group cosmos``).

Every DAG runs dbt in the Airflow worker (``ExecutionMode.LOCAL``, ``dbtRunner``), with the in-project profile and
the vars and environment ``gridlake build`` passes (``gridlake.transform``), and is rendered from the manifest of
the last build under ``$GRIDLAKE_HOME`` (``LoadMode.DBT_MANIFEST``: no dbt command when the file is parsed):

- ``transform_cosmos_model``: Cosmos' default, a task per seed and model, each model's tests in a task after it
  (``TestBehavior.AFTER_EACH``);
- ``transform_cosmos_build``: a task per seed and model running ``dbt build`` on it, its tests included
  (``TestBehavior.BUILD``);
- ``transform_cosmos_layer``: four ``dbt build`` tasks, one per layer (seeds, staging, intermediate, marts), each
  with the tests whose parents are built by then (``--indirect-selection buildable``): the same 617 nodes.

Cosmos runs each command in a copy of the project made in the temporary directory; the project reads part of its
seeds from ``../gridlake/reference_data``, so the benchmark points ``TMPDIR`` at a folder where that path exists.
It also turns Cosmos' usage statistics off (``AIRFLOW__COSMOS__ENABLE_TELEMETRY=False``): each task would call out.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from cosmos import DbtDag, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos import settings as cosmos_settings
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from cosmos.operators.local import DbtBuildLocalOperator

from gridlake.transform import PROJECT_DIR, dbt_env, dbt_vars, paths

LAYERS = {"seeds": "resource_type:seed", "staging": "staging", "intermediate": "intermediate", "marts": "marts"}

_where = paths()
_project = ProjectConfig(dbt_project_path=PROJECT_DIR, manifest_path=_where.target / "manifest.json",
                         dbt_vars=dbt_vars(), env_vars=dbt_env(_where), install_dbt_deps=False)
_profile = ProfileConfig(profile_name="gridlake", target_name="lake",
                         profiles_yml_filepath=PROJECT_DIR / "profiles.yml")
_execution = ExecutionConfig(execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER)
_common = {"schedule": None, "start_date": pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"), "catchup": False,
           "default_args": {"owner": "gridlake", "retries": 0}, "tags": ["gridlake", "bench"]}

transform_cosmos_model = DbtDag(
    dag_id="transform_cosmos_model",
    project_config=_project, profile_config=_profile, execution_config=_execution,
    render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_EACH),
    **_common,
)

transform_cosmos_build = DbtDag(
    dag_id="transform_cosmos_build",
    project_config=_project, profile_config=_profile, execution_config=_execution,
    render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.BUILD),
    **_common,
)

with DAG(dag_id="transform_cosmos_layer", **_common) as transform_cosmos_layer:
    previous = None
    for layer, selector in LAYERS.items():
        built = DbtBuildLocalOperator(
            task_id=layer, project_dir=str(PROJECT_DIR), profile_config=_profile,
            invocation_mode=InvocationMode.DBT_RUNNER, install_deps=False,
            select=selector, indirect_selection="buildable", vars=dbt_vars(), env=dbt_env(_where),
            # where a DbtDag keeps dbt's partial parse between tasks: without it, each task parses the project anew
            cache_dir=cosmos_settings.cache_dir / "transform_cosmos_layer",
        )
        if previous is not None:
            previous >> built
        previous = built
