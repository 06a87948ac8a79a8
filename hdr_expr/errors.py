"""The project's exceptions. Library code raises these with a message a person can act on; only the CLI turns
them into one line on stderr and an exit code."""

from __future__ import annotations


class HdrExprError(Exception):
    """Base class of every error hdr-expr raises on purpose."""

    exit_code = 1


class InputError(HdrExprError):
    """An input file or image that cannot be read (missing, empty, corrupt, too large, unsupported)."""

    exit_code = 1


class DataError(HdrExprError):
    """A training or evaluation data set that is missing, corrupt or inconsistent."""

    exit_code = 2


class ModelError(HdrExprError):
    """A model directory that is missing, incomplete, or whose files do not match its card."""

    exit_code = 3
