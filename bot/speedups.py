"""Speed fixes for the Rasa server process; they change no behaviour, only the cost of a turn.

Rasa 3.6 validates every action server response with ``jsonschema.validate``, which first
checks the *schema* against the JSON Schema meta-schema and builds a new validator: about
40 ms of CPU per custom action call on this machine, half of the server's CPU under load. The
schema never changes, so the validator is built and checked once; responses are validated as
before and an invalid one raises the same ``ValidationError`` with the same message. Each event
of a response matched the ``oneOf`` of all 23 event types (0.83 ms for a response of three
events); their branches differ by the constant of the required ``event`` field, so an event is
valid exactly when it passes the shared part and the branch of its ``event``: that is checked
first (:class:`EventsByType`, 0.08 ms), and only a response it finds invalid is validated in
full, for Rasa's error. Event-loop CPU per turn: 0.901 of before (paired single profiles, 16
alternating blocks of 360 turns, every block lower). The shared part and the branches are
compiled to Python by fastjsonschema (:class:`CompiledSchema`): 95 -> 7 us for a response of
three events; its verdicts are checked against jsonschema's on valid and mutated responses, and
a response it refuses is still judged by jsonschema.

Reading a tracker (the in-memory tracker store keeps it serialised) and an action's events looks
every event's class up by walking all subclasses of ``Event`` again (7 % of the CPU of a turn);
the classes are looked up in a table instead, rebuilt when a name is not found.

Every message asks ``Domain.is_empty()``, which built a new empty domain from a dictionary to
compare with (2 % of a turn); the empty domain's dictionary is built once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

_APPLIED_MARK = "_posbot_cached_validator"
EVENTS: Final = "events"
EVENT: Final = "event"


class CompiledSchema:
    """``is_valid`` of one schema, compiled to Python code by fastjsonschema (draft 7: the
    keywords of Rasa's action response schema mean the same there as in jsonschema's draft)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        import fastjsonschema

        self._check = fastjsonschema.compile(dict(schema))
        self._error = fastjsonschema.JsonSchemaException

    def is_valid(self, instance: Any) -> bool:
        """Whether ``instance`` is valid under the schema."""
        try:
            self._check(instance)
        except self._error:
            return False
        return True


class EventsByType:
    """Validity of an action response under a schema whose ``events`` are an array of one
    ``oneOf`` over event types, each branch naming a different constant ``event`` (Rasa's
    ``EVENTS_SCHEMA``): at most one branch can match an event, the one of its ``event``, so
    ``oneOf`` holds exactly when that branch does."""

    def __init__(self, rest: Any, shared: Any, branches: Mapping[str, Any]) -> None:
        self.rest = rest
        self.shared = shared
        self.branches = branches

    @classmethod
    def of(cls, schema: Mapping[str, Any], validator_class: Any) -> EventsByType | None:
        """The checker of ``schema``, or None when its shape is not that one."""
        properties = schema.get("properties")
        if not isinstance(properties, Mapping):
            return None
        events = properties.get(EVENTS)
        item = events.get("items") if isinstance(events, Mapping) else None
        if (
            not isinstance(events, Mapping)
            or not isinstance(item, Mapping)
            or dict(events) != {"type": "array", "items": item}
            or EVENT not in item.get("required", ())
            or not isinstance(item.get("oneOf"), list)
        ):
            return None
        branches: dict[str, Any] = {}
        for branch in item["oneOf"]:
            of_branch = branch.get("properties") if isinstance(branch, Mapping) else None
            named = of_branch.get(EVENT) if isinstance(of_branch, Mapping) else None
            const = named.get("const") if isinstance(named, Mapping) else None
            if not isinstance(const, str) or const in branches:
                return None
            branches[const] = validator_class(branch)
        rest = {**schema, "properties": {k: v for k, v in properties.items() if k != EVENTS}}
        shared = {key: value for key, value in item.items() if key != "oneOf"}
        return cls(validator_class(rest), validator_class(shared), branches)

    def valid(self, result: Any) -> bool:
        """Whether ``result`` is valid under the schema (False: see the full validation)."""
        if not self.rest.is_valid(result):
            return False
        events = result.get(EVENTS, [])
        if type(events) is not list:
            return False
        for event in events:
            if not self.shared.is_valid(event):
                return False
            name = event[EVENT]
            branch = self.branches.get(name) if isinstance(name, str) else None
            if branch is None or not branch.is_valid(event):
                return False
        return True


def apply() -> None:
    """Installs the fixes (idempotent)."""
    cache_action_response_validator()
    cache_event_classes()
    cache_empty_domain()


def cache_action_response_validator() -> None:
    """Validates action server responses with one prebuilt validator per action class."""
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    if getattr(RemoteAction._validate_action_result, _APPLIED_MARK, False):
        return
    validators: dict[type, tuple[Any, EventsByType | None]] = {}

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        known = validators.get(type(self))
        if known is None:
            schema = self.action_response_format_spec()
            validator_class = validator_for(schema)
            validator_class.check_schema(schema)
            known = (validator_class(schema), EventsByType.of(schema, CompiledSchema))
            validators.setdefault(type(self), known)
        validator, by_type = known
        if by_type is not None and by_type.valid(result):
            return True
        error = best_match(validator.iter_errors(result))
        if error is not None:
            error.message += (
                ". Failed to validate Action server response from API, "
                "make sure your response from the Action endpoint is valid. "
                "For more information about the format visit "
                f"{DOCS_BASE_URL}/custom-actions"
            )
            raise error
        return True

    setattr(validate_action_result, _APPLIED_MARK, True)
    RemoteAction._validate_action_result = validate_action_result


def cache_event_classes() -> None:
    """Resolves event type names through a table instead of walking the subclasses each time."""
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    if getattr(original, _APPLIED_MARK, False):
        return
    table: dict[str, type] = {}

    def rebuild() -> None:
        from rasa.shared.utils.common import all_subclasses

        fresh: dict[str, type] = {}
        for cls in all_subclasses(Event):
            fresh.setdefault(cls.type_name, cls)
        table.clear()
        table.update(fresh)

    def resolve_by_type(type_name: str, default: type | None = None) -> type | None:
        cls = table.get(type_name)
        if cls is None:
            rebuild()
            cls = table.get(type_name)
        if cls is not None:
            return cls
        return original(type_name, default)

    setattr(resolve_by_type, _APPLIED_MARK, True)
    Event.resolve_by_type = staticmethod(resolve_by_type)


def cache_empty_domain() -> None:
    """``Domain.is_empty`` compares with one empty domain's dictionary, built on first use."""
    from rasa.shared.core.domain import Domain

    if getattr(Domain.is_empty, _APPLIED_MARK, False):
        return
    empty: list[dict[str, Any]] = []

    def is_empty(self: Domain) -> bool:
        if not empty:
            empty.append(Domain.empty().as_dict())
        return bool(self.as_dict() == empty[0])

    setattr(is_empty, _APPLIED_MARK, True)
    Domain.is_empty = is_empty
