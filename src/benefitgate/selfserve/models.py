"""The vendor's self-serve policy and the actions it governs; frozen, no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from benefitgate.config import Settings
from benefitgate.subscriptions.transitions import MAX_TRIAL_DAYS

__all__ = ["SWITCHES", "Action", "Policy", "Request"]

# The policy's switches, as BENEFITGATE_SELF_SERVE names them; each is off unless named.
SWITCHES = ("trial", "downgrade", "term", "cancel")


class Action(enum.Enum):
    START_TRIAL = "start_trial"
    SCHEDULE_DOWNGRADE = "schedule_downgrade"
    SCHEDULE_TERM_CHANGE = "schedule_term_change"
    CANCEL_SCHEDULED_CHANGE = "cancel_scheduled_change"
    CANCEL_AT_PERIOD_END = "cancel_at_period_end"
    UNDO_CANCEL = "undo_cancel"


@dataclass(frozen=True, slots=True)
class Request:
    """One self-serve action with its argument: a tier (a trial, a downgrade) or a term."""

    action: Action
    tier: str | None = None
    term: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """Which switches the vendor turned on, and how long a self-serve trial lasts."""

    switches: frozenset[str] = frozenset()
    trial_days: int = 14

    def allows(self, switch: str) -> bool:
        return switch in self.switches

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        """The policy the settings give; raises ValueError naming the variable at fault,
        so that a misspelt switch stops the service instead of leaving an action off."""
        unknown = sorted(settings.self_serve - set(SWITCHES))
        if unknown:
            raise ValueError(
                f"BENEFITGATE_SELF_SERVE: unknown {', '.join(unknown)}; "
                f"give any of {', '.join(SWITCHES)}"
            )
        if not 1 <= settings.self_serve_trial_days <= MAX_TRIAL_DAYS:
            raise ValueError(f"BENEFITGATE_SELF_SERVE_TRIAL_DAYS: give 1 to {MAX_TRIAL_DAYS}")
        return cls(settings.self_serve, settings.self_serve_trial_days)
