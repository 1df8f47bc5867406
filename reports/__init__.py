"""The centre's reports, written from the published shared datasets only: the daily bulletin (每日专报), the weekly
return-visit report (回访周报) and the monthly analysis (月度分析报告)."""

from reports.flow import ReportOutput, write_report
from reports.periods import KINDS, Period, period_for

__all__ = ["KINDS", "Period", "ReportOutput", "period_for", "write_report"]
