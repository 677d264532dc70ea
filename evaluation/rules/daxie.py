"""Amounts in words (人民币大写金额): 壹贰叁肆伍陆柒捌玖, 拾佰仟, 万亿, 元角分, 零 and 整.

``to_words(fen)`` writes the usual form (中国人民银行《支付结算办法》附件《正确填写票据和结算凭证的基本
规定》): 整 after 元 when there are no 角 and 分; one 零 for a run of zeros inside the number and when
the 元 is followed by 分 without 角 (壹万陆仟肆佰零玖元零贰分); 壹拾 rather than 拾.

``parse_words(text)`` reads every form that rule allows and what bid forms commonly contain: 圆 for
元, 正 for 整, 整 after 角, the optional 零 where 万 or 元 is zero (壹拾万零柒仟元 / 壹拾万柒仟元), a
leading 拾 (拾万元), a 人民币 prefix, spaces. Anything else — two digits in a row, a unit out of
order, 分 before 角, an empty amount, an unknown character — raises ``WordsError`` rather than a
guess: the committee then reads the form itself.
"""

from __future__ import annotations

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_DIGIT = {c: i for i, c in enumerate(DIGITS)}
_SMALL = {"拾": 10, "佰": 100, "仟": 1000}
_ALIASES = str.maketrans({"圆": "元", "正": "整", "〇": "零", "两": "贰"})
MAX_FEN = 10 ** 14  # below 1万亿元


class WordsError(ValueError):
    """The text is not an amount in words."""


def _group(n: int) -> str:
    """0 < n < 10000 without leading 零."""
    out, zero = [], False
    for unit, digit in zip((1000, 100, 10, 1), (n // 1000, n // 100 % 10, n // 10 % 10, n % 10)):
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(DIGITS[digit] + {1000: "仟", 100: "佰", 10: "拾", 1: ""}[unit])
    return "".join(out)


def to_words(fen: int) -> str:
    if isinstance(fen, bool) or not isinstance(fen, int) or not 0 <= fen < MAX_FEN:
        raise ValueError("an amount in fen from 0 to below 1万亿元")
    yuan, jiao, cents = fen // 100, fen // 10 % 10, fen % 10
    parts: list[str] = []
    pending_zero = False
    for unit_name, group in (("亿", yuan // 10 ** 8), ("万", yuan // 10 ** 4 % 10 ** 4), ("", yuan % 10 ** 4)):
        if group == 0:
            pending_zero = bool(parts)
            continue
        if parts and (pending_zero or group < 1000):
            parts.append("零")
        parts.append(_group(group) + unit_name)
        pending_zero = False
    text = "".join(parts) + ("元" if yuan else "")
    if jiao == 0 and cents == 0:
        return (text or "零元") + "整"
    if jiao:
        text += DIGITS[jiao] + "角"
    elif yuan:
        text += "零"
    if cents:
        text += DIGITS[cents] + "分"
    return text


def _integer(text: str) -> int:
    """The 元 part: sections separated by 亿 and 万."""
    total, below_yi, section, number = 0, 0, 0, None
    last_small = 10 ** 5  # units inside a section must fall: 仟 > 佰 > 拾
    previous = ""
    for ch in text:
        if ch in _DIGIT and ch != "零":
            if number is not None:
                raise WordsError("two digits in a row")
            number = _DIGIT[ch]
        elif ch == "零":
            if number is not None or previous == "零":
                raise WordsError("a 零 after a digit or another 零")
        elif ch in _SMALL:
            unit = _SMALL[ch]
            if number is None:
                if ch != "拾" or previous not in ("", "万", "亿", "零"):
                    raise WordsError(f"{ch} without a digit")
                number = 1  # 拾万 = 壹拾万
            if unit >= last_small:
                raise WordsError("units out of order")
            section += number * unit
            number, last_small = None, unit
        elif ch in ("万", "亿"):
            value = section + (number or 0)
            if value == 0 and ch == "万":
                raise WordsError("万 without a number")
            if ch == "万":
                if below_yi:
                    raise WordsError("two 万 in one 亿 section")
                below_yi = value * 10 ** 4
            else:
                if total:
                    raise WordsError("two 亿")
                total = (below_yi + value) * 10 ** 8
                if total == 0:
                    raise WordsError("亿 without a number")
                below_yi = 0
            section, number, last_small = 0, None, 10 ** 5
        else:
            raise WordsError(f"unexpected character {ch!r}")
        previous = ch
    if previous == "零":
        raise WordsError("a trailing 零")
    return total + below_yi + section + (number or 0)


def parse_words(text: str) -> int:
    """The amount in fen that ``text`` states."""
    if not isinstance(text, str) or len(text) > 80:
        raise WordsError("not a text of at most 80 characters")
    s = "".join(text.split()).translate(_ALIASES)
    for prefix in ("人民币", "RMB", "￥", "¥"):
        if s.startswith(prefix):
            s = s[len(prefix):]
    whole = s.endswith("整")
    if whole:
        s = s[:-1]
    if not s:
        raise WordsError("no amount")
    yuan_text, sep, rest = s.partition("元")
    if not sep:
        yuan_text, rest = "", s
    elif not yuan_text:
        raise WordsError("元 without a number")
    yuan = _integer(yuan_text) if yuan_text and yuan_text != "零" else 0
    jiao = cents = 0
    if rest.startswith("零"):
        rest = rest[1:]
        if not rest or not sep:
            raise WordsError("a 零 with nothing after it")
    if len(rest) >= 2 and rest[1] == "角":
        if rest[0] not in _DIGIT or rest[0] == "零":
            raise WordsError("角 without a digit")
        jiao, rest = _DIGIT[rest[0]], rest[2:]
    if len(rest) >= 2 and rest[1] == "分":
        if rest[0] not in _DIGIT or rest[0] == "零":
            raise WordsError("分 without a digit")
        cents, rest = _DIGIT[rest[0]], rest[2:]
        if whole:
            raise WordsError("整 after 分")
    if rest:
        raise WordsError("unexpected text after the 元")
    if not sep and not (jiao or cents):
        raise WordsError("no 元, 角 or 分")
    return yuan * 100 + jiao * 10 + cents
