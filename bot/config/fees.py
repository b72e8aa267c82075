"""Fee settings: currency and late fees (used by bot.records.fees)."""

from __future__ import annotations

from pydantic import Field

from bot.config.base import Fraction, Section


class LateFeeSettings(Section):
    """Late fee: ``rate`` of the outstanding amount once ``grace_days`` past the due date;
    with ``monthly`` the rate applies again for every further 30 days, up to ``max_rate``."""

    rate: Fraction = 0.0
    grace_days: int = Field(default=30, ge=0)
    monthly: bool = False
    max_rate: Fraction | None = None


class FeesSettings(Section):
    currency: str = "HKD"
    late_fee: LateFeeSettings = LateFeeSettings()
