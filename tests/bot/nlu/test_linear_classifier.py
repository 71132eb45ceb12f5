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


def _batch_probabilities(classifier: LinearIntentClassifier, message: Message) -> np.ndarray:
    from bot.nlu.linear_classifier import calibrated_probabilities

    s = classifier._state
    features = classifier._features([message])
    return calibrated_probabilities(
        features, classifier._weights, s["intercept"], s["slope"], s["offset"]
    )


def test_one_message_gives_exactly_the_numbers_of_the_sparse_path(storage):
    classifier = trained(storage)
    words = [w for texts in TRAINING.values() for text in texts for w in text.split()]
    words += ["商户号898310058121234", "天气", "13812345678", "的", "POS"]
    texts = [" ".join(words[i : i + size]) for size in (1, 2, 3, 5) for i in range(len(words))]
    texts += ["进度 进度 进度", "完全 没有 的 词", ""]
    for text in texts:
        message = tokenized(text) if text else Message(data={"text": "？"})
        fast = classifier.predict_probabilities([message])
        assert np.array_equal(fast, _batch_probabilities(classifier, message)), text


@pytest.mark.model
def test_the_trained_models_classifier_gives_the_same_numbers_one_message_at_a_time():
    import yaml

    from tests.conftest import ROOT

    model = ROOT / "models" / "posbot.tar.gz"
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make test` (it trains first)")
    from rasa.core.agent import Agent

    nodes = Agent.load(str(model)).processor.graph_runner._instantiated_nodes
    components = [getattr(node, "_component", None) for node in nodes.values()]
    classifier = next(c for c in components if isinstance(c, LinearIntentClassifier))
    before = [c for c in components if type(c).__name__ in ("TextNormalizer", "JiebaTokenizer")]
    examples = yaml.safe_load((ROOT / "tests" / "nlu" / "test_nlu.yml").read_text())["nlu"]
    texts = [
        line[2:].strip()
        for block in examples
        for line in block["examples"].splitlines()
        if line.startswith("- ")
    ]
    assert len(texts) > 300 and len(before) == 2
    for text in texts:
        message = Message(data={"text": text})
        for component in sorted(before, key=lambda c: type(c).__name__ != "TextNormalizer"):
            component.process([message])
        fast = classifier.predict_probabilities([message])
        assert np.array_equal(fast, _batch_probabilities(classifier, message)), text


def test_tfidf_is_sublinear_and_normalised_and_the_weights_are_the_models_own():
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer

    from bot.nlu.linear_classifier import smooth_idf, tfidf

    documents = ["审核 要 多久 多久", "查 进度", "进度 进度 怎么样", "你好", "审核 进度"] * 3
    documents += ["只 出现 一次 的 词"]
    counts = CountVectorizer(tokenizer=str.split, token_pattern=None).fit_transform(documents)
    reference = TfidfTransformer(sublinear_tf=True, smooth_idf=True).fit(counts)
    reference.idf_ = smooth_idf(counts)[: counts.shape[1]]
    np.testing.assert_allclose(
        tfidf(counts, smooth_idf(counts)).toarray(),
        reference.transform(counts).toarray(),
        rtol=1e-12,
    )
    # The weights trained models hold (see smooth_idf): from the non-zeros of each row.
    rows = np.diff(counts.tocsr().indptr)
    expected = np.log(len(documents) + 1) - np.log1p(rows) + 1.0
    assert len(smooth_idf(counts)) == max(counts.shape)
    np.testing.assert_allclose(smooth_idf(counts)[: len(rows)], expected, rtol=1e-12)
