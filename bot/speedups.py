"""Speed fixes for the Rasa server process; they change no behaviour, only the cost of a turn.

Rasa 3.6 validates every action server response with ``jsonschema.validate``, which first
checks the *schema* against the JSON Schema meta-schema and builds a new validator: about
40 ms of CPU per custom action call on this machine, half of the server's CPU under load. The
schema never changes, so the validator is built and checked once; responses are validated as
before and an invalid one raises the same ``ValidationError`` with the same message.

Reading a tracker (the in-memory tracker store keeps it serialised) and an action's events looks
every event's class up by walking all subclasses of ``Event`` again (7 % of the CPU of a turn);
the classes are looked up in a table instead, rebuilt when a name is not found.

Loading DIET, Rasa trains the empty model on one example to create its weights before reading
the trained ones, and traces that training step into a TensorFlow graph first (3 s of a 12 s
cold start). The step runs eagerly instead: the weights created are the same, they are then
overwritten by the trained ones, and prediction still runs as a traced graph. Rasa's method is
copied for the pinned version only; another version keeps its own.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

_APPLIED_MARK = "_posbot_cached_validator"
RASA_VERSION_OF_MODEL_LOAD = "3.6.21"


def apply() -> None:
    """Installs the fixes (idempotent)."""
    cache_action_response_validator()
    cache_event_classes()
    build_weights_eagerly()


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


def build_weights_eagerly() -> None:
    """Loads Rasa's TensorFlow models without tracing the one-example training step."""
    import rasa
    from rasa.utils.tensorflow.models import RasaModel

    if getattr(RasaModel.load, _APPLIED_MARK, False):
        return
    if rasa.__version__ != RASA_VERSION_OF_MODEL_LOAD:
        logger.info("Rasa %s: model loading left as it is", rasa.__version__)
        return

    def load(
        cls: type[RasaModel],
        model_file_name: str,
        model_data_example: Any,
        predict_data_example: Any = None,
        finetune_mode: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> RasaModel:
        import tensorflow as tf
        from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY
        from rasa.utils.tensorflow.data_generator import RasaBatchDataGenerator

        model = cls(*args, **kwargs)
        learning_rate = kwargs.get("config", {}).get(LEARNING_RATE, 0.001)
        run_eagerly = kwargs.get("config", {}).get(RUN_EAGERLY)
        # The only change to Rasa's RasaModel.load: build the weights eagerly, then restore
        # the configured mode before the trained weights are read and prediction is traced.
        model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate), run_eagerly=True)
        model.fit(RasaBatchDataGenerator(model_data_example, batch_size=1), verbose=False)
        model.run_eagerly = run_eagerly
        model.load_weights(model_file_name)
        if not finetune_mode and predict_data_example:
            model.run_inference(predict_data_example)
        return model

    setattr(load, _APPLIED_MARK, True)
    RasaModel.load = classmethod(load)
