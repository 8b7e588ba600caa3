"""Which benefits an account uses; frozen, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from benefitgate.catalog.models import Benefit

__all__ = ["USE_MEASURES", "BenefitAdoption"]

# How the gateway sees a benefit used: an allowed entitlement check of a feature, or usage
# of the metric a benefit names. Other benefits (support, education...) are not measured.
USE_MEASURES = ("check", "metric")


@dataclass(frozen=True, slots=True)
class BenefitAdoption:
    """One benefit the account may use now, and when it last used it."""

    benefit: Benefit
    measure: str | None  # "check", "metric", or None when its use is not measured
    held_since: datetime  # when the account could first use it (as far as known)
    last_used_at: datetime | None  # None: never seen used (or not measured)

    def unused_since(self, since: datetime) -> bool:
        """Measured, held since `since` or earlier, and not used from then on."""
        if self.measure is None or self.held_since > since:
            return False
        return self.last_used_at is None or self.last_used_at < since
