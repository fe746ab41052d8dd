"""Exception types for expected failures, which the CLI prints as one line (exit code 2).

Anything else that escapes is a bug and keeps its traceback.
"""


class RouteletError(Exception):
    """Base class of every expected, user-facing failure."""


class DataError(RouteletError, ValueError):
    """A data file is missing or holds a row that breaks the schema."""


class ModelError(RouteletError):
    """A model directory is missing, incomplete, corrupt or stale."""


class ConfigError(RouteletError, ValueError):
    """A configuration file or option is invalid."""
