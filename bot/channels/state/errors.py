"""The one error of the channels' state: the shared store could not be reached."""

from __future__ import annotations


class SharedStateUnavailable(Exception):
    """The shared store (Redis) could not be reached or answered with an error."""
