from __future__ import annotations

import pytest

from gridlake import uscc


def test_the_reference_example_gets_its_check_character() -> None:
    # reference.md: 91350100M000100Y4 -> check character 3.
    assert uscc.check_character("91350100M000100Y4") == "3"
    assert uscc.is_valid("91350100M000100Y43")


@pytest.mark.parametrize("raw", [" 91350100M000100Y43", "91350100m000100y43", "９１３５０１００Ｍ０００１００Ｙ４３",
                                 "9135 0100 M000 100Y 43"])
def test_dirty_forms_normalise_to_the_valid_code(raw: str) -> None:
    assert uscc.normalise(raw) == "91350100M000100Y43"
    assert uscc.is_valid(uscc.normalise(raw))


@pytest.mark.parametrize("code", ["91350100M000100Y44", "91350100M000100Y4", "110101000012345",
                                  "91350100M000100YI3", None, ""])
def test_wrong_check_character_wrong_length_and_forbidden_characters_are_invalid(code: str | None) -> None:
    assert not uscc.is_valid(uscc.normalise(code))


def test_codes_may_begin_with_a_letter() -> None:
    code = uscc.complete("Y1110101MA0000001")
    assert code[0] == "Y" and uscc.is_valid(code)


def test_a_forbidden_character_in_a_body_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="'O'"):
        uscc.check_character("9111010100000000O")
