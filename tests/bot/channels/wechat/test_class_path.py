"""Rasa finds the WeChat channel under the path credentials.yml names and under the old one."""

from __future__ import annotations

import yaml
from rasa.shared.utils.common import class_from_module_path

from bot.channels.wechat.channel import WeChatInput
from tests.conftest import ROOT

CLASS_PATH = "bot.channels.wechat.channel.WeChatInput"
# The path of the single module bot/channels/wechat.py, still found in operators' files.
OLD_CLASS_PATH = "bot.channels.wechat.WeChatInput"


def test_credentials_name_the_channel_module() -> None:
    credentials = yaml.safe_load((ROOT / "credentials.yml").read_text(encoding="utf-8"))
    assert CLASS_PATH in credentials
    assert OLD_CLASS_PATH not in credentials


def test_the_old_class_path_still_loads_the_same_channel() -> None:
    assert class_from_module_path(CLASS_PATH) is WeChatInput
    assert class_from_module_path(OLD_CLASS_PATH) is WeChatInput
