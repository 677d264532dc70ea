"""统一社会信用代码 (unified social credit identifier), GB 32100-2015.

18 characters from the 31-character set ``0-9`` and ``A-Y`` without I, O, Z, S, V. The last is a
check character: with the positions' weights ``3**i mod 31`` (1, 3, 9, 27, 19, 26, ...), the check
value is ``31 - (Σ value × weight mod 31)``, and 31 maps to 0.
"""

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}


class InvalidCreditCode(ValueError):
    """The code is not a valid 统一社会信用代码; ``reason`` is a stable key for the message."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def check_character(first17: str) -> str:
    """The check character for the first 17 characters (upper-case, from the alphabet)."""
    if len(first17) != 17 or any(ch not in _VALUE for ch in first17):
        raise InvalidCreditCode("alphabet", f"not 17 characters of the code's alphabet: {first17!r}")
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def normalise_credit_code(raw: str) -> str:
    """Return the code upper-cased and stripped, or raise InvalidCreditCode saying why."""
    code = (raw or "").strip().upper()
    if len(code) != 18:
        raise InvalidCreditCode("length", f"统一社会信用代码应为18位，当前为{len(code)}位。")
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        raise InvalidCreditCode(
            "alphabet", f"统一社会信用代码含有不允许的字符：{''.join(bad)}（不使用 I、O、Z、S、V）。")
    expected = check_character(code[:17])
    if code[17] != expected:
        raise InvalidCreditCode("check", "统一社会信用代码校验位不正确，请核对后重新输入。")
    return code
