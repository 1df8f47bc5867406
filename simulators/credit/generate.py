"""Generate the district credit platform (区信用平台): subject files and credit records, every version.

The subjects are the world's market subjects, with a registration history: a status, a credit level, an
establishment date, a registered address and a legal representative (personal data), each file last
touched some time in the past, some touched during the span and some after it (hidden behind the clock,
revealed as it moves). Many subjects have a few credit records: licences, penalties, red and black lists,
credit commitments; some are withdrawn later (信用修复).

Penalty records follow the enforcement platform's decided fines (``ctx.shared["enforcement_cases"]``), and
each black-listed enterprise of the scenario gets its black-list record in force and its penalties with the
scenario's record ids. Background black-list records exist too, but never in force (expired or repaired).

Dirty records are injected at ``DIRTY_RATES`` (at least one of each kind), only among subjects and records no
other platform names and only where visible from the clock's first "now": clean subjects carry valid codes,
names with ASCII brackets at most, and clean records ``valid_until`` on or after ``decided_on``.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gridlake import uscc as uscc_codes
from gridlake.reference import communities, streets
from simulators.clock import to_micros
from simulators.enforcement.matters import matter
from simulators.fake import ROADS, person_name
from simulators.generate import GenContext, PlatformResult
from simulators.scenario import TZ
from simulators.store import write_versions
from simulators.world import rng_for

__all__ = ["DIRTY_RATES", "generate"]

# Dirty kinds and their rates: of the subjects (first four) or of the records (last two).
DIRTY_RATES: dict[str, float] = {
    "uscc_bad_check": 0.003,
    "registration_number": 0.003,
    "re_registration": 0.002,
    "name_full_width_brackets": 0.01,
    "valid_until_before_decided": 0.005,
    "record_of_unlisted_subject": 0.003,
}
_SUBJECT_KINDS = ("uscc_bad_check", "registration_number", "re_registration", "name_full_width_brackets")

# Daily rates of subject-file changes and of new records, per subject; at least a couple a day.
_UPDATE_RATE = 0.004
_NEW_RECORD_RATE = 0.002
_MIN_PER_DAY = 2
# Share of subjects with records, and the kinds of their background records.
_WITH_RECORDS = 0.6
_KIND_WEIGHTS = {"licence": 0.55, "commitment": 0.2, "penalty": 0.15, "red_list": 0.07, "black_list": 0.03}
# Subjects whose name carries a bracketed place, written cleanly with ASCII brackets.
_CLEAN_BRACKETS = 0.01
_ENFORCEMENT_AUTHORITY = "北京市东城区城市管理综合行政执法局"
_AUTHORITIES: dict[str, tuple[tuple[str, str], ...]] = {
    # kind: (authority, decision number prefix) choices
    "licence": (
        ("北京市东城区市场监督管理局", "京东市监许"),
        ("北京市东城区住房和城乡建设委员会", "京东建许"),
        ("北京市东城区城市管理委员会", "京东管许"),
    ),
    "penalty": (("北京市东城区市场监督管理局", "京东市监罚"), ("国家税务总局北京市东城区税务局", "京东税罚")),
    "red_list": (
        ("国家税务总局北京市东城区税务局", "京东税信"),
        ("北京市东城区市场监督管理局", "京东市监信"),
    ),
    "black_list": (("北京市东城区市场监督管理局", "京东市监失信"),),
    "commitment": (("北京市东城区发展和改革委员会", "京东发改承诺"),),
}
_CONTENTS: dict[str, tuple[str, ...]] = {
    "licence": (
        "食品经营许可",
        "建筑工程施工许可",
        "户外广告设施设置许可",
        "城市道路占用挖掘许可",
        "排水许可",
    ),
    "penalty": ("未按规定公示年度报告", "虚假宣传", "未按期申报纳税", "销售不合格商品"),
    "red_list": ("纳税信用A级纳税人", "守合同重信用企业", "诚信经营示范单位"),
    "black_list": ("列入严重违法失信名单", "列入经营异常名录"),
    "commitment": ("信用承诺（告知承诺制审批）", "信用承诺（证明事项告知承诺）", "信用修复承诺"),
}
_BACKGROUND_FINES = (500, 1000, 2000, 5000, 10000, 20000, 50000)


class _Draw:
    """Marks a record field the builder draws itself (None is a value: no end of validity)."""


_DRAW = _Draw()


@dataclass
class _Subject:
    uscc: str  # as served
    base: dict[str, Any]
    changes: list[tuple[datetime, dict[str, Any]]] = field(default_factory=list)
    dirty: str | None = None


@dataclass
class _Record:
    record_id: str
    uscc: str  # as served
    kind: str
    authority: str
    decision_no: str
    decided_on: date
    valid_until: date | None
    content: str
    penalty_cny: float | None
    published_at: datetime
    revoked_at: datetime | None = None
    dirty: str | None = None
    planted: bool = False


def _one(rng: np.random.Generator, options: tuple | list, p: tuple | list | None = None) -> Any:
    """One of ``options`` (weighted by ``p``): ``Generator.choice`` without its per-call overhead."""
    if p is None:
        return options[int(rng.integers(0, len(options)))]
    return options[min(bisect.bisect_right(list(accumulate(p)), rng.random() * sum(p)), len(options) - 1)]


def _at_work(day: date, rng: np.random.Generator) -> datetime:
    """A moment of a working day (08:30-18:00) on ``day``."""
    return datetime.combine(day, time(8, 30), TZ) + timedelta(seconds=int(rng.integers(0, 34_200)))


def _day(moment: datetime) -> date:
    return moment.astimezone(TZ).date()


def _iso(moment: datetime) -> str:
    return moment.astimezone(TZ).isoformat(timespec="seconds")


def _registration_number(rng: np.random.Generator) -> str:
    """An old 15-digit business registration number (工商注册号): region, sequence, ISO 7064 MOD 11,10."""
    body = "110101" + "".join(str(d) for d in rng.integers(0, 10, size=8))
    product = 10
    for char in body:
        total = (product + int(char)) % 10 or 10
        product = (total * 2) % 11
    return body + str((11 - product) % 10)


class _Codes:
    """Fresh valid codes no subject of the world holds (re-registrations, subjects the platform lacks)."""

    def __init__(self, used: set[str], rng: np.random.Generator) -> None:
        self.used = set(used)
        self.rng = rng

    def fresh(self, *, head: str = "91") -> str:
        """A new Dongcheng code; ``head`` is the authority and kind (91 enterprise, 92 individual)."""
        alphabet = list(uscc_codes.ALPHABET)
        while True:
            code = uscc_codes.complete(f"{head}110101" + "".join(self.rng.choice(alphabet, size=9)))
            if code not in self.used:
                self.used.add(code)
                return code


class _Builder:
    """Holds the generation state: subjects, records, id sequences and the random stream."""

    def __init__(self, ctx: GenContext) -> None:
        self.ctx = ctx
        self.rng = rng_for(ctx.seed, "credit")
        self.subjects: list[_Subject] = []
        self.records: list[_Record] = []
        self._record_seq = int(self.rng.integers(1_000_000, 2_000_000))
        self._decision_seq: dict[tuple[str, int], int] = {}
        self.street_name = {street.street_code: street.street_name for street in streets()}
        self.community_name = {
            item.community_code: item.community_name.removesuffix("居委会") for item in communities()
        }

    # ids and texts
    def record_id(self) -> str:
        self._record_seq += 1
        return f"CR{self._record_seq:08d}"

    def decision_no(self, prefix: str, year: int) -> str:
        key = (prefix, year)
        self._decision_seq[key] = self._decision_seq.get(key, int(self.rng.integers(100, 900))) + 1
        return f"{prefix}〔{year}〕{self._decision_seq[key]}号"

    def address(self, street_code: str, community_code: str) -> str:
        road = _one(self.rng, ROADS)
        text = f"北京市东城区{self.street_name[street_code]}{self.community_name[community_code]}{road}"
        text += f"{int(self.rng.integers(1, 240))}号"
        if self.rng.random() < 0.4:
            text += f"{int(self.rng.integers(1, 12))}号楼{int(self.rng.integers(101, 2200))}室"
        return text

    def person(self) -> str:
        return person_name(self.rng)

    def record(
        self,
        *,
        uscc: str,
        kind: str,
        decided_on: date,
        published_at: datetime,
        record_id: str | None = None,
        authority: tuple[str, str] | None = None,
        content: str | None = None,
        penalty_cny: float | None = None,
        valid_until: date | None | _Draw = _DRAW,
    ) -> _Record:
        """Add a record; what is not given is drawn (authority, content, fine, validity by kind)."""
        rng = self.rng
        choices = _AUTHORITIES[kind]
        name, prefix = authority or choices[int(rng.integers(0, len(choices)))]
        if isinstance(valid_until, _Draw):
            years = {
                "licence": 5,
                "commitment": int(rng.integers(1, 4)),
                "red_list": int(rng.integers(2, 4)),
                "penalty": _one(rng, (1, 3)),
                "black_list": 3,
            }[kind]
            valid_until = (
                None
                if kind == "licence" and rng.random() < 0.2
                else (decided_on + timedelta(days=365 * years))
            )
        if kind == "penalty" and penalty_cny is None:
            penalty_cny = float(_one(rng, _BACKGROUND_FINES))
        if content is None:
            options = _CONTENTS[kind]
            content = str(options[int(rng.integers(0, len(options)))])
            if kind == "penalty":
                content += f"，罚款{int(penalty_cny or 0)}元"
        item = _Record(
            record_id=record_id or self.record_id(),
            uscc=uscc,
            kind=kind,
            authority=name,
            decision_no=self.decision_no(prefix, decided_on.year),
            decided_on=decided_on,
            valid_until=valid_until,
            content=content,
            penalty_cny=penalty_cny,
            published_at=published_at,
        )
        self.records.append(item)
        return item


def _pick(rng: np.random.Generator, pool: list[int], count: int, taken: set[int]) -> list[int]:
    free = [index for index in pool if index not in taken]
    picks = sorted(free[int(p)] for p in rng.choice(len(free), size=min(count, len(free)), replace=False))
    taken.update(picks)
    return picks


def _dirty_count(kind: str, n: int) -> int:
    return max(1, int(round(DIRTY_RATES[kind] * n)))


def _bracket_name(name: str, *, full_width: bool) -> str:
    """北京X有限公司 → X(北京)有限公司, the 字号(行政区划)组织形式 pattern."""
    left, right = ("（", "）") if full_width else ("(", ")")
    return f"{name[2:-4]}{left}北京{right}有限公司"


def _subjects(b: _Builder) -> dict[str, Any]:
    """The subject files (with their change history) and the subject-level dirt; returns truth parts."""
    ctx, rng = b.ctx, b.rng
    world = ctx.world
    table = world.subjects.to_pylist()
    n = len(table)
    start_day, end_day = _day(ctx.start), _day(ctx.end)

    # Dirt and renaming go only to individual businesses (not restaurants) that no other platform names:
    # the statistics bureau's key enterprises are companies, hotline, grid and enforcement name restaurants,
    # the scenario's enterprises and the enforcement parties, whose codes must join across platforms.
    named = {chain.uscc for chain in ctx.scenario.fume_chains} | {
        case.uscc for case in ctx.scenario.blacklisted
    }
    for key, column in (
        ("enforcement_cases", "party_uscc"),
        ("grid_cases", "uscc"),
        ("hotline_orders", "uscc"),
    ):
        shared = ctx.shared.get(key)
        if shared is not None:
            named |= {code for code in pc.unique(shared[column]).to_pylist() if code}
    pool = [
        index
        for index, row in enumerate(table)
        if row["individual"] and not row["is_restaurant"] and row["uscc"] not in named
    ]
    plain_named = [
        index
        for index in pool
        if table[index]["name"].startswith("北京")
        and table[index]["name"].endswith("有限公司")
        and not any(char.isdigit() for char in table[index]["name"])
    ]
    blacklisted = {case.uscc: case for case in ctx.scenario.blacklisted}

    taken: set[int] = set()
    dirty_rows = {
        "re_registration": _pick(rng, plain_named, _dirty_count("re_registration", n), taken),
        "name_full_width_brackets": _pick(
            rng, plain_named, _dirty_count("name_full_width_brackets", n), taken
        ),
        "uscc_bad_check": _pick(rng, pool, _dirty_count("uscc_bad_check", n), taken),
        "registration_number": _pick(rng, pool, _dirty_count("registration_number", n), taken),
    }
    clean_brackets = set(_pick(rng, plain_named, int(round(_CLEAN_BRACKETS * n)), taken))
    # Subjects registered during the span: only those no other platform names.
    new_in_span = set(_pick(rng, pool, max(1, int(round(0.01 * n))), set(taken)))
    kind_of = {index: kind for kind, rows in dirty_rows.items() for index in rows}
    pool_set = set(pool)

    true_codes: dict[str, str] = {}
    for index, row in enumerate(table):
        code = row["uscc"]
        kind = kind_of.get(index)
        served = code
        if kind == "uscc_bad_check":
            wrong = [char for char in uscc_codes.ALPHABET if char != code[17]]
            served = code[:17] + wrong[int(rng.integers(0, len(wrong)))]
        elif kind == "registration_number":
            served = _registration_number(rng)
        if served != code:
            true_codes[served] = code
        name = row["name"]
        if kind == "name_full_width_brackets" or index in clean_brackets:
            name = _bracket_name(name, full_width=kind == "name_full_width_brackets")
        if index in new_in_span:
            established = start_day + timedelta(days=int(rng.integers(0, ctx.days)))
            first_version = _at_work(established, rng)
        else:
            established = start_day - timedelta(days=int(rng.integers(60, 30 * 365)))
            oldest = max(established, start_day - timedelta(days=3 * 365))
            first_version = _at_work(
                oldest + timedelta(days=int(rng.integers(0, (start_day - oldest).days))), rng
            )
        if index not in pool_set or index in dirty_rows["re_registration"]:
            status = "active"  # files other platforms rely on stay in business
        else:
            status = _one(rng, ("active", "revoked", "cancelled"), (0.9, 0.03, 0.07))
        level = row["credit_level"]
        if code in blacklisted:
            level = "D"
            established = min(established, blacklisted[code].black_listed_on - timedelta(days=400))
            first_version = max(first_version, _at_work(blacklisted[code].black_listed_on, rng))
        b.subjects.append(
            _Subject(
                uscc=served,
                dirty=kind,
                base={
                    "uscc": served,
                    "name": name,
                    "legal_representative": row["legal_representative"],
                    "registered_address": b.address(row["street_code"], row["community_code"]),
                    "street_code": row["street_code"],
                    "industry_code": row["industry_code"],
                    "registered_capital_wan_cny": row["registered_capital_wan_cny"],
                    "established_on": established.isoformat(),
                    "status": status,
                    "credit_level": level,
                },
                changes=[(first_version, {})],
            )
        )

    # Re-registrations: the old registration of the same name, cancelled when the new one was made.
    pairs = []
    codes = _Codes({row["uscc"] for row in table} | set(true_codes), rng)
    for index in dirty_rows["re_registration"]:
        current = b.subjects[index]
        new_established = date.fromisoformat(current.base["established_on"])
        old_code = codes.fresh(head=current.uscc[:2])
        cancelled_on = min(new_established, start_day - timedelta(days=1))
        old = _Subject(
            uscc=old_code,
            dirty="re_registration",
            base=current.base
            | {
                "uscc": old_code,
                "established_on": (
                    new_established - timedelta(days=int(rng.integers(700, 3650)))
                ).isoformat(),
                "status": "cancelled",
                "credit_level": "B",
                "registered_capital_wan_cny": round(float(current.base["registered_capital_wan_cny"]) / 2, 2),
            },
            changes=[(_at_work(cancelled_on, rng), {})],
        )
        b.subjects.append(old)
        pairs.append({"name": current.base["name"], "usccs": [old_code, current.uscc]})
        licence_on = date.fromisoformat(old.base["established_on"]) + timedelta(
            days=int(rng.integers(10, 300))
        )
        b.record(uscc=old_code, kind="licence", decided_on=licence_on, published_at=_at_work(licence_on, rng))

    # File changes: during the span at the daily rate, after it at least a couple a day up to the horizon.
    changeable = [index for index in range(n) if index not in new_in_span]
    day = start_day
    while day < _day(ctx.horizon):
        expected = _UPDATE_RATE * n
        count = int(rng.poisson(expected)) if day < end_day else max(_MIN_PER_DAY, int(rng.poisson(expected)))
        for pick in rng.choice(len(changeable), size=min(count, len(changeable)), replace=False):
            index = changeable[int(pick)]
            subject = b.subjects[index]
            at = _at_work(day, rng)
            if at >= ctx.horizon or at <= subject.changes[-1][0]:
                continue
            subject.changes.append((at, _change(b, subject, table[index], blacklisted)))
        day += timedelta(days=1)

    ids = {kind: sorted(b.subjects[index].uscc for index in rows) for kind, rows in dirty_rows.items()}
    ids["re_registration"] = sorted(pair["usccs"][0] for pair in pairs)
    return {"ids": ids, "true_codes": true_codes, "pairs": pairs}


def _change(b: _Builder, subject: _Subject, row: dict[str, Any], blacklisted: dict) -> dict[str, Any]:
    """One change of a subject's file: its level, address, representative or capital."""
    rng = b.rng
    what = _one(
        rng,
        ("credit_level", "registered_address", "legal_representative", "registered_capital_wan_cny"),
        (0.35, 0.3, 0.15, 0.2),
    )
    if what == "credit_level" and row["uscc"] not in blacklisted:
        return {"credit_level": _one(rng, ("A", "B", "C"))}
    if what == "legal_representative":
        return {"legal_representative": b.person()}
    if what == "registered_capital_wan_cny":
        return {
            "registered_capital_wan_cny": round(
                float(row["registered_capital_wan_cny"]) * _one(rng, (1.5, 2.0, 3.0)), 2
            )
        }
    return {"registered_address": b.address(row["street_code"], row["community_code"])}


def _planted_records(b: _Builder, served: dict[str, str]) -> dict[str, Any]:
    """Black-listed enterprises' records with the scenario's ids, and the enforcement platform's fines."""
    ctx, rng = b.ctx, b.rng
    decided_of: dict[str, datetime] = {}
    enforcement = ctx.shared.get("enforcement_cases")
    rows = enforcement.to_pylist() if enforcement is not None else []
    for row in rows:
        if row["decided_at"] is not None:
            decided_of[row["case_id"]] = row["decided_at"]

    def published(decided: datetime) -> datetime:
        delay = timedelta(hours=float(rng.uniform(1, 48)))
        if decided < ctx.end:
            delay = min(delay, (ctx.end - decided) / 2)
        return (decided + delay).replace(microsecond=0)

    planted_cases: set[str] = set()
    blacklisted = []
    for case in ctx.scenario.blacklisted:
        listed = _at_work(case.black_listed_on, rng)
        b.record(
            uscc=case.uscc,
            kind="black_list",
            decided_on=case.black_listed_on,
            published_at=listed + timedelta(hours=2),
            record_id=case.black_list_record_id,
            content="列入严重违法失信名单：多次违法经营被行政处罚",
            valid_until=None if rng.random() < 0.5 else case.black_listed_on + timedelta(days=3 * 365),
        ).planted = True
        for record_id, case_id, filed, fine in zip(
            case.penalty_record_ids, case.enforcement_case_ids, case.enforcement_filed_at, case.penalties_cny
        ):
            decided = decided_of.get(case_id, filed + timedelta(days=1))
            b.record(
                uscc=case.uscc,
                kind="penalty",
                decided_on=_day(decided),
                published_at=published(decided),
                record_id=record_id,
                authority=(_ENFORCEMENT_AUTHORITY, "京东城执罚"),
                content=f"综合执法案件{case_id}：罚款{int(fine)}元",
                penalty_cny=float(fine),
            ).planted = True
            planted_cases.add(case_id)
        blacklisted.append(
            {
                "uscc": case.uscc,
                "black_list_record_id": case.black_list_record_id,
                "penalty_record_ids": list(case.penalty_record_ids),
                "enforcement_case_ids": list(case.enforcement_case_ids),
            }
        )

    from_enforcement: dict[str, str] = {}
    for row in rows:
        code, fine, decided = row["party_uscc"], row["penalty_cny"], row["decided_at"]
        if row["case_id"] in planted_cases or code is None or fine is None or decided is None:
            continue
        if served.get(code) != code:
            raise ValueError(
                f"enforcement case {row['case_id']}: party_uscc {code!r} has no clean credit file"
            )
        matter_name = matter(row["matter_code"]).name
        item = b.record(
            uscc=code,
            kind="penalty",
            decided_on=_day(decided),
            published_at=published(decided),
            authority=(_ENFORCEMENT_AUTHORITY, "京东城执罚"),
            penalty_cny=float(fine),
            content=f"综合执法案件{row['case_id']}：{matter_name}，罚款{int(fine)}元",
        )
        item.planted = True  # linked to another platform: never dirtied
        from_enforcement[row["case_id"]] = item.record_id
    return {"blacklisted": blacklisted, "enforcement_penalties": from_enforcement}


def _background_records(b: _Builder) -> None:
    """Each subject's everyday records: most in the past, some during the span, new ones after it."""
    ctx, rng = b.ctx, b.rng
    start_day, end_day = _day(ctx.start), _day(ctx.end)
    kinds = list(_KIND_WEIGHTS)
    weights = list(_KIND_WEIGHTS.values())
    n = ctx.world.subjects.num_rows
    subjects = b.subjects[:n]
    for subject in subjects:
        if rng.random() >= _WITH_RECORDS:
            continue
        established = date.fromisoformat(subject.base["established_on"])
        # A record is published once its subject's file exists, never before.
        opened = subject.changes[0][0] + timedelta(hours=1)
        for _ in range(int(rng.geometric(0.45))):
            kind = _one(rng, kinds, weights)
            if kind == "black_list":
                # Past black lists only, and never in force now: expired or repaired.
                oldest = max(established, start_day - timedelta(days=2000))
                if (start_day - oldest).days < 400:
                    kind = "licence"
                else:
                    decided = oldest + timedelta(days=int(rng.integers(0, (start_day - oldest).days - 380)))
                    item = b.record(
                        uscc=subject.uscc,
                        kind=kind,
                        decided_on=decided,
                        published_at=max(_at_work(decided + timedelta(days=1), rng), opened),
                        valid_until=decided + timedelta(days=365),
                    )
                    if rng.random() < 0.5:
                        item.revoked_at = _at_work(decided + timedelta(days=int(rng.integers(180, 360))), rng)
                    continue
            if established >= start_day:
                decided = established + timedelta(
                    days=int(rng.integers(0, max(1, (end_day - established).days)))
                )
            elif rng.random() < 0.9:
                oldest = max(established, start_day - timedelta(days=5 * 365))
                decided = oldest + timedelta(days=int(rng.integers(0, max(1, (start_day - oldest).days))))
            else:
                decided = start_day + timedelta(days=int(rng.integers(0, ctx.days)))
            published = _at_work(decided + timedelta(days=int(rng.integers(0, 4))), rng)
            item = b.record(
                uscc=subject.uscc, kind=kind, decided_on=decided, published_at=max(published, opened)
            )
            _maybe_revoke(b, item)

    # New records after the span, a few each day, published the day they are decided.
    day = end_day
    listed = [subject for subject in subjects if subject.base["status"] == "active"]
    while day < _day(ctx.horizon):
        count = max(_MIN_PER_DAY, int(rng.poisson(_NEW_RECORD_RATE * n)))
        for pick in rng.choice(len(listed), size=min(count, len(listed)), replace=False):
            kind = _one(rng, ("licence", "commitment", "penalty", "red_list"), (0.55, 0.25, 0.15, 0.05))
            at = _at_work(day, rng)
            if at < ctx.horizon:
                b.record(uscc=listed[int(pick)].uscc, kind=kind, decided_on=day, published_at=at)
        day += timedelta(days=1)


def _maybe_revoke(b: _Builder, item: _Record) -> None:
    """Some penalties are repaired (信用修复), some licences withdrawn, months after the decision."""
    rng = b.rng
    share = {"penalty": 0.12, "licence": 0.03}.get(item.kind, 0.0)
    if share and rng.random() < share:
        item.revoked_at = _at_work(item.decided_on + timedelta(days=int(rng.integers(90, 500))), rng)


def _record_dirt(b: _Builder, codes: _Codes, n_records: int) -> dict[str, list[str]]:
    """Records of subjects the platform lacks, and validity ending before the decision."""
    ctx, rng = b.ctx, b.rng
    end = ctx.end
    unlisted = []
    for _ in range(_dirty_count("record_of_unlisted_subject", n_records)):
        decided = _day(ctx.start) - timedelta(days=int(rng.integers(1, 900)))
        kind = _one(rng, ("licence", "penalty"))
        item = b.record(
            uscc=codes.fresh(), kind=kind, decided_on=decided, published_at=_at_work(decided, rng)
        )
        item.dirty = "record_of_unlisted_subject"
        unlisted.append(item.record_id)
    pool = [
        index
        for index, item in enumerate(b.records)
        if not item.planted
        and item.dirty is None
        and item.kind in ("licence", "commitment", "red_list")
        and item.published_at < end
    ]
    before = []
    for pick in rng.choice(
        len(pool), size=min(_dirty_count("valid_until_before_decided", n_records), len(pool)), replace=False
    ):
        item = b.records[pool[int(pick)]]
        item.dirty = "valid_until_before_decided"
        item.valid_until = item.decided_on - timedelta(days=int(rng.integers(1, 365)))
        before.append(item.record_id)
    return {"valid_until_before_decided": sorted(before), "record_of_unlisted_subject": sorted(unlisted)}


def _subject_versions(subject: _Subject, horizon: datetime) -> list[tuple[datetime, str]]:
    body = dict(subject.base)
    versions = []
    for at, change in sorted(subject.changes, key=lambda pair: pair[0]):
        if at >= horizon:
            break
        body |= change
        versions.append(
            (at, json.dumps(body | {"updated_at": _iso(at)}, ensure_ascii=False, separators=(",", ":")))
        )
    return versions


def _record_versions(item: _Record, horizon: datetime) -> list[tuple[datetime, str]]:
    body = {
        "record_id": item.record_id,
        "uscc": item.uscc,
        "kind": item.kind,
        "authority": item.authority,
        "decision_no": item.decision_no,
        "decided_on": item.decided_on.isoformat(),
        "valid_until": None if item.valid_until is None else item.valid_until.isoformat(),
        "content": item.content,
        "penalty_cny": item.penalty_cny,
        "revoked": False,
    }
    moments = [(item.published_at, False)]
    if item.revoked_at is not None and item.revoked_at > item.published_at:
        moments.append((item.revoked_at, True))
    return [
        (
            at,
            json.dumps(
                body | {"revoked": revoked, "updated_at": _iso(at)}, ensure_ascii=False, separators=(",", ":")
            ),
        )
        for at, revoked in moments
        if at < horizon
    ]


def generate(ctx: GenContext) -> PlatformResult:
    """Write the credit platform's subject and record versions; returns counts and the truth section."""
    b = _Builder(ctx)
    subject_truth = _subjects(b)
    n_world = ctx.world.subjects.num_rows
    served = {row: b.subjects[index].uscc for index, row in enumerate(ctx.world.subjects["uscc"].to_pylist())}
    planted = _planted_records(b, served)
    _background_records(b)
    codes = _Codes(set(served) | set(served.values()) | {s.uscc for s in b.subjects}, b.rng)
    record_ids = _record_dirt(b, codes, len(b.records))

    kind, entity, visible, bodies, owners = [], [], [], [], []
    end_micros = to_micros(ctx.end)
    visible_at_end = {"subject": 0, "record": 0}
    for label, items in (("subject", b.subjects), ("record", b.records)):
        for item in items:
            key = item.uscc if label == "subject" else item.record_id
            rows = (
                _subject_versions(item, ctx.horizon)
                if label == "subject"
                else _record_versions(item, ctx.horizon)
            )
            for at, body in rows:
                kind.append(label)
                entity.append(key)
                visible.append(to_micros(at))
                bodies.append(body)
                owners.append(item.uscc)
            if rows and to_micros(rows[0][0]) <= end_micros:
                visible_at_end[label] += 1
    versions = pa.table(
        {
            "kind": pa.array(kind, pa.string()),
            "entity_id": pa.array(entity, pa.string()),
            "visible_from": pa.array(visible, pa.int64()),
            "updated": pa.array(visible, pa.int64()),
            "body": pa.array(bodies, pa.string()),
            "uscc": pa.array(owners, pa.string()),
        }
    )
    n_versions = write_versions(ctx.dataset.store_path("credit"), versions, indexes=("uscc",))

    ids = subject_truth["ids"] | record_ids
    truth = {
        "dirty": {name: {"count": len(ids[name]), "ids": ids[name]} for name in DIRTY_RATES},
        "counts": {
            "subjects": len(b.subjects),
            "records": len(b.records),
            "versions": n_versions,
            "subjects_visible_at_end": visible_at_end["subject"],
            "records_visible_at_end": visible_at_end["record"],
            "world_subjects": n_world,
        },
        "blacklisted": planted["blacklisted"],
        "enforcement_penalties": planted["enforcement_penalties"],
        "re_registrations": subject_truth["pairs"],
        "true_uscc": subject_truth["true_codes"],
    }
    ctx.log(f"credit: {len(b.subjects):,} subjects, {len(b.records):,} records, {n_versions:,} versions")
    return PlatformResult(
        counts={"subjects": len(b.subjects), "records": len(b.records), "versions": n_versions}, truth=truth
    )
