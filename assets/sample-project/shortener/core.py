"""The shortener: maps URLs to short codes and back, in memory."""

from .codes import decode, encode


class UnknownCode(KeyError):
    """Raised when a code was never issued."""


class Shortener:
    def __init__(self, start: int = 1000):
        self._next_id = start
        self._urls = {}

    def shorten(self, url: str) -> str:
        """Return a short code for `url`."""
        # TODO: reject URLs that are not http:// or https:// (raise ValueError).
        # TODO: return the existing code when the same URL is shortened again.
        code = encode(self._next_id)
        self._urls[self._next_id] = url
        self._next_id += 1
        return code

    def expand(self, code: str) -> str:
        """Return the URL behind `code`."""
        try:
            return self._urls[decode(code)]
        except (KeyError, ValueError):
            raise UnknownCode(code) from None

    def __len__(self) -> int:
        return len(self._urls)
