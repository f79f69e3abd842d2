"""Exceptions raised by fewshot, so callers can catch the library's own failures precisely."""

from __future__ import annotations


class FewShotError(Exception):
    """Base class of every error fewshot raises on purpose."""


class InputError(FewShotError, ValueError):
    """An argument has the wrong type, shape or value; the message names it and the fix."""


class UnknownLabelError(FewShotError, KeyError):
    """A label that is not registered was named (for example in ``remove``)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class NotReadyError(FewShotError, RuntimeError):
    """The classifier cannot answer yet (for example: no class is registered)."""


class StoreFormatError(FewShotError, ValueError):
    """A saved directory or file is missing, corrupt, foreign or from a newer format version."""


class StoreWriteError(FewShotError, OSError):
    """A save could not be written (a full disk, a file-size limit, no permission); the previous
    save of the store is intact."""


class StoreUnavailableError(FewShotError, RuntimeError):
    """A class store outside the process (a database) cannot be reached or refused the login;
    the call changed nothing, and the message names the address and the fix."""
