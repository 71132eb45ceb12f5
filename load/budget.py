"""A cap on the number of requests of one load run, reserved a conversation at a time."""

from __future__ import annotations


class RequestBudget:
    """At most ``limit`` requests in total; a conversation reserves its turns before it starts."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError("the request limit cannot be negative")
        self.limit = limit
        self.reserved = 0

    def reserve(self, count: int) -> bool:
        """Takes ``count`` requests from the budget; False (and nothing taken) if too few remain."""
        if self.reserved + count > self.limit:
            return False
        self.reserved += count
        return True

    def release(self, count: int) -> None:
        """Gives back requests a conversation reserved but did not send."""
        self.reserved = max(0, self.reserved - count)
