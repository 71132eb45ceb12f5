from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.normalizer import TextNormalizer
from bot.nlu.secret_guard import SecretGuard


def test_normalizer_moves_training_annotations_with_the_text():
    text = "手机 138-1234-5678 尾号５６７８"
    message = Message(
        data={
            "text": text,
            "intent": "inform",
            "entities": [
                {"entity": "phone_number", "value": "13812345678", "start": 3, "end": 16},
                {"entity": "phone_last4", "value": "5678", "start": 19, "end": 23},
            ],
        }
    )
    TextNormalizer().process_training_data(TrainingData([message]))
    normalized = message.get("text")
    assert normalized == "手机 13812345678 尾号5678"
    spans = [normalized[e["start"] : e["end"]] for e in message.get("entities")]
    assert spans == ["13812345678", "5678"]


def test_secret_guard_overrides_intent_masks_text_and_drops_overlapping_entities():
    message = Message(
        data={
            "text": "验证码5678 帮我查进度",
            "intent": {"name": "check_case_status", "confidence": 0.8},
            "intent_ranking": [{"name": "check_case_status", "confidence": 0.99}],
            "entities": [{"entity": "phone_last4", "value": "5678", "start": 3, "end": 7}],
        }
    )
    SecretGuard().process([message])
    assert message.get("intent") == {"name": "share_secret", "confidence": 1.0}
    assert message.get("intent_ranking") == [
        {"name": "share_secret", "confidence": 1.0},
        {"name": "check_case_status", "confidence": 0.0},
    ]
    assert message.get("entities") == []
    assert message.get("text") == "验证码****** 帮我查进度"


def test_a_secret_masked_by_the_channel_is_still_recognised():
    message = Message(data={"text": "我的支付密码是 ******,帮我查进度", "entities": []})
    SecretGuard().process([message])
    assert message.get("intent") == {"name": "share_secret", "confidence": 1.0}


def test_secret_guard_leaves_ordinary_messages_alone():
    data = {
        "text": "有人打电话要我的验证码 是骗子吗",
        "intent": {"name": "report_fraud", "confidence": 0.9},
        "entities": [],
    }
    message = Message(data=dict(data))
    SecretGuard().process([message])
    assert message.get("intent") == data["intent"]
    assert message.get("text") == data["text"]


def test_digits_of_a_secret_the_patterns_miss_never_become_phone_last4():
    merchant = {"entity": "merchant_id", "value": "898440358120001", "start": 0, "end": 15}
    message = Message(
        data={
            "text": "898440358120001 密码就是我生日 Lkl@2025",
            "intent": {"name": "share_secret", "confidence": 0.9},
            "entities": [
                merchant,
                {"entity": "phone_last4", "value": "2025", "start": 28, "end": 32},
            ],
        }
    )
    SecretGuard().process([message])
    assert message.get("entities") == [merchant]
    assert message.get("intent") == {"name": "share_secret", "confidence": 0.9}
