"""Work for Rasa's debug log lines is done only when Rasa logs at debug level."""

from __future__ import annotations

import ast
import importlib
import inspect
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import rasa
from rasa.core.policies.policy import Policy
from rasa.core.policies.rule_policy import RulePolicy

from bot import debug_logs
from bot.debug_logs import DEBUG_ONLY_COPY_MODULES, NOT_FORMATTED, DebugOnlyCopies

STATES = [
    {},
    {"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}},
    {"user": {"intent": "greet"}, "prev_action": {"action_name": "utter_greet"}},
]
DEBUG_CALL = "structlogger.debug"


@pytest.fixture(scope="module", autouse=True)
def applied() -> Iterator[None]:
    modules = [importlib.import_module(name) for name in DEBUG_ONLY_COPY_MODULES]
    copies = [module.copy for module in modules]
    formatter = RulePolicy.__dict__.get("format_tracker_states")
    debug_logs.apply()
    debug_logs.apply()  # idempotent
    yield
    for module, original in zip(modules, copies, strict=True):
        module.copy = original
    if formatter is None:
        del RulePolicy.format_tracker_states
    else:
        RulePolicy.format_tracker_states = formatter


@pytest.fixture
def rasa_level() -> Iterator[logging.Logger]:
    rasa_logger = logging.getLogger("rasa")
    level = rasa_logger.level
    yield rasa_logger
    rasa_logger.setLevel(level)


def _with_parents(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.parent = node  # type: ignore[attr-defined]
    return tree


def _tree(module_name: str) -> ast.Module:
    return _with_parents(ast.parse(inspect.getsource(importlib.import_module(module_name))))


def _inside_debug_call(node: ast.AST) -> bool:
    """Whether ``node`` is (inside) a keyword argument of a ``structlogger.debug`` call."""
    while (parent := getattr(node, "parent", None)) is not None:
        if isinstance(parent, ast.Call) and ast.unparse(parent.func) == DEBUG_CALL:
            return any(keyword is node for keyword in parent.keywords)
        if isinstance(parent, ast.stmt):
            return False
        node = parent
    return False


@pytest.mark.parametrize("module_name", DEBUG_ONLY_COPY_MODULES)
def test_every_deep_copy_in_the_module_only_feeds_a_debug_log(module_name):
    tree = _tree(module_name)
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and ast.unparse(node.value) == "copy"
    }
    assert used <= {"copy", "deepcopy"}  # what DebugOnlyCopies stands for
    copies = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "copy.deepcopy"
    ]
    assert copies
    assert all(_inside_debug_call(call) for call in copies), module_name
    assert isinstance(importlib.import_module(module_name).copy, DebugOnlyCopies)


def test_the_rules_formatted_states_only_feed_a_debug_log():
    tree = _tree("rasa.core.policies.rule_policy")
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("format_tracker_states")
    ]
    assert len(calls) == 1
    assignment = calls[0].parent  # type: ignore[attr-defined]
    assert isinstance(assignment, ast.Assign) and len(assignment.targets) == 1
    name = assignment.targets[0].id  # type: ignore[attr-defined]
    reads = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load)
    ]
    assert reads and all(_inside_debug_call(read) for read in reads)


def test_no_other_rasa_module_formats_tracker_states():
    package = Path(rasa.__file__).parent
    callers = {
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if ".format_tracker_states(" in path.read_text(encoding="utf-8")
    }
    assert callers == {"core/policies/rule_policy.py"}


def test_copies_and_text_are_made_only_at_debug_level(rasa_level):
    states = [dict(state) for state in STATES]
    rasa_level.setLevel(logging.INFO)
    assert DebugOnlyCopies.deepcopy(states) is states
    assert RulePolicy.format_tracker_states(states) == NOT_FORMATTED
    rasa_level.setLevel(logging.DEBUG)
    copied = DebugOnlyCopies.deepcopy(states)
    assert copied == states and copied is not states and copied[1] is not states[1]
    text = RulePolicy.format_tracker_states(states)
    assert text == Policy.format_tracker_states(states)
    assert "user intent: greet" in text and "previous action name: utter_greet" in text


def test_the_source_check_tells_a_debug_argument_from_other_uses():
    tree = _with_parents(
        ast.parse(
            "structlogger.debug('e', a=copy.deepcopy(b))\n"
            "c = copy.deepcopy(d)\n"
            "structlogger.info('e', a=copy.deepcopy(b))\n"
            "structlogger.debug(copy.deepcopy(b))\n"
        )
    )
    copies = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "copy.deepcopy"
    ]
    found = sorted((call.lineno, _inside_debug_call(call)) for call in copies)
    assert found == [(1, True), (2, False), (3, False), (4, False)]
