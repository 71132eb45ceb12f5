import random

from bot.quality.evaluate import Bm25Pipeline, Example, Prediction, Result, noisy_copies, score
from bot.quality.noise import homophone_table, perturbations


def test_scores_accuracy_macro_f1_oos_and_entities():
    examples = [
        Example("查进度", "check_case_status", (("merchant_id", "898310058121234"),)),
        Example("审核多久", "ask_review_time", ()),
        Example("天气", "out_of_scope", ()),
        Example("讲笑话", "out_of_scope", ()),
    ]
    predictions = [
        Prediction("check_case_status", 0.9, (("merchant_id", "898310058121234"),)),
        Prediction("check_case_status", 0.6),
        Prediction("nlu_fallback", 0.2),  # a fallback counts as out of scope
        Prediction("ask_review_time", 0.7),
    ]
    result = Result("x")
    score(result, examples, predictions)
    assert result.accuracy == 0.5
    assert result.oos_false_accept == 0.5
    assert result.entity_f1 == {"merchant_id": 1.0}
    assert result.per_intent_f1 == {
        "ask_review_time": 0.0,
        "check_case_status": 2 / 3,
        "out_of_scope": 2 / 3,
    }
    assert abs(result.macro_f1 - 4 / 9) < 1e-9


def test_noise_keeps_identifiers_and_is_seeded():
    example = Example("商户号898310058121234 查一下进度！", "check_case_status", ())
    first = noisy_copies([example], ["查询进度", "茶叶"])
    second = noisy_copies([example], ["查询进度", "茶叶"])
    assert [e.text for e in first] == [e.text for e in second]
    assert len(first) == len(perturbations({}))
    for copy in first:
        digits = "".join(c for c in copy.text if c.isdigit() or "０" <= c <= "９")
        assert len(digits) == 15
    assert "查一下進度" in " ".join(e.text for e in first)
    table = homophone_table(["查", "茶"])
    assert table["查"] == ["茶"]
    assert perturbations(table)["homophone"]("查", random.Random(1)) == "茶"


def test_bm25_baseline_returns_the_nearest_examples_intent(tmp_path):
    data = tmp_path / "nlu.yml"
    data.write_text(
        'version: "3.1"\nnlu:\n- intent: ask_review_time\n  examples: |\n    - 审核要多久\n'
        "    - 几天能审完\n- intent: greet\n  examples: |\n    - 你好\n    - 在吗\n",
        encoding="utf-8",
    )
    pipeline = Bm25Pipeline()
    pipeline.train(data)
    assert [p.intent for p in pipeline.predict(["审核多久", "你好啊"])] == [
        "ask_review_time",
        "greet",
    ]


def test_folds_are_stratified_disjoint_complete_and_keep_regexes(tmp_path):
    from bot.quality.evaluate import load_examples, write_folds

    intents = {"greet": ["你好", "您好", "哈喽", "在吗", "早上好"],
               "thank": ["谢谢", "多谢", "感谢", "谢啦", "辛苦了"]}  # fmt: skip
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in intents.items():
        lines += [f"- intent: {intent}", "  examples: |"] + [f"    - {t}" for t in texts]
    lines += ["- regex: terminal_id", "  examples: |", "    - \\d{8}",
              "- synonym: 电签", "  examples: |", "    - 电签机"]  # fmt: skip
    train = tmp_path / "train.yml"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")

    pairs = write_folds(train, 5, tmp_path / "cv")
    again = write_folds(train, 5, tmp_path / "cv2")

    assert len(pairs) == 5
    tested = []
    for fold_train, fold_test in pairs:
        test_examples = load_examples(fold_test)
        train_texts = {e.text for e in load_examples(fold_train)}
        assert sorted(e.intent for e in test_examples) == ["greet", "thank"]
        assert not train_texts & {e.text for e in test_examples}
        assert "terminal_id" in fold_train.read_text(encoding="utf-8")
        assert "电签机" in fold_train.read_text(encoding="utf-8")
        tested += [e.text for e in test_examples]
    assert sorted(tested) == sorted(t for texts in intents.values() for t in texts)
    assert [p[1].read_text(encoding="utf-8") for p in pairs] == [
        p[1].read_text(encoding="utf-8") for p in again
    ]


def test_false_accepts_on_public_text_count_pos_intents_only(tmp_path):
    from bot.quality.evaluate import false_accept_rate, load_texts

    predictions = [
        Prediction("out_of_scope", 0.9),
        Prediction("nlu_fallback", 0.3),
        Prediction("greet", 0.8),  # "你好" is a greeting in any corpus
        Prediction("ask_review_time", 0.7),
    ]
    assert false_accept_rate(predictions) == 0.25
    yaml_file = tmp_path / "public.yml"
    yaml_file.write_text(
        'version: "3.1"\nnlu:\n- intent: weather\n  examples: |\n    - 明天下雨吗\n',
        encoding="utf-8",
    )
    text_file = tmp_path / "public.txt"
    text_file.write_text("播放音乐\n\n  导航去机场 \n", encoding="utf-8")
    assert load_texts(yaml_file) == ["明天下雨吗"]
    assert load_texts(text_file) == ["播放音乐", "导航去机场"]
