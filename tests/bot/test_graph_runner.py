"""The sequential graph runner gives what Rasa's dask runner gives, at a lower cost."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from rasa.engine.exceptions import GraphComponentException, GraphRunError
from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema, SchemaNode
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import graph_runner
from bot.graph_runner import SequentialGraphRunner, execution_order

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "posbot.tar.gz"


class Add(GraphComponent):
    """A node adding its inputs (``start``: a number given as an input)."""

    @classmethod
    def create(cls, config, model_storage, resource, execution_context) -> Add:
        return cls()

    def add(self, **numbers: Any) -> Any:
        if any(value == "boom" for value in numbers.values()):
            raise RuntimeError("boom")
        return sum(value for value in numbers.values() if isinstance(value, int))


def _node(needs: dict[str, str]) -> SchemaNode:
    return SchemaNode(needs=needs, uses=Add, constructor_name="create", fn="add", config={})


SCHEMA = GraphSchema(
    {
        "a": _node({"x": "start"}),
        "b": _node({"x": "a"}),
        "c": _node({"x": "a", "y": "b"}),
        "unused": _node({"x": "start"}),
    }
)


@pytest.fixture()
def storage(tmp_path: Path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def _runners(storage: LocalModelStorage, schema: GraphSchema = SCHEMA) -> list[DaskGraphRunner]:
    context = ExecutionContext(schema, "test")
    return [cls(schema, storage, context) for cls in (DaskGraphRunner, SequentialGraphRunner)]


def test_order_puts_every_node_after_what_it_needs_and_leaves_out_the_rest():
    order = execution_order(SCHEMA, ["c"])
    assert order == [("a", ["start"]), ("b", ["a"]), ("c", ["a", "b"])]


def test_a_cycle_is_an_error():
    cyclic = GraphSchema({"a": _node({"x": "b"}), "b": _node({"x": "a"})})
    with pytest.raises(GraphRunError, match="cycle"):
        execution_order(cyclic, ["a"])


def test_both_runners_give_the_same_outputs(storage: LocalModelStorage):
    dask_runner, sequential = _runners(storage)
    for targets in (["c"], ["a", "c"], None):
        expected = dask_runner.run(inputs={"start": 2}, targets=targets)
        assert sequential.run(inputs={"start": 2}, targets=targets) == expected
    assert sequential.run(inputs={"start": 2}, targets=["c"]) == {"c": 4}
    assert sequential.run(inputs={"start": 5}, targets=["c"]) == {"c": 10}  # the order is reused


def test_a_missing_input_reaches_the_node_as_its_name_like_with_dask(
    storage: LocalModelStorage, caplog: pytest.LogCaptureFixture
):
    for runner in _runners(storage):
        caplog.clear()
        with pytest.raises(GraphRunError, match="Missing input to run node 'a'"):
            runner.run(targets=["b"])
        assert "Node 'start' was not resolved" in caplog.text


def test_errors_are_rasas(storage: LocalModelStorage):
    for runner in _runners(storage):
        with pytest.raises(GraphRunError, match="clashes with a node name"):
            runner.run(inputs={"start": "a"}, targets=["c"])
        with pytest.raises(GraphComponentException, match="node a") as raised:
            runner.run(inputs={"start": "boom"}, targets=["c"])
        assert str(raised.value.__cause__) == "boom"


def test_install_swaps_the_runner_rasa_loads_models_with():
    import rasa.core.processor as processor

    original = processor.DaskGraphRunner
    try:
        graph_runner.install()
        graph_runner.install()  # idempotent
        assert processor.DaskGraphRunner is SequentialGraphRunner
    finally:
        processor.DaskGraphRunner = original
        vars(processor).pop("_posbot_sequential_runner", None)


@pytest.mark.model
def test_the_trained_model_parses_and_predicts_the_same():
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make test` (it trains first)")
    from rasa.core.agent import Agent

    agent = Agent.load(str(MODEL))
    processor = agent.processor
    dask_runner = processor.graph_runner
    sequential = object.__new__(SequentialGraphRunner)
    sequential.__dict__.update(dask_runner.__dict__, _orders={})
    texts = ["你好", "我的pos机为什么被停用", "商户号898310058121234", "审核要多久", "/greet"]

    def outcomes() -> list[Any]:
        results = []
        for text in texts:
            parse = asyncio.run(agent.parse_message(text))
            tracker = DialogueStateTracker.from_events(
                "graph-runner",
                [
                    SessionStarted(),
                    ActionExecuted("action_listen"),
                    UserUttered(text, parse["intent"], parse["entities"], parse),
                ],
                processor.domain.slots,
            )
            prediction = processor._predict_next_with_tracker(tracker)
            results.append((parse, prediction.max_confidence_index, prediction.probabilities))
        return results

    expected = outcomes()
    processor.graph_runner = sequential
    assert outcomes() == expected
