import pytest
from django.core.exceptions import ValidationError

from accounts.credit_code import InvalidCreditCode, check_character, normalise_credit_code
from accounts.models import Organisation

# Published codes: the standard's own example, and a well-known company's.
REAL_CODES = ["91350100M000100Y43", "914403001922038216"]


@pytest.mark.parametrize("code", REAL_CODES)
def test_it_accepts_real_codes(code):
    assert normalise_credit_code(code) == code


def test_it_computes_the_check_character_by_the_standard():
    # 91350100M000100Y4 → values 9,1,3,5,0,1,0,0,M=21,0,0,0,1,0,0,Y=30,4; weights 3^i mod 31
    values = [9, 1, 3, 5, 0, 1, 0, 0, 21, 0, 0, 0, 1, 0, 0, 30, 4]
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    total = sum(v * w for v, w in zip(values, weights))
    assert total == 1640  # 9 + 3 + 27 + 135 + 26 + 420 + 8 + 900 + 112 = 1640
    assert total % 31 == 28  # 31 · 52 = 1612
    assert 31 - 28 == 3
    assert check_character("91350100M000100Y4") == "3"


def test_it_normalises_case_and_spaces():
    assert normalise_credit_code(" 91350100m000100y43 ") == "91350100M000100Y43"


@pytest.mark.parametrize("code, reason", [
    ("91350100M000100Y4", "length"),
    ("91350100M000100Y433", "length"),
    ("", "length"),
    ("91350100I000100Y43", "alphabet"),  # I is not used
    ("91350100O000100Y43", "alphabet"),
    ("91350100M000100Y44", "check"),
    ("91350100M000100Y53", "check"),  # a changed digit breaks the check
])
def test_it_refuses_bad_codes_with_a_reason(code, reason):
    with pytest.raises(InvalidCreditCode) as info:
        normalise_credit_code(code)
    assert info.value.reason == reason
    assert "统一社会信用代码" in str(info.value)


def test_every_single_character_change_is_caught():
    code = REAL_CODES[1]
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for i in range(17):
        for ch in alphabet:
            if ch == code[i]:
                continue
            changed = code[:i] + ch + code[i + 1:]
            with pytest.raises(InvalidCreditCode):
                normalise_credit_code(changed)


def test_check_character_of_a_generated_code_validates():
    base = "91320100MA1AG0001"
    assert normalise_credit_code(base + check_character(base))


@pytest.mark.django_db
def test_an_organisation_with_a_bad_code_is_refused_with_a_clear_message():
    org = Organisation(name="坏代码公司", kind="bidder", credit_code="91350100M000100Y44")
    with pytest.raises(ValidationError) as info:
        org.full_clean()
    assert "校验位" in str(info.value.message_dict["credit_code"])


@pytest.mark.django_db
def test_a_bidder_organisation_needs_its_code():
    with pytest.raises(ValidationError):
        Organisation(name="无代码公司", kind="bidder").full_clean()
