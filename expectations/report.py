"""The gates' Data Docs: a self-contained HTML page per dataset and run, and the run's index, in Chinese.

GX's own Data Docs load Bootstrap, jQuery, Font Awesome and Vega from CDNs (its templates link them), so on the
centre's network, which has no internet, they render unstyled and without their tables' controls. These pages
carry their CSS inline and no script: they render the same anywhere, from the same results as the JSON.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["write_index", "write_page"]

_TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    environment = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters["shown"] = _shown
    environment.filters["moment"] = _moment
    return environment


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _moment(value: str | None) -> str:
    """An ISO time (the JSON's, Beijing) as staff read it: 2026-11-05 13:00:00."""
    if not value:
        return "—"
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")


def _write(path: Path, template: str, **values: Any) -> None:
    html = _environment().get_template(template).render(**values)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(html, encoding="utf-8")
    temporary.replace(path)


def write_page(path: Path, document: Mapping[str, Any]) -> None:
    """One dataset's page of a run, from the document its JSON holds."""
    _write(path, "dataset.html.j2", d=document)


def write_index(path: Path, *, run_id: str, results: Sequence[Mapping[str, Any]], context: Any) -> None:
    """The run's index: every dataset validated, passed or not, and why not."""
    from expectations.builders import BEIJING

    _write(path, "index.html.j2", run_id=run_id, results=results,
           now=context.now.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
           newest_raw_at=context.newest_raw_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
           if context.newest_raw_at else None)
