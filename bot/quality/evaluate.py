"""`make eval`: our NLU pipeline against two peers on the same train/test split.

Peers: Rasa's stock configuration (eval/configs/stock_zh.yml) and a BM25 retrieval baseline
(nearest training example over jieba tokens). Writes reports/eval/summary.md, metrics.json and
PNG charts. Works on any Rasa NLU YAML train/test pair (e.g. the SMP2017 benchmark). With
``--phrasing`` the same trained models also parse the public phrasing set (real merchant
questions and real look-alikes about other products, tests/nlu/public/).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bot.domain_values import normalize_identifier
from bot.quality.noise import homophone_table, perturbations

OUT_OF_SCOPE: Final = "out_of_scope"
FALLBACK: Final = "nlu_fallback"
ID_ENTITIES: Final = ("merchant_id", "terminal_id", "case_id", "phone_number", "phone_last4")
# Answering these to an unrelated message is harmless ("你好" in any corpus is a greeting).
SOCIAL_INTENTS: Final = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge"})
SEED: Final = 20261125


@dataclass(frozen=True)
class Example:
    """One labelled test message."""

    text: str
    intent: str
    entities: tuple[tuple[str, str], ...]


@dataclass
class Prediction:
    """What a pipeline said about one message."""

    intent: str
    confidence: float
    entities: tuple[tuple[str, str], ...] = ()


@dataclass
class Result:
    """The figures of one pipeline on one test set."""

    name: str
    accuracy: float = 0.0
    macro_f1: float = 0.0
    oos_false_accept: float | None = None
    public_false_accept: float | None = None
    noise_accuracy: float | None = None
    noise_drop_points: float | None = None
    entity_f1: dict[str, float] = field(default_factory=dict)
    per_intent_f1: dict[str, float] = field(default_factory=dict)
    train_seconds: float = 0.0
    predictions: list[Prediction] = field(default_factory=list)
    phrasing: PhrasingScore | None = None


@dataclass(frozen=True)
class PhrasingScore:
    """A pipeline's figures on the public phrasing set.

    ``accuracy``: share of the in-domain lines given their exact intent; ``lookalike_false_accept``:
    share of the look-alikes (gold out_of_scope) given a POS intent (social replies are harmless,
    as in :func:`false_accept_rate`); ``misses``: (expected, predicted) -> count, both sets.
    """

    accuracy: float | None
    in_domain: int
    lookalike_false_accept: float | None
    lookalikes: int
    misses: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class CrossValidation:
    """Mean and spread of our pipeline's figures over k stratified folds of the training data."""

    folds: int
    accuracy: tuple[float, float]
    macro_f1: tuple[float, float]
    entity_f1: dict[str, tuple[float, float]]


def load_examples(path: Path) -> list[Example]:
    """Labelled examples of a Rasa NLU YAML file (or folder)."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [
        Example(
            m.get("text"),
            m.get("intent"),
            tuple(
                (e["entity"], _entity_value(e["entity"], e["value"]))
                for e in m.get("entities") or []
            ),
        )
        for m in data.intent_examples
    ]


def load_texts(path: Path) -> list[str]:
    """Messages of a Rasa NLU YAML file (any intent) or of a plain text file (one per line)."""
    if path.suffix in (".yml", ".yaml"):
        return [e.text for e in load_examples(path)]
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip()]


def false_accept_rate(predictions: Sequence[Prediction]) -> float:
    """Share of out-of-scope messages routed into a POS intent (social replies are fine)."""
    harmless = SOCIAL_INTENTS | {OUT_OF_SCOPE}
    accepted = [p for p in predictions if _label(p.intent) not in harmless]
    return len(accepted) / len(predictions)


def score_phrasing(examples: Sequence[Example], predictions: Sequence[Prediction]) -> PhrasingScore:
    """In-domain accuracy and look-alike false-accept of one pipeline on the phrasing set."""
    pairs = list(zip(examples, predictions, strict=True))
    in_domain = [(e.intent, _label(p.intent)) for e, p in pairs if e.intent != OUT_OF_SCOPE]
    lookalikes = [p for e, p in pairs if e.intent == OUT_OF_SCOPE]
    harmless = SOCIAL_INTENTS | {OUT_OF_SCOPE}
    misses = Counter((gold, predicted) for gold, predicted in in_domain if gold != predicted)
    misses.update(
        (OUT_OF_SCOPE, _label(p.intent)) for p in lookalikes if _label(p.intent) not in harmless
    )
    return PhrasingScore(
        accuracy=(
            sum(gold == predicted for gold, predicted in in_domain) / len(in_domain)
            if in_domain
            else None
        ),
        in_domain=len(in_domain),
        lookalike_false_accept=false_accept_rate(lookalikes) if lookalikes else None,
        lookalikes=len(lookalikes),
        misses=misses,
    )


def _entity_value(entity: str, value: Any) -> str:
    return normalize_identifier(value) if entity in ID_ENTITIES else str(value)


def _label(intent: str) -> str:
    return OUT_OF_SCOPE if intent == FALLBACK else intent


class RasaPipeline:
    """A Rasa NLU model trained from a config file."""

    def __init__(self, name: str, config: Path, workdir: Path) -> None:
        self.name = name
        self.config = config
        self.workdir = workdir
        self.agent: Any = None

    def train(self, train_data: Path) -> float:
        """Trains the NLU model and returns the seconds it took."""
        started = time.monotonic()
        command = [
            str(Path(sys.executable).with_name("rasa")), "train", "nlu", "--config",
            str(self.config), "--nlu", str(train_data), "--out", str(self.workdir),
            "--fixed-model-name", self.name,
        ]  # fmt: skip
        log = self.workdir / f"{self.name}-train.log"
        self.workdir.mkdir(parents=True, exist_ok=True)
        with log.open("w") as handle:
            subprocess.run(command, check=True, stdout=handle, stderr=subprocess.STDOUT)
        from rasa.core.agent import Agent

        self.agent = Agent.load(str(self.workdir / f"{self.name}.tar.gz"))
        return time.monotonic() - started

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Parses every text."""

        async def parse_all() -> list[dict]:
            return [await self.agent.parse_message(text) for text in texts]

        return [
            Prediction(
                p["intent"]["name"],
                float(p["intent"].get("confidence") or 0.0),
                tuple(
                    (e["entity"], _entity_value(e["entity"], e["value"]))
                    for e in p.get("entities") or []
                ),
            )
            for p in asyncio.run(parse_all())
        ]


class Bm25Pipeline:
    """Retrieval baseline: the intent of the most similar training example (BM25, jieba)."""

    name = "bm25"

    def train(self, train_data: Path) -> float:
        import jieba
        from rank_bm25 import BM25Okapi

        started = time.monotonic()
        examples = load_examples(train_data)
        self._intents = [e.intent for e in examples]
        self._bm25 = BM25Okapi([list(jieba.cut(e.text)) or [""] for e in examples])
        return time.monotonic() - started

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        import jieba

        predictions = []
        for text in texts:
            scores = self._bm25.get_scores(list(jieba.cut(text)))
            best = max(range(len(scores)), key=scores.__getitem__)
            total = float(sum(scores)) or 1.0
            predictions.append(Prediction(self._intents[best], float(scores[best]) / total))
        return predictions


def write_folds(train: Path, folds: int, workdir: Path) -> list[tuple[Path, Path]]:
    """Stratified, seeded k-fold split of the training data into Rasa YAML file pairs.

    Every training fold keeps the regexes, lookup tables and synonyms of the whole data.
    """
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from sklearn.model_selection import StratifiedKFold

    data = load_data(str(train))
    examples = data.intent_examples
    labels = [m.get("intent") for m in examples]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    pairs = []
    workdir.mkdir(parents=True, exist_ok=True)
    for number, (train_index, test_index) in enumerate(splitter.split(examples, labels), 1):
        paths = workdir / f"fold{number}-train.yml", workdir / f"fold{number}-test.yml"
        for path, index in zip(paths, (train_index, test_index), strict=True):
            part = TrainingData(
                training_examples=[examples[i] for i in index],
                entity_synonyms=data.entity_synonyms,
                regex_features=data.regex_features,
                lookup_tables=data.lookup_tables,
            )
            RasaYAMLWriter().dump(path, part)
        pairs.append(paths)
    return pairs


def cross_validate(
    train: Path, folds: int, workdir: Path, config: Path = Path("config.yml")
) -> CrossValidation:
    """Trains and scores our pipeline on each fold; returns mean and standard deviation."""
    import statistics

    scores = []
    for number, (fold_train, fold_test) in enumerate(write_folds(train, folds, workdir), 1):
        pipeline = RasaPipeline(f"ours-fold{number}", config, workdir)
        pipeline.train(fold_train)
        examples = load_examples(fold_test)
        result = Result(pipeline.name)
        score(result, examples, pipeline.predict([e.text for e in examples]))
        print(f"fold {number}/{folds}: accuracy {result.accuracy:.3f}", flush=True)
        scores.append(result)

    def spread(values: list[float]) -> tuple[float, float]:
        return statistics.fmean(values), statistics.pstdev(values)

    entities = sorted({e for r in scores for e in r.entity_f1})
    return CrossValidation(
        folds=folds,
        accuracy=spread([r.accuracy for r in scores]),
        macro_f1=spread([r.macro_f1 for r in scores]),
        entity_f1={
            e: spread([r.entity_f1[e] for r in scores if e in r.entity_f1]) for e in entities
        },
    )


def _f1(tp: int, fp: int, fn: int) -> float:
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def score(result: Result, examples: Sequence[Example], predictions: Sequence[Prediction]) -> None:
    """Fills accuracy, macro-F1, per-intent F1, OOS false accepts and entity F1."""
    gold = [e.intent for e in examples]
    predicted = [_label(p.intent) for p in predictions]
    result.predictions = list(predictions)
    result.accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)
    counts: dict[str, Counter] = defaultdict(Counter)
    for g, p in zip(gold, predicted, strict=True):
        if g == p:
            counts[g]["tp"] += 1
        else:
            counts[g]["fn"] += 1
            counts[p]["fp"] += 1
    result.per_intent_f1 = {
        intent: _f1(c["tp"], c["fp"], c["fn"]) for intent, c in sorted(counts.items())
        if intent in set(gold)
    }  # fmt: skip
    result.macro_f1 = sum(result.per_intent_f1.values()) / len(result.per_intent_f1)
    oos = [p for g, p in zip(gold, predicted, strict=True) if g == OUT_OF_SCOPE]
    if oos:
        result.oos_false_accept = sum(p != OUT_OF_SCOPE for p in oos) / len(oos)
    entity_counts: dict[str, Counter] = defaultdict(Counter)
    for example, prediction in zip(examples, predictions, strict=True):
        expected, found = Counter(example.entities), Counter(prediction.entities)
        for entity, value in set(expected) | set(found):
            matched = min(expected[(entity, value)], found[(entity, value)])
            entity_counts[entity]["tp"] += matched
            entity_counts[entity]["fn"] += expected[(entity, value)] - matched
            entity_counts[entity]["fp"] += found[(entity, value)] - matched
    result.entity_f1 = {
        entity: _f1(c["tp"], c["fp"], c["fn"])
        for entity, c in sorted(entity_counts.items())
        if c["tp"] + c["fn"] > 0
    }


def noisy_copies(examples: Sequence[Example], vocabulary: list[str]) -> list[Example]:
    """Every example perturbed once by each perturbation (seeded)."""
    rng = random.Random(SEED)
    noise = perturbations(homophone_table(vocabulary))
    copies = []
    for example in examples:
        for perturb in noise.values():
            copies.append(Example(perturb(example.text, rng), example.intent, example.entities))
    return copies


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.1f} %" if percent else f"{value:.3f}"


def write_report(
    results: list[Result],
    out: Path,
    train: Path,
    test: Path,
    n_test: int,
    cross_validation: CrossValidation | None = None,
    public: Sequence[Path] = (),
    n_public: int = 0,
    phrasing: Path | None = None,
) -> None:
    """summary.md and metrics.json."""
    out.mkdir(parents=True, exist_ok=True)
    ours = results[0]
    rows = [
        ("intent accuracy", "accuracy", False, True),
        ("macro-F1", "macro_f1", False, True),
        ("out-of-scope false-accept", "oos_false_accept", True, False),
        ("false-accept on public text", "public_false_accept", True, False),
        ("accuracy on noisy copies", "noise_accuracy", False, True),
        ("noise drop (points)", "noise_drop_points", False, False),
        ("training seconds", "train_seconds", False, False),
    ]
    lines = [
        "# NLU evaluation", "",
        f"Train: `{train}` · test: `{test}` ({n_test} examples) · seed {SEED}", "",
        *([f"Public out-of-scope text: {', '.join(f'`{p}`' for p in public)} ({n_public}"
           " messages, none in this repository); a greeting/thanks/yes/no reply is not counted"
           " as a false accept.", ""] if n_public else []),
        "| figure | " + " | ".join(r.name for r in results) + " | ours / peer |",
        "|---|" + "---|" * len(results) + "---|",
    ]  # fmt: skip
    for title, attribute, percent, _higher in rows:
        values = [getattr(r, attribute) for r in results]
        ratios = ", ".join(
            f"{r.name}: {values[0] / v:.2f}" if v not in (None, 0) and values[0] is not None
            else f"{r.name}: —"
            for r, v in zip(results[1:], values[1:], strict=True)
        )  # fmt: skip
        cells = []
        for value in values:
            if attribute == "train_seconds":
                cells.append(f"{value:.0f}")
            elif attribute == "noise_drop_points":
                cells.append("—" if value is None else f"{value:.1f}")
            else:
                cells.append(_fmt(value, percent))
        lines.append(f"| {title} | " + " | ".join(cells) + f" | {ratios} |")
    if ours.phrasing is not None:
        lines += _phrasing_section(results, phrasing)
    entity_names = sorted({e for r in results for e in r.entity_f1})
    if entity_names:
        lines += ["", "| entity F1 | " + " | ".join(r.name for r in results) + " |",
                  "|---|" + "---|" * len(results)]  # fmt: skip
        for entity in entity_names:
            lines.append(
                f"| {entity} | " + " | ".join(_fmt(r.entity_f1.get(entity)) for r in results) + " |"
            )
    worst = sorted(ours.per_intent_f1.items(), key=lambda item: item[1])[:8]
    lines += ["", "Lowest per-intent F1 (ours): "
              + ", ".join(f"{i} {f:.2f}" for i, f in worst), ""]  # fmt: skip
    if cross_validation is not None:
        cv = cross_validation
        lines += [
            f"{cv.folds}-fold cross-validation of ours on the training data (stratified, seeded):",
            "",
            "| figure | mean | std |",
            "|---|---|---|",
            f"| intent accuracy | {cv.accuracy[0]:.3f} | {cv.accuracy[1]:.3f} |",
            f"| macro-F1 | {cv.macro_f1[0]:.3f} | {cv.macro_f1[1]:.3f} |",
        ]
        lines += [f"| entity F1 {e} | {m:.3f} | {d:.3f} |" for e, (m, d) in cv.entity_f1.items()]
        lines.append("")
    (out / "summary.md").write_text("\n".join(lines), encoding="utf-8")
    metrics = {
        r.name: {
            k: getattr(r, k)
            for k in (
                "accuracy",
                "macro_f1",
                "oos_false_accept",
                "public_false_accept",
                "noise_accuracy",
                "noise_drop_points",
                "entity_f1",
                "per_intent_f1",
                "train_seconds",
            )
        }
        for r in results
    }
    for result in results:
        if result.phrasing is not None:
            metrics[result.name]["phrasing_accuracy"] = result.phrasing.accuracy
            metrics[result.name]["lookalike_false_accept"] = result.phrasing.lookalike_false_accept
    if ours.phrasing is not None:
        metrics["public_phrasing"] = {
            "file": str(phrasing),
            "in_domain": ours.phrasing.in_domain,
            "lookalikes": ours.phrasing.lookalikes,
            "ours_misses": {f"{g} -> {p}": n for (g, p), n in ours.phrasing.misses.most_common()},
        }
    if cross_validation is not None:
        metrics["ours_cross_validation"] = {
            "folds": cross_validation.folds,
            "accuracy": cross_validation.accuracy,
            "macro_f1": cross_validation.macro_f1,
            "entity_f1": cross_validation.entity_f1,
        }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False))


def _phrasing_section(results: list[Result], phrasing: Path | None) -> list[str]:
    """Markdown lines: the phrasing-set figures of every pipeline and our misses."""
    ours = results[0].phrasing
    assert ours is not None
    lines = [
        "",
        f"Public phrasing set `{phrasing}` ({ours.in_domain} real merchant questions,"
        f" {ours.lookalikes} real look-alikes about other products; never trained on):",
        "",
        "| figure | " + " | ".join(r.name for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]
    for title, attribute, percent in (
        ("in-domain accuracy", "accuracy", False),
        ("look-alike false-accept", "lookalike_false_accept", True),
    ):
        cells = [
            _fmt(getattr(r.phrasing, attribute) if r.phrasing else None, percent) for r in results
        ]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    worst = ", ".join(f"{g} -> {p} {n}" for (g, p), n in ours.misses.most_common(10))
    lines += ["", f"Most frequent misses of ours (expected -> predicted): {worst or 'none'}"]
    return lines


def write_charts(ours: Result, examples: Sequence[Example], out: Path) -> None:
    """Confusion matrix, per-intent F1 and confidence histogram of our pipeline."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = sorted({e.intent for e in examples} | {_label(p.intent) for p in ours.predictions})
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for example, prediction in zip(examples, ours.predictions, strict=True):
        matrix[index[example.intent]][index[_label(prediction.intent)]] += 1
    figure, axis = plt.subplots(figsize=(12, 10))
    axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    axis.set_yticks(range(len(labels)), labels, fontsize=7)
    axis.set_xlabel("predicted")
    axis.set_ylabel("gold")
    axis.set_title("confusion matrix (ours, held-out)")
    figure.tight_layout()
    figure.savefig(out / "confusion_matrix.png", dpi=110)
    plt.close(figure)

    intents = list(ours.per_intent_f1)
    figure, axis = plt.subplots(figsize=(10, 6))
    axis.barh(intents, [ours.per_intent_f1[i] for i in intents])
    axis.set_xlim(0, 1)
    axis.tick_params(axis="y", labelsize=7)
    axis.set_title("per-intent F1 (ours)")
    figure.tight_layout()
    figure.savefig(out / "per_intent_f1.png", dpi=110)
    plt.close(figure)

    groups: dict[str, list[float]] = {"correct": [], "wrong": [], "out_of_scope": []}
    for example, prediction in zip(examples, ours.predictions, strict=True):
        if example.intent == OUT_OF_SCOPE:
            groups["out_of_scope"].append(prediction.confidence)
        elif _label(prediction.intent) == example.intent:
            groups["correct"].append(prediction.confidence)
        else:
            groups["wrong"].append(prediction.confidence)
    figure, axis = plt.subplots(figsize=(8, 5))
    for name, values in groups.items():
        if values:
            axis.hist(values, bins=20, range=(0, 1), alpha=0.6, label=f"{name} ({len(values)})")
    axis.legend()
    axis.set_xlabel("confidence of the top intent")
    axis.set_title("confidence histogram (ours)")
    figure.tight_layout()
    figure.savefig(out / "confidence_histogram.png", dpi=110)
    plt.close(figure)


def evaluate(
    train: Path,
    test: Path,
    out: Path,
    peers: bool = True,
    folds: int = 5,
    config: Path = Path("config.yml"),
    public: Sequence[Path] = (),
    phrasing: Path | None = None,
) -> list[Result]:
    """Trains and scores our pipeline (and the peers) on one split, plus k-fold CV of ours.

    ``public``: files of messages that are all out of scope for the bot (e.g. a public corpus
    of other assistants' requests); scored only when the training data has out-of-scope
    examples, since a closed-set model has no notion of scope. ``phrasing``: the public
    phrasing set (Rasa NLU YAML; out_of_scope lines are look-alikes), parsed by the same
    trained models.
    """
    examples = load_examples(test)
    training = load_examples(train)
    vocabulary = [e.text for e in training]
    public_texts = [text for path in public for text in load_texts(path)]
    if not any(e.intent == OUT_OF_SCOPE for e in training):
        public_texts = []
    noisy = noisy_copies(examples, vocabulary)
    phrasing_examples = load_examples(phrasing) if phrasing else []
    workdir = out / "models"
    pipelines: list[Any] = [RasaPipeline("ours", config, workdir)]
    if peers:
        pipelines += [
            RasaPipeline("rasa_stock", Path("eval/configs/stock_zh.yml"), workdir),
            Bm25Pipeline(),
        ]
    results = []
    for pipeline in pipelines:
        result = Result(pipeline.name)
        result.train_seconds = pipeline.train(train)
        score(result, examples, pipeline.predict([e.text for e in examples]))
        clean = result.accuracy
        noisy_result = Result(pipeline.name)
        score(noisy_result, noisy, pipeline.predict([e.text for e in noisy]))
        result.noise_accuracy = noisy_result.accuracy
        result.noise_drop_points = (clean - noisy_result.accuracy) * 100
        if public_texts:
            result.public_false_accept = false_accept_rate(pipeline.predict(public_texts))
        if phrasing_examples:
            result.phrasing = score_phrasing(
                phrasing_examples, pipeline.predict([e.text for e in phrasing_examples])
            )
        results.append(result)
        print(f"{pipeline.name}: accuracy {result.accuracy:.3f}, macro-F1 {result.macro_f1:.3f}",
              flush=True)  # fmt: skip
    cv = cross_validate(train, folds, out / "cv", config) if folds > 1 else None
    write_report(results, out, train, test, len(examples), cv, public, len(public_texts), phrasing)
    write_charts(results[0], examples, out)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of ``make eval``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default="data/nlu")
    parser.add_argument("--test", default="tests/nlu/test_nlu.yml")
    parser.add_argument("--out", default="reports/eval")
    parser.add_argument("--no-peers", action="store_true", help="only our pipeline")
    parser.add_argument("--folds", type=int, default=5, help="k of the cross-validation; 0: none")
    parser.add_argument("--config", default="config.yml", help="our pipeline's Rasa config")
    parser.add_argument(
        "--public-oos",
        nargs="*",
        default=[],
        help="files of out-of-scope messages (Rasa NLU YAML or one per line) for false accepts",
    )
    parser.add_argument(
        "--phrasing",
        default=None,
        help="public phrasing set (Rasa NLU YAML): in-domain accuracy and look-alike false-accept",
    )
    args = parser.parse_args(argv)
    evaluate(
        Path(args.train),
        Path(args.test),
        Path(args.out),
        not args.no_peers,
        args.folds,
        Path(args.config),
        [Path(path) for path in args.public_oos],
        Path(args.phrasing) if args.phrasing else None,
    )
    print((Path(args.out) / "summary.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
