"""State the channels keep between requests: the widget outbox, the copilot's call contexts and
the WeChat channel's de-duplication, nonces and numbered options.

Each kind has an interface with an in-memory implementation (one process) and a Redis one shared
by every Rasa server process (:mod:`bot.channels.state.redis_backend`);
:mod:`bot.channels.state.factory` picks one from ``POSBOT_REDIS_URL``.
"""
