"""posbot: support assistant for merchants whose POS terminal was suspended."""

__version__ = "0.1.0"
