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


def _phrasing_set() -> tuple[list[Example], list[Prediction]]:
    examples = [
        Example("pos机被冻结了怎么解冻", "ask_unsuspend_process", ()),
        Example("pos机显示无效商户", "report_error_code", ()),
        Example("pos机押金能退吗", "ask_fees", ()),
        Example("身份证要审核多久", "out_of_scope", ()),
        Example("银行卡被冻结怎么办", "out_of_scope", ()),
        Example("你好 社保卡怎么激活", "out_of_scope", ()),
        Example("信用卡被停用了还能开通吗", "out_of_scope", ()),
    ]
    predictions = [
        Prediction("ask_unsuspend_process", 0.9),
        Prediction("nlu_fallback", 0.2),  # a fallback on an in-domain line is a miss
        Prediction("ask_pos_types", 0.6),
        Prediction("ask_review_time", 0.7),  # a look-alike accepted as a POS question
        Prediction("nlu_fallback", 0.3),
        Prediction("greet", 0.8),  # a greeting reply is harmless
        Prediction("out_of_scope", 0.9),
    ]
    return examples, predictions


def test_phrasing_scores_in_domain_accuracy_and_lookalike_false_accepts():
    from collections import Counter

    from bot.quality.evaluate import score_phrasing

    score = score_phrasing(*_phrasing_set())

    assert score.in_domain == 3
    assert score.lookalikes == 4
    assert score.accuracy == 1 / 3
    assert score.lookalike_false_accept == 0.25
    assert score.misses == Counter(
        {
            ("report_error_code", "out_of_scope"): 1,
            ("ask_fees", "ask_pos_types"): 1,
            ("out_of_scope", "ask_review_time"): 1,
        }
    )


def test_phrasing_without_lookalikes_or_in_domain_lines_has_no_figure():
    from bot.quality.evaluate import score_phrasing

    only_in_domain = score_phrasing(
        [Example("pos机被冻结", "ask_unsuspend_process", ())],
        [Prediction("ask_unsuspend_process", 0.9)],
    )
    only_lookalikes = score_phrasing(
        [Example("身份证要审核多久", "out_of_scope", ())], [Prediction("out_of_scope", 0.9)]
    )

    assert (only_in_domain.accuracy, only_in_domain.lookalike_false_accept) == (1.0, None)
    assert (only_lookalikes.accuracy, only_lookalikes.lookalike_false_accept) == (None, 0.0)


def test_report_adds_the_phrasing_figures_and_leaves_the_rest_unchanged(tmp_path):
    import json
    from pathlib import Path

    from bot.quality.evaluate import score_phrasing, write_report

    def results(with_phrasing: bool) -> list[Result]:
        made = []
        for name in ("ours", "rasa_stock", "bm25"):
            result = Result(name, accuracy=0.9, macro_f1=0.8, per_intent_f1={"greet": 0.8})
            if with_phrasing:
                result.phrasing = score_phrasing(*_phrasing_set())
            made.append(result)
        return made

    plain_out, phrasing_out = tmp_path / "plain", tmp_path / "phrasing"
    phrasing_file = Path("tests/nlu/public/test_public_nlu.yml")
    write_report(results(False), plain_out, Path("train"), Path("test"), 10)
    write_report(
        results(True), phrasing_out, Path("train"), Path("test"), 10, phrasing=phrasing_file
    )

    plain = (plain_out / "summary.md").read_text(encoding="utf-8")
    with_phrasing = (phrasing_out / "summary.md").read_text(encoding="utf-8")
    assert "phrasing" not in plain
    assert with_phrasing.startswith(plain.split("\n\nLowest per-intent F1")[0])
    assert "| in-domain accuracy | 0.333 | 0.333 | 0.333 |" in with_phrasing
    assert "| look-alike false-accept | 25.0 % | 25.0 % | 25.0 % |" in with_phrasing
    assert "(3 real merchant questions, 4 real look-alikes" in with_phrasing
    assert "report_error_code -> out_of_scope 1" in with_phrasing

    plain_metrics = json.loads((plain_out / "metrics.json").read_text())
    metrics = json.loads((phrasing_out / "metrics.json").read_text())
    assert "public_phrasing" not in plain_metrics
    assert "phrasing_accuracy" not in plain_metrics["ours"]
    for name in ("ours", "rasa_stock", "bm25"):
        assert metrics[name]["phrasing_accuracy"] == 1 / 3
        assert metrics[name]["lookalike_false_accept"] == 0.25
        new = {"phrasing_accuracy", "lookalike_false_accept"}
        rest = {k: v for k, v in metrics[name].items() if k not in new}
        assert rest == plain_metrics[name]
    assert metrics["public_phrasing"]["in_domain"] == 3
    assert metrics["public_phrasing"]["lookalikes"] == 4
    assert metrics["public_phrasing"]["ours_misses"]["out_of_scope -> ask_review_time"] == 1
