"""The WeChat Official Account (公众号) channel: API client, reply format, request checks, channel.

Its short-lived state (de-duplication, nonces, numbered options) is in :mod:`bot.channels.state`.
"""
