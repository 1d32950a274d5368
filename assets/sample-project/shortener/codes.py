"""Base-62 codes for numeric ids."""

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def encode(n: int) -> str:
    """Encode a non-negative integer as a base-62 string."""
    if n < 0:
        raise ValueError("n must be non-negative")
    if n == 0:
        return ALPHABET[0]
    digits = []
    while n:
        n, rem = divmod(n, len(ALPHABET))
        digits.append(ALPHABET[rem])
    return "".join(reversed(digits))


def decode(code: str) -> int:
    """Decode a base-62 string back to its integer."""
    n = 0
    for ch in code:
        index = ALPHABET.find(ch)
        if index < 0:
            raise ValueError(f"invalid character {ch!r} in code")
        n = n * len(ALPHABET) + index
    return n
