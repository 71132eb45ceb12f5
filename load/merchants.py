"""The merchants of the load test: one per simulated user, derived from an index.

They are pure values, so the locust process knows them without a database; ``load.seed``
writes the same rows into the case store through the CSV importer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MAX_MERCHANTS: Final = 9999
POS_TYPE: Final = "e_sign"
SUSPENSION_REASON: Final = "license_expired"
CASE_STATUS: Final = "under_review"


@dataclass(frozen=True)
class LoadMerchant:
    """A load-test merchant with one suspended terminal and one application under review."""

    index: int
    merchant_id: str
    merchant_name: str
    phone: str
    terminal_id: str
    case_id: str

    @property
    def phone_last4(self) -> str:
        """What the merchant answers when asked for the last four digits of the phone."""
        return self.phone[-4:]


def load_merchant(index: int) -> LoadMerchant:
    """The load-test merchant number ``index`` (1 to :data:`MAX_MERCHANTS`).

    Its identifiers are in ranges the demo data does not use.
    """
    if not 1 <= index <= MAX_MERCHANTS:
        raise ValueError(f"merchant index must be 1..{MAX_MERCHANTS}, got {index}")
    return LoadMerchant(
        index=index,
        merchant_id=f"898310090{index:06d}",
        merchant_name=f"压测商户{index:04d}号店",
        phone=f"1390009{index:04d}",
        terminal_id=f"9{index:07d}",
        case_id=f"JC990000{index:06d}",
    )


def load_merchants(count: int) -> list[LoadMerchant]:
    """Merchants 1 to ``count``."""
    return [load_merchant(index) for index in range(1, count + 1)]
