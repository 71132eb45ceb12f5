from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.scope_gate import ScopeGate
from tests.bot.nlu.messages import tokenized

CONFIG = {
    **ScopeGate.get_default_config(),
    "open_intents": ["greet", "thank"],
}


def predicted(words: str, intent: str, confidence: float = 0.99) -> Message:
    ranking = [
        {"name": intent, "confidence": confidence},
        {"name": "ask_contact", "confidence": 0.01},
    ]
    return tokenized(words, intent=ranking[0], intent_ranking=ranking)


TRAINING = [
    ("pos机 为什么 被 停用 了", "ask_suspend_reason"),
    ("pos机 停用 怎么 解除", "ask_unsuspend_process"),
    ("审核 要 多久", "ask_review_time"),
    ("审核 进度 帮 我 查 一下", "check_case_status"),
    ("刷卡 没 信号 网络 不 好", "report_network_problem"),
    ("你好", "greet"),
    ("今天 天气 怎么样", "out_of_scope"),
    ("讲 个 笑话", "out_of_scope"),
]


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def trained(storage: LocalModelStorage, examples=TRAINING, **config) -> ScopeGate:
    gate = ScopeGate.create(
        {**CONFIG, **config}, storage, Resource("gate"), ExecutionContext(None, "gate")
    )
    gate.train(TrainingData([tokenized(words, intent=intent) for words, intent in examples]))
    return gate


def test_unfamiliar_topic_becomes_out_of_scope_with_the_ranking_kept(storage):
    gate = trained(storage)
    message = predicted("告诉 我 西安 的 位置", "report_network_problem")
    gate.process([message])
    # 告诉/我/的 are common Chinese words; 西安 and 位置 were never seen in the domain.
    assert message.get("intent") == {"name": "out_of_scope", "confidence": 1.0}
    assert [item["name"] for item in message.get("intent_ranking")] == [
        "out_of_scope",
        "report_network_problem",
        "ask_contact",
    ]


def test_half_unfamiliar_message_asks_back_instead(storage):
    gate = trained(storage)
    message = predicted("刷卡 器 屏幕 碎 了", "report_network_problem")
    gate.process([message])
    # 刷卡 known, 器/屏幕/碎 not: 3 of 4 topic words (了 is common) -> 0.75 -> out of scope;
    assert message.get("intent") == {"name": "out_of_scope", "confidence": 0.75}
    # one known word more and it is a clarifying question.
    message = predicted("刷卡 网络 屏幕 碎 了", "report_network_problem")
    gate.process([message])
    assert message.get("intent") == {"name": "nlu_fallback", "confidence": 0.5}
    assert message.get("intent_ranking")[1]["name"] == "report_network_problem"


def test_messages_in_domain_words_are_untouched(storage):
    gate = trained(storage)
    message = predicted("停用 了 审核 多久", "ask_review_time", 0.97)
    gate.process([message])
    assert message.get("intent") == {"name": "ask_review_time", "confidence": 0.97}


@pytest.mark.parametrize("intent", ["greet", "thank", "out_of_scope", "nlu_fallback"])
def test_social_and_scope_intents_are_never_relabelled(storage, intent):
    gate = trained(storage)
    message = predicted("哈喽 小 可爱 早上 好", intent)
    gate.process([message])
    assert message.get("intent")["name"] == intent


def test_ids_and_numbers_do_not_count_as_unfamiliar(storage):
    gate = trained(storage)
    message = predicted("898440358120001 审核 进度", "check_case_status")
    gate.process([message])
    assert message.get("intent")["name"] == "check_case_status"


def test_gate_is_off_without_out_of_scope_training_examples(storage):
    closed_set = [(words, intent) for words, intent in TRAINING if intent != "out_of_scope"]
    gate = trained(storage, closed_set)
    message = predicted("告诉 我 西安 的 位置", "report_network_problem")
    gate.process([message])
    assert message.get("intent")["name"] == "report_network_problem"


def test_loaded_gate_decides_like_the_trained_one(storage):
    trained(storage)
    loaded = ScopeGate.load(CONFIG, storage, Resource("gate"), ExecutionContext(None, "gate"))
    message = predicted("告诉 我 西安 的 位置", "report_network_problem")
    loaded.process([message])
    assert message.get("intent")["name"] == "out_of_scope"


def test_thresholds_must_be_ordered(storage):
    with pytest.raises(ValueError, match="fallback_share"):
        ScopeGate.create(
            {**CONFIG, "fallback_share": 0.8, "out_of_scope_share": 0.5},
            storage,
            Resource("gate"),
            ExecutionContext(None, "gate"),
        )
