"""The ``posbot`` command line."""
