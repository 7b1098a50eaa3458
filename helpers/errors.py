"""The project's exceptions, one place: each message is one line that says what is wrong and what to do."""
from __future__ import annotations


class DataError(RuntimeError):
    """Bad or missing dataset; the message is one line saying what to do."""


class ImageError(ValueError):
    """A file we cannot (or will not) turn into an image; the message is one line for the user."""


class ModelError(RuntimeError):
    """A model that cannot or must not be used; the message is one line saying why (and what to do)."""
