"""The access policies (``policies.yaml``, data in the repository): per role, the datasets it may read, the rows it
may see of each (a condition on the user's attributes) and the columns shown empty to it; the columns no role sees.

Loading checks the file whole - every dataset a shared dataset, every condition a SQL expression - so a mistake in
it stops the service at start, not a query at run time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlglot
import yaml
from sqlglot import exp

from expectations import DATASETS

__all__ = ["DatasetRule", "Policies", "PolicyError", "Role", "User", "load_policies"]

DEFAULT_PATH = Path(__file__).with_name("policies.yaml")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class PolicyError(ValueError):
    """The policy file is wrong, or a user lacks an attribute the role's conditions need."""


@dataclass(frozen=True)
class DatasetRule:
    dataset: str
    rows: str | None = None  # a condition with {attribute} placeholders
    mask: tuple[str, ...] = ()

    def condition(self, attributes: dict[str, Any]) -> str | None:
        """The row condition with the user's attributes written in as SQL literals."""
        if not self.rows:
            return None

        def literal(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in attributes:
                raise PolicyError(f"{self.dataset}: the condition needs the attribute {name!r}, which the user lacks")
            value = attributes[name]
            if isinstance(value, list | tuple):
                return "(" + ", ".join(exp.Literal.string(str(item)).sql() for item in value) + ")"
            return exp.Literal.string(str(value)).sql()

        return _PLACEHOLDER.sub(literal, self.rows)


@dataclass(frozen=True)
class Role:
    name: str
    title: str
    datasets: dict[str, DatasetRule]
    requires: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    reports: bool = False
    alerts: bool = False


@dataclass(frozen=True)
class User:
    """Who calls: a token's user, role and attributes (a street office's street_code)."""

    name: str
    role: Role
    attributes: dict[str, Any]
    token_id: str = ""

    def rule(self, dataset: str) -> DatasetRule | None:
        return self.role.datasets.get(dataset)


@dataclass(frozen=True)
class Policies:
    roles: dict[str, Role]
    never: frozenset[str]

    def user(self, name: str, role: str, attributes: dict[str, Any] | None = None, *, token_id: str = "") -> User:
        """A user of ``role`` with its attributes (the role's defaults, completed by ``attributes``)."""
        if role not in self.roles:
            raise PolicyError(f"unknown role {role!r}: one of {', '.join(sorted(self.roles))}")
        found = self.roles[role]
        merged = {**found.attributes, **(attributes or {})}
        missing = [name for name in found.requires if not merged.get(name)]
        if missing:
            raise PolicyError(f"role {role} needs the attribute(s) {', '.join(missing)} (e.g. --street 110101001)")
        for rule in found.datasets.values():
            rule.condition(merged)  # every condition can be written for this user
        return User(name, found, merged, token_id)


def _rule(role: str, dataset: str, spec: dict[str, Any] | None) -> DatasetRule:
    if dataset not in DATASETS:
        raise PolicyError(f"role {role}: {dataset!r} is not a shared dataset ({', '.join(DATASETS)})")
    spec = spec or {}
    unknown = set(spec) - {"rows", "mask"}
    if unknown:
        raise PolicyError(f"role {role}, {dataset}: unknown keys {sorted(unknown)} (rows, mask)")
    rows = spec.get("rows")
    if rows:
        try:
            parsed = [node for node in sqlglot.parse(_PLACEHOLDER.sub("'x'", rows), read="duckdb") if node]
        except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as err:
            raise PolicyError(f"role {role}, {dataset}: rows is not a SQL condition: {str(err).splitlines()[0]}"
                              ) from None
        # one condition, spliced into a WHERE: not several statements, not a query, nothing reading other rows
        if (len(parsed) != 1 or not isinstance(parsed[0], exp.Condition) or isinstance(parsed[0], exp.Query)
                or parsed[0].find(exp.Select, exp.Subquery, exp.Query)):
            raise PolicyError(f"role {role}, {dataset}: rows must be one condition on the dataset's columns, "
                              f"not {rows!r}")
    return DatasetRule(dataset, rows, tuple(spec.get("mask") or ()))


def load_policies(path: Path = DEFAULT_PATH) -> Policies:
    """Read and check a policy file."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    roles = {}
    for name, spec in (document.get("roles") or {}).items():
        datasets = spec.get("datasets")
        if datasets == "all":
            rules = {dataset: DatasetRule(dataset) for dataset in DATASETS}
        elif isinstance(datasets, dict):
            rules = {dataset: _rule(name, dataset, rule) for dataset, rule in datasets.items()}
        else:
            raise PolicyError(f"role {name}: datasets must be 'all' or a mapping of dataset to rule")
        roles[name] = Role(name, spec.get("title", name), rules, tuple(spec.get("requires") or ()),
                           dict(spec.get("attributes") or {}), bool(spec.get("reports")), bool(spec.get("alerts")))
    if not roles:
        raise PolicyError(f"{path}: no roles")
    return Policies(roles, frozenset(document.get("never") or ()))


@lru_cache(maxsize=1)
def default_policies() -> Policies:
    return load_policies()
