"""Speed fixes for the Rasa server process; they change no behaviour, only the cost of a turn.

Rasa 3.6 validates every action server response with ``jsonschema.validate``, which first
checks the *schema* against the JSON Schema meta-schema and builds a new validator: about
40 ms of CPU per custom action call on this machine, half of the server's CPU under load. The
schema never changes, so the validator is built and checked once; responses are validated as
before and an invalid one raises the same ``ValidationError`` with the same message.

Reading a tracker (the in-memory tracker store keeps it serialised) and an action's events looks
every event's class up by walking all subclasses of ``Event`` again (7 % of the CPU of a turn);
the classes are looked up in a table instead, rebuilt when a name is not found.

Every message asks ``Domain.is_empty()``, which built a new empty domain from a dictionary to
compare with (2 % of a turn); the empty domain's dictionary is built once.
"""

from __future__ import annotations

from typing import Any

_APPLIED_MARK = "_posbot_cached_validator"


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
    validators: dict[type, Any] = {}

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        validator = validators.get(type(self))
        if validator is None:
            schema = self.action_response_format_spec()
            validator_class = validator_for(schema)
            validator_class.check_schema(schema)
            validator = validators.setdefault(type(self), validator_class(schema))
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
