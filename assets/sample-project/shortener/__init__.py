"""tinyurl-lite: a tiny in-memory URL shortener."""

from .core import Shortener, UnknownCode

__all__ = ["Shortener", "UnknownCode"]
