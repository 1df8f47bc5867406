"""The unified social credit code (统一社会信用代码, GB 32100-2015): normalise, check, complete.

18 characters from 0-9 and A-Z without I, O, Z, S, V; the 18th is a check character over the first 17
(reference.md). Codes may begin with a letter, so no position is assumed to be a digit.
"""

from __future__ import annotations

from gridlake.reference import to_half_width

__all__ = ["ALPHABET", "check_character", "complete", "is_valid", "normalise"]

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {char: value for value, char in enumerate(ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def normalise(raw: str | None) -> str | None:
    """Strip spaces (any width), full-width to half-width, upper case; None or blank gives None."""
    if raw is None:
        return None
    text = "".join(to_half_width(raw).split()).upper()
    return text or None


def check_character(first17: str) -> str:
    """The check character of the first 17 characters of a code."""
    if len(first17) != 17:
        raise ValueError(f"a code body has 17 characters, got {len(first17)}: {first17!r}")
    try:
        total = sum(_VALUE[char] * weight for char, weight in zip(first17, _WEIGHTS))
    except KeyError as err:
        raise ValueError(f"character {err.args[0]!r} is not allowed in a credit code: {first17!r}") from None
    return ALPHABET[(31 - total % 31) % 31]


def complete(first17: str) -> str:
    """The full 18-character code for a 17-character body."""
    return first17 + check_character(first17)


def is_valid(code: str | None) -> bool:
    """True when an already normalised code has 18 allowed characters and the right check character."""
    if code is None or len(code) != 18 or any(char not in _VALUE for char in code):
        return False
    return check_character(code[:17]) == code[17]
