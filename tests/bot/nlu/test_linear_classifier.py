from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.linear_classifier import ARRAYS_FILE, LinearIntentClassifier
from tests.bot.nlu.messages import tokenized

CONFIG = {**LinearIntentClassifier.get_default_config(), "calibration_folds": 3}
TRAINING = {
    "ask_review_time": ["审核 要 多久", "几 天 能 审 完", "审核 需要 几 天", "多久 出 结果"],
    "check_case_status": ["查 一下 进度", "我 的 申请 到 哪 了", "帮 我 查 进度", "进度 怎么样"],
    "greet": ["你好", "在 吗", "哈喽", "您好 呀"],
}


def training_data(examples: dict[str, list[str]] = TRAINING) -> TrainingData:
    return TrainingData(
        [tokenized(words, intent=intent) for intent, texts in examples.items() for words in texts]
    )


@pytest.fixture
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def trained(storage, examples=TRAINING, **config) -> LinearIntentClassifier:
    classifier = LinearIntentClassifier.create(
        {**CONFIG, **config}, storage, Resource("clf"), ExecutionContext(None, "clf")
    )
    classifier.train(training_data(examples))
    return classifier


def test_predicts_intent_and_a_sorted_ranking_of_probabilities(storage):
    classifier = trained(storage)
    message = tokenized("审核 大概 要 几 天")
    classifier.process([message])
    ranking = message.get("intent_ranking")
    assert message.get("intent") == ranking[0]
    assert ranking[0]["name"] == "ask_review_time"
    confidences = [item["confidence"] for item in ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0)
    assert {item["name"] for item in ranking} == set(TRAINING)


def test_probabilities_are_sklearns_calibrated_probabilities(storage):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    classifier = trained(storage)
    data = training_data()
    features = classifier._features(data.training_examples)
    labels = np.array([m.get("intent") for m in data.training_examples])
    reference = CalibratedClassifierCV(LinearSVC(C=1.0, random_state=0, max_iter=10000), cv=3)
    reference.fit(features, labels)
    messages = [tokenized("进度 查 一下 吧"), tokenized("你好 审核"), tokenized("天气 怎么样")]
    expected = reference.predict_proba(classifier._features(messages))
    assert list(reference.classes_) == classifier._state["classes"]
    np.testing.assert_allclose(classifier.predict_probabilities(messages), expected, atol=1e-12)


def test_loaded_model_predicts_the_same_and_holds_no_pickles(storage):
    classifier = trained(storage)
    messages = [tokenized("进度 到 哪 了"), tokenized("在 吗")]
    loaded = LinearIntentClassifier.load(
        CONFIG, storage, Resource("clf"), ExecutionContext(None, "clf")
    )
    np.testing.assert_array_equal(
        loaded.predict_probabilities(messages), classifier.predict_probabilities(messages)
    )
    with storage.read_from(Resource("clf")) as directory:
        arrays = dict(np.load(directory / ARRAYS_FILE, allow_pickle=False))
    assert arrays and all(array.dtype != object for array in arrays.values())


def test_identifiers_count_by_kind_not_by_digits(storage):
    classifier = trained(storage)
    first = tokenized("商户号 898440358120001 查 进度")
    second = tokenized("商户号 898310058129999 查 进度")
    np.testing.assert_array_equal(
        classifier.predict_probabilities([first]), classifier.predict_probabilities([second])
    )


def test_two_intents_give_two_columns(storage):
    two = {k: v for k, v in TRAINING.items() if k != "greet"}
    classifier = trained(storage, two)
    probabilities = classifier.predict_probabilities([tokenized("审核 多久"), tokenized("查 进度")])
    assert probabilities.shape == (2, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert [classifier._state["classes"][i] for i in probabilities.argmax(axis=1)] == [
        "ask_review_time",
        "check_case_status",
    ]


def test_an_intent_with_one_example_is_named_in_the_error(storage):
    with pytest.raises(ValueError, match="bot_challenge"):
        trained(storage, {**TRAINING, "bot_challenge": ["你 是 机器人 吗"]})


def test_messages_without_text_are_left_alone(storage):
    classifier = trained(storage)
    message = Message(data={"intent": {"name": "greet", "confidence": 1.0}})
    classifier.process([message])
    assert message.get("intent") == {"name": "greet", "confidence": 1.0}
