"""The WeChat Official Account (公众号) channel: API client, reply format, request checks, channel.

Its short-lived state (de-duplication, nonces, numbered options) is in :mod:`bot.channels.state`.
``credentials.yml`` names :class:`bot.channels.wechat.channel.WeChatInput`; the name is also
exported here so that credentials files written for the old module ``bot/channels/wechat.py``
(``bot.channels.wechat.WeChatInput``) keep working.
"""

from bot.channels.wechat.channel import WeChatInput

__all__ = ["WeChatInput"]
