"""What the portal's pages say about the shared datasets in Chinese: each dataset's name and what it holds (its
grain, in a sentence or two, after the dbt models' descriptions), a publication's status, and times in Beijing time.
The columns' own descriptions come from dbt (in English) through the catalog."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from gridlake.reference import streets

__all__ = ["DATASETS", "STATUS", "beijing", "dataset_description", "dataset_title", "status_text", "street_name"]

BEIJING = ZoneInfo("Asia/Shanghai")

DATASETS: dict[str, tuple[str, str]] = {
    "hotline_requests": (
        "12345 热线工单明细",
        "每张 12345 工单一行（最新状态）：事项、所属街道和社区、最终承办单位、派单与退单次数、响应与办结是否超时、"
        "回访结果、是否重复诉求及是否计入考核。不含诉求人信息、诉求原文和地址。"),
    "hotline_kpi_daily": (
        "接诉即办日考核指标",
        "每个承办单位（街道或部门）每天一行：截至当天的本月累计响应率、解决率、满意率、综合得分和同类单位排名。"),
    "hotline_kpi_monthly": (
        "接诉即办月考核指标",
        "每个承办单位（街道或部门）每月一行：按办结期限所在月份统计的三率、综合得分和同类单位排名；"
        "当月为月初至今的累计。"),
    "grid_case_lifecycle": (
        "网格案件全流程",
        "每个网格案件一行（最新状态）：来源、类别、所在街道和社区，以及发现、立案、派遣、处置、核查、结案、"
        "评价七个环节的时间、各环节耗时和是否超时。"),
    "iot_domain_daily": (
        "物联感知日汇总",
        "每个领域、街道、日期一行：扬尘、油烟、垃圾分类、环卫车辆、作业人员、静态交通、重型柴油车七个领域的"
        "有效读数、超标次数、超标事件和设备覆盖率。"),
    "enterprise_profile": (
        "企业画像",
        "每家企业（统一社会信用代码）一行：名称、所在街道、行业、信用等级、失信与处罚记录、执法案件，"
        "以及按规则判定的风险等级。单个企业的统计数据仅统计局和中心可见。"),
    "hotspots_monthly": (
        "月度热点",
        "每类热点、对象、月份一行：高频社区、高频网格、高频事项（前若干名，并列保留）和屡治屡返点位。"),
    "seasonal_patterns": (
        "季节性规律",
        "每个诉求类别的月份、星期、小时分布：各时段日均工单量和占比；数据满两个完整年度后判断是否具有季节性。"),
    "city_events": (
        "城市事件统一视图",
        "每个事件一行：热线工单、网格案件、执法案件、传感器超标事件和违停事件，统一的领域、地点、时间、状态、"
        "责任单位、关联企业和关联事件。不含个人信息和精确位置。"),
    "problem_ledger": (
        "问题台账",
        "每个（社区、诉求类别）一行：近几个月屡治屡返或多渠道反映的问题，已列入台账或即将列入，附相关工单、"
        "案件和超标事件。"),
    "responsibility_chain": (
        "责任链条",
        "每条责任链（社区、诉求类别）的每个责任方一行：街道办事处、社区、网格、主管部门、执法队、门前三包企业，"
        "以及各自承担的在办工作。"),
}

STATUS = {"published": "已发布新版本", "unchanged": "数据未变化，沿用当前版本", "failed": "未通过质量检查，未发布",
          "held_back": "所依赖的数据集未发布，暂缓发布", "missing": "数据仓库中缺失，未发布"}


def dataset_title(name: str) -> str:
    return DATASETS.get(name, (name, ""))[0]


def dataset_description(name: str) -> str:
    return DATASETS.get(name, ("", ""))[1]


def status_text(status: str | None) -> str:
    return STATUS.get(status or "", status or "—")


def beijing(moment: str | None, *, seconds: bool = False) -> str:
    """An ISO time from the catalog as Beijing time (``2026-11-26 20:14``); a dash when there is none."""
    if not moment:
        return "—"
    parsed = datetime.fromisoformat(moment)
    if parsed.tzinfo is None:
        return parsed.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return parsed.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def street_name(code: str | None) -> str:
    """A street's name (东华门街道) by its code; the code itself when it is not one of the district's."""
    return next((street.street_name for street in streets() if street.street_code == code), code or "")
