"""``python -m bot.cli.rasa_server run …``: the ``rasa`` command with our speed fixes applied."""

from __future__ import annotations

import sys
from pathlib import Path

from bot import (
    debug_logs,
    feedback_offer,
    gc_settings,
    graph_runner,
    payload_guard,
    policy_speedups,
    rules_first,
    server_limits,
    tracker_speedups,
)
from bot.action_payload import fast_json_requests, resend_with_domain, send_recent_events
from bot.channels import hand_back
from bot.channels.rate_limit import RateLimitConfigError, trusted_proxies
from bot.history_window import bound_policy_history
from bot.settings import (
    HANDOFF_HOURS,
    HANDOFF_IDLE_MINUTES,
    HANDOFF_MINUTES_PER_CONVERSATION,
    RateLimit,
)
from bot.speedups import apply

JIEBA_CACHE_DIR = Path("var") / "cache"


def keep_jieba_cache_in(directory: Path) -> None:
    """jieba's prefix-dictionary cache in ``directory`` (kept across reboots, unlike /tmp)."""
    import jieba

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return  # read-only checkout: jieba keeps its default temporary directory
    jieba.dt.tmp_dir = str(directory)


def main() -> None:
    """Applies the speed fixes (:mod:`bot.speedups`, :mod:`bot.graph_runner`,
    :mod:`bot.tracker_speedups`, :mod:`bot.history_window`, :mod:`bot.policy_speedups`,
    :mod:`bot.rules_first`, :mod:`bot.debug_logs`, :mod:`bot.action_payload`),
    :mod:`bot.server_limits`, :mod:`bot.payload_guard`, :mod:`bot.feedback_offer`, the
    idle hand-back (:mod:`bot.channels.hand_back`) and :mod:`bot.gc_settings`, then runs
    Rasa's own command line with our arguments."""
    # TensorFlow's TFLite helpers import jax when it is installed (0.5 s of the cold start,
    # ~100 MB of memory); Rasa never uses it and TensorFlow does without it.
    sys.modules.setdefault("jax", None)  # type: ignore[arg-type]  # None: the import fails
    apply()
    graph_runner.install()
    # Turn cost independent of the conversation's length: the policies read the recent
    # actions, the action server gets the recent events (each module says why it is exact).
    tracker_speedups.apply()
    bound_policy_history()
    policy_speedups.apply()
    # After the window (memoization must be handed the tracker the rules were handed):
    # memoization is not asked when the rules decided the prediction.
    rules_first.install()
    debug_logs.apply()
    send_recent_events()
    fast_json_requests()
    resend_with_domain()
    try:
        RateLimit.from_env()
        trusted_proxies()
        # The agents' hours and idle time: a typo stops the server with the variable named.
        for setting in (HANDOFF_HOURS, HANDOFF_IDLE_MINUTES, HANDOFF_MINUTES_PER_CONVERSATION):
            setting.read()
    except RateLimitConfigError as error:
        sys.exit(f"posbot: {error}")
    server_limits.apply()
    payload_guard.install()
    feedback_offer.install()
    hand_back.install()
    gc_settings.freeze_after_model_load()
    # Operator facts ({hotline}…) are filled even when an endpoints file has no nlg section.
    from bot.nlg import install_as_default

    install_as_default()
    keep_jieba_cache_in(JIEBA_CACHE_DIR)
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
