"""Rasa's prediction graph run node after node, without dask's scheduler.

Every message runs Rasa's graph at least three times (the NLU pipeline, then the policies once
per predicted action); Rasa hands each run to ``dask.get``, which rebuilds the graph, orders it
and schedules its tasks in Python each time: about a tenth of the Rasa server's CPU per turn
under load, more than the policies' own rule look-ups. Inside one process the graph is a fixed
set of nodes, so :class:`SequentialGraphRunner` orders each set of targets once and calls the
nodes in that order with the same arguments dask gives them (each parent's ``(name, output)``,
or the bare name of an input that was not given). Results and errors are the same; only the
cost of a run changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner

logger = logging.getLogger(__name__)

_APPLIED_MARK: Final = "_posbot_sequential_runner"
#: (component class, component class): nodes of the first run before nodes of the second
#: where their needs allow (see :func:`run_first`).
_RUN_FIRST: list[tuple[type, type]] = []


def run_first(component: type, before: type) -> None:
    """Makes the runner call the nodes of ``component`` (and subclasses) before those of
    ``before`` when neither needs the other (idempotent). :mod:`bot.rules_first` uses it."""
    if (component, before) not in _RUN_FIRST:
        _RUN_FIRST.append((component, before))


def arranged(
    order: list[tuple[str, list[str]]], component_of: Callable[[str], type | None]
) -> list[tuple[str, list[str]]]:
    """``order`` with each node of a :func:`run_first` component moved to just before the
    first node of the component it goes before, when every node it needs is already
    earlier there (a node only ever moves earlier, so what needs it still comes after)."""
    arranged_order = list(order)
    for first, later in _RUN_FIRST:
        for name, needs in list(arranged_order):
            if not _is(component_of(name), first):
                continue
            names = [node for node, _ in arranged_order]
            position = names.index(name)
            target = next(
                (i for i, node in enumerate(names[:position]) if _is(component_of(node), later)),
                None,
            )
            if target is None or any(need in names[target:] for need in needs):
                continue
            arranged_order.insert(target, arranged_order.pop(position))
    return arranged_order


def _is(component: type | None, cls: type) -> bool:
    return isinstance(component, type) and issubclass(component, cls)


def execution_order(schema: GraphSchema, targets: Iterable[str]) -> list[tuple[str, list[str]]]:
    """The nodes ``targets`` depend on (themselves included), each after the nodes it needs,
    with the names of what it needs in the order of its ``needs``.

    Raises:
        GraphRunError: the graph has a cycle, or a target is neither a node nor an input.
    """
    order: list[tuple[str, list[str]]] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise GraphRunError(f"The graph has a cycle through node '{name}'.")
        node = schema.nodes.get(name)
        if node is None:
            return  # an input placeholder: given with the inputs, or passed as its name
        visiting.add(name)
        needs = list(node.needs.values())
        for need in needs:
            visit(need)
        visiting.discard(name)
        done.add(name)
        order.append((name, needs))

    for target in targets:
        visit(target)
    return order


class SequentialGraphRunner(DaskGraphRunner):
    """:class:`DaskGraphRunner` that runs its graph in a precomputed order in this thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._orders: dict[tuple[str, ...], list[tuple[str, list[str]]]] = {}

    def run(
        self,
        inputs: Mapping[str, Any] | None = None,
        targets: list[str] | None = None,
    ) -> dict[str, Any]:
        """Runs the nodes the targets need and returns ``{target: output}``, as Rasa's runner.

        Raises:
            GraphRunError: an input is named like a node, or a node raised ``RuntimeError``.
        """
        run_targets = list(targets) if targets else list(self._graph_schema.target_names)
        key = tuple(run_targets)
        order = self._orders.get(key)
        if order is None:
            order = arranged(execution_order(self._graph_schema, run_targets), self._component)
            self._orders[key] = order
        results: dict[str, Any] = {}
        for name, value in (inputs or {}).items():
            if isinstance(value, str) and any(value == node for node, _ in order):
                raise GraphRunError(
                    f"Input value '{value}' clashes with a node name. Make sure "
                    f"that none of the input names passed to the `run` method are the "
                    f"same as node names in the graph schema."
                )
            results[name] = (name, value)
        nodes = self._instantiated_nodes
        try:
            for name, needs in order:
                results[name] = nodes[name](*[results.get(need, need) for need in needs])
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(results[target] for target in run_targets)

    def _component(self, name: str) -> type | None:
        node = self._instantiated_nodes.get(name)
        return getattr(node, "_component_class", None)


def install() -> None:
    """Makes the Rasa server load its models with :class:`SequentialGraphRunner` (idempotent)."""
    import rasa.core.processor as processor

    if getattr(processor, _APPLIED_MARK, False):
        return
    processor.DaskGraphRunner = SequentialGraphRunner
    setattr(processor, _APPLIED_MARK, True)
