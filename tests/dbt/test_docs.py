"""`dbt docs generate` works, and every shared mart and every one of its columns is described."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from gridlake.settings import Settings
from gridlake.transform import paths, run_dbt


def test_docs_generate_and_every_mart_and_column_is_described(built, settings, tmp_path: Path) -> None:
    # On a copy of the warehouse: the session's read-only connection (``built``) keeps the file open.
    home = Settings(home=tmp_path)
    paths(home).warehouse.parent.mkdir(parents=True)
    shutil.copy(paths(settings).warehouse, paths(home).warehouse)
    (tmp_path / "lake").symlink_to(paths(settings).lake)
    run_dbt(["docs", "generate"], settings=home)
    target = paths(home).target
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    catalog = json.loads((target / "catalog.json").read_text(encoding="utf-8"))
    marts = {uid: node for uid, node in manifest["nodes"].items()
             if node["resource_type"] == "model" and node["fqn"][1] == "marts"}
    assert marts, "no mart in the project"
    undescribed: list[str] = []
    for uid, node in marts.items():
        if not node["description"].strip():
            undescribed.append(node["name"])
        columns = catalog["nodes"][uid]["columns"]  # what the warehouse really holds
        assert columns, f"{node['name']} is not in the catalog"
        for column in columns:
            documented = node["columns"].get(column.lower()) or node["columns"].get(column)
            if documented is None or not documented["description"].strip():
                undescribed.append(f"{node['name']}.{column}")
    assert undescribed == []
