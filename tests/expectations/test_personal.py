"""The personal-data rules: what is a phone number, an id number and a name, and how samples are masked."""

from __future__ import annotations

import re

import pytest

from expectations.personal import ID_NUMBER_PATTERN, PHONE_PATTERN, SURNAMES, is_person_name, mask
from simulators import fake


@pytest.mark.parametrize("value", ["13812345678", "电话 19912345678。", "a15000000000b"])
def test_mobile_numbers(value: str) -> None:
    assert re.search(PHONE_PATTERN, value)


@pytest.mark.parametrize("value", ["2026111590000001", "12345678901", "0138123456789", "D01"])
def test_not_mobile_numbers(value: str) -> None:
    assert not re.search(PHONE_PATTERN, value)


@pytest.mark.parametrize("value", ["110101199003071234", "身份证 11010119900307123X 号"])
def test_id_numbers(value: str) -> None:
    assert re.search(ID_NUMBER_PATTERN, value)


@pytest.mark.parametrize("value", ["91110101MA01ABCD2X", "110101199013071234", "1101011990030712345"])
def test_not_id_numbers(value: str) -> None:
    # an enterprise's credit code, a month 13, a longer run of digits
    assert not re.search(ID_NUMBER_PATTERN, value)


@pytest.mark.parametrize("value", ["张伟", "王秀英", " 李娜 ", "欧阳娜"])
def test_names(value: str) -> None:
    assert is_person_name(value)


@pytest.mark.parametrize("value", ["油烟", "停车", "龙潭", "王府井", "东华门", "扬尘", "市政设施", "道路扬尘", "其他",
                                   "张家口市某某有限公司", "D01", ""])
def test_ordinary_words_are_not_names(value: str) -> None:
    assert not is_person_name(value)


def test_every_surname_the_simulated_platforms_use_is_known() -> None:
    assert set(fake._SURNAMES.tolist()) <= set(SURNAMES)


def test_mask() -> None:
    assert mask("联系人13812345678") == "联系人138****5678"
    assert mask("110101199003071234") == "110101***********4"
    assert mask("张伟") == "张*"
    assert mask(["王秀英", "油烟", 3]) == ["王**", "油烟", 3]
    assert mask({"value": "13812345678", "n": None}) == {"value": "138****5678", "n": None}
