"""Amounts of money: 500 元, HK$1,200, 3千, $15.5 (value and, when written, currency)."""

from __future__ import annotations

import re
from typing import Any

from bot.nlu.entities.common import CN_NUM, Candidate, alternation, cn_number

_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CURRENCY_PREFIX = {
    "hk$": "HKD",
    "hkd": "HKD",
    "港币": "HKD",
    "us$": "USD",
    "usd": "USD",
    "nt$": "TWD",
    "ntd": "TWD",
    "twd": "TWD",
    "rmb": "CNY",
    "cny": "CNY",
    "¥": "CNY",
    "人民币": "CNY",
    "$": None,
}
_CURRENCY_SUFFIX = {
    "港币": "HKD",
    "港元": "HKD",
    "港纸": "HKD",
    "蚊鸡": "HKD",
    "蚊": "HKD",
    "hkd": "HKD",
    "人民币": "CNY",
    "块钱": "CNY",
    "块": "CNY",
    "rmb": "CNY",
    "cny": "CNY",
    "美元": "USD",
    "美金": "USD",
    "usd": "USD",
    "新台币": "TWD",
    "台币": "TWD",
    "twd": "TWD",
    "ntd": "TWD",
    "元": None,
    "圆": None,
    "dollars": None,
    "dollar": None,
}


_AMOUNT_PREFIX = re.compile(
    rf"(?<![a-z])({alternation(_CURRENCY_PREFIX)})\s?({_NUMBER})(\s?[kK千万])?(?![\d])"
)
_AMOUNT_SUFFIX = re.compile(
    # not inside a longer number; a plain comma before is fine (，880元 becomes ,880元 by NFKC)
    rf"(?<![\d.])(?<!\d,)({_NUMBER}(?:\s?[k千万])?|{CN_NUM})\s?"
    rf"({alternation(_CURRENCY_SUFFIX)})"
    r"(?![a-z])"
)


def _amount_value(number: str, multiplier: str | None) -> float | None:
    value = cn_number(number)
    if value is None:
        return None
    mult = (multiplier or "").strip()
    if mult == "k" or mult == "千":
        value *= 1000
    elif mult == "万":
        value *= 10000
    return round(value, 2)


def find_amounts(norm: str) -> list[Candidate]:
    out: list[Candidate] = []
    for match in _AMOUNT_PREFIX.finditer(norm):
        value = _amount_value(match.group(2), match.group(3))
        if value is None:
            continue
        currency = _CURRENCY_PREFIX[match.group(1)]
        out.append(Candidate(match.start(), match.end(), 2, _amount_entity(value, currency)))
    for match in _AMOUNT_SUFFIX.finditer(norm):
        number = match.group(1)
        mult = None
        tail = number[-1:]
        if tail in "k千万" and re.search(r"\d", number):
            number, mult = number[:-1].strip(), tail
        value = _amount_value(number, mult)
        if value is None:
            continue
        currency = _CURRENCY_SUFFIX[match.group(2)]
        out.append(Candidate(match.start(), match.end(), 2, _amount_entity(value, currency)))
    return out


def _amount_entity(value: float, currency: str | None) -> dict[str, Any]:
    return {
        "entity": "amount",
        "value": {"value": float(value), "currency": currency},
        "extractor": "KefuAmountExtractor",
    }
