"""``python -m bot.cli.rasa_server run …``: the ``rasa`` command with our speed fixes applied."""

from __future__ import annotations

import sys

from bot.speedups import apply


def main() -> None:
    """Applies :mod:`bot.speedups`, then runs Rasa's own command line with our arguments."""
    # TensorFlow's TFLite helpers import jax when it is installed (0.5 s of the cold start);
    # Rasa never uses it and TensorFlow does without it.
    sys.modules.setdefault("jax", None)
    apply()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
