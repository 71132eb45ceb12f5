from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.evidence import LOW_EVIDENCE_KEY
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


# Evidence: a low-confidence guess needs a domain word. Twelve out-of-scope examples, so that a
# word of two in-domain examples and none out of scope is characteristic (2/7 >= 3 * 1/12).
EVIDENCE_TRAINING = [
    *[example for example in TRAINING if example[1] != "out_of_scope"],
    ("解除 停用 要 多长 时间", "ask_review_time"),
    ("人工 客服", "request_human"),
    *[
        (words, "out_of_scope")
        for words in (
            "今天 天气 怎么样", "讲 个 笑话", "快递 要 多久", "播放 音乐", "打开 空调",
            "订 机票", "导航 回家", "明天 下雨 吗", "设 个 闹钟", "唱 首 歌", "查 公交",
            "翻译 一下",
        )
    ],
]  # fmt: skip
EVIDENCE = {"evidence_confidence": 0.6, "evidence_free_intents": ["request_human"]}


def test_domain_words_are_the_dictionary_and_the_characteristic_words(storage, tmp_path):
    dictionary = tmp_path / "userdict.txt"
    dictionary.write_text("电签 2000 n\n", encoding="utf-8")
    gate = trained(storage, EVIDENCE_TRAINING, dictionary_path=str(dictionary), **EVIDENCE)
    # pos机, 停用, 审核: two in-domain examples or more, none out of scope; 多久 is also out of
    # scope (快递 要 多久); 多长 and 时间 only once.
    assert {"电签", "pos机", "停用", "审核"} <= gate.domain
    assert not {"多久", "多长", "时间", "天气"} & gate.domain


def test_a_guess_without_a_domain_word_asks_back_and_keeps_the_guess(storage):
    gate = trained(storage, EVIDENCE_TRAINING, **EVIDENCE)
    message = predicted("要 多长 时间", "ask_review_time", 0.52)
    gate.process([message])
    assert message.get("intent") == {"name": "nlu_fallback", "confidence": 0.6}
    assert message.get("intent_ranking")[1] == {"name": "ask_review_time", "confidence": 0.52}
    assert message.get(LOW_EVIDENCE_KEY) == {
        "reason": "no_domain_word",
        "intent": "ask_review_time",
        "confidence": 0.52,
    }
    assert LOW_EVIDENCE_KEY in message.as_dict(only_output_properties=True)


@pytest.mark.parametrize(
    ("words", "intent", "confidence", "entities"),
    [
        ("审核 要 多长 时间", "ask_review_time", 0.52, []),  # a domain word
        ("要 多长 时间", "ask_review_time", 0.61, []),  # confident enough
        ("人工 人工", "request_human", 0.4, []),  # asking for a person needs no domain word
        ("多长 时间", "inform", 0.4, [{"entity": "terminal_id", "value": "60013452"}]),
    ],
)
def test_evidence_or_confidence_keeps_the_guess(storage, words, intent, confidence, entities):
    gate = trained(storage, EVIDENCE_TRAINING, **EVIDENCE)
    message = predicted(words, intent, confidence)
    message.set("entities", entities)
    gate.process([message])
    assert message.get("intent") == {"name": intent, "confidence": confidence}
    assert message.get(LOW_EVIDENCE_KEY) is None


def test_evidence_rule_is_off_by_default_and_loaded_like_trained(storage):
    gate = trained(storage, EVIDENCE_TRAINING)
    message = predicted("要 多长 时间", "ask_review_time", 0.52)
    gate.process([message])
    assert message.get("intent")["name"] == "ask_review_time"
    config = {**CONFIG, **EVIDENCE}
    loaded = ScopeGate.load(config, storage, Resource("gate"), ExecutionContext(None, "gate"))
    assert loaded.domain == gate.domain
    loaded.process([message])
    assert message.get("intent")["name"] == "nlu_fallback"
