"""A summary's correction of the kind of request: 「唔係投訴呀 我係要整走廊啲燈」 at a complaint's
summary means "this is a repair", not a second request and not a wish to edit the complaint.

What a resident expects: one request, of the kind they said, with nothing they already told Kefu
asked again. So the form switches to the kind named, carrying the details (their newest words,
else the old ones) and the phone; the flat is the one Kefu knows or the place named. Kefu says
it has switched, asks only what the new kind still needs, and shows its summary to confirm. A
message that names another kind without saying "not this one" is left to the usual rules.
"""

from __future__ import annotations

import re
from typing import Any

# The other kind a form can become, and where each keeps the user's description.
_KINDS = {"repair_form": "repair", "complaint_form": "complaint"}
_DETAILS = {"repair_form": "description", "complaint_form": "complaint_details"}
# "Not a complaint" / "not a repair" (matching only, never shown).
_NOT = {
    "complaint_form": re.compile(
        r"(?:唔係|不是|並非|并非|冇|沒有|没有|唔)(?:要|想)?(?:投訴|投诉)"
        r"|\bnot\s+(?:a\s+|to\s+)?complain(?:t|ing)?\b|\bisn'?t\s+a\s+complaint\b",
        re.I,
    ),
    "repair_form": re.compile(
        r"(?:唔係|不是|並非|并非|唔|不)(?:要|想)?(?:報修|报修|維修|维修|整嘢)"
        r"|\bnot\s+(?:a\s+)?repair\b|\bisn'?t\s+a\s+repair\b|\bnothing\s+(?:is\s+)?broken\b",
        re.I,
    ),
}
# Words naming the other kind, when the classifier did not name it.
_NAMES = {
    "repair_form": re.compile(r"整|修|壞|坏|repair|fix|broken", re.I),
    "complaint_form": re.compile(r"投訴|投诉|complain", re.I),
}
_CLAUSES = re.compile(r"[,，。.!！;；]")
_LEAD = re.compile(r"^[\s,，。.!！~～呀啊啦喎囉咋嘛]+")


def corrected_kind(form: str, requested: str | None, text: str, intent: str) -> str | None:
    """The form the user means instead of ``form``, when they say so at its summary."""
    if not (requested or "").endswith("_confirmed") or form not in _NOT:
        return None
    if not _NOT[form].search(text):
        return None
    for other, kind in _KINDS.items():
        if other != form and (intent == kind or _NAMES[other].search(text)):
            return other
    return None


def carried(form: str, target: str, slots: dict[str, Any], text: str) -> dict[str, Any]:
    """Slots of ``target`` filled from ``form``'s: the details (the message without its "not a
    complaint", if it still says something, else the old details) and the phone."""
    from bot.actions.forms import MAX_DETAIL_CHARS, meaningful

    clauses = [c for c in _CLAUSES.split(text) if c.strip()]
    if len(clauses) > 1:  # "this is not a repair, I want to complain that ..."
        rest = "，".join(c.strip() for c in clauses if not _NOT[form].search(c))
    else:  # 「唔係投訴呀 我係要整走廊啲燈」
        rest = _LEAD.sub("", _NOT[form].sub("", text, count=1)).strip()
    old = slots.get(_DETAILS[form])
    details = rest if meaningful(rest) else old
    out: dict[str, Any] = {}
    if isinstance(details, str) and details:
        out[_DETAILS[target]] = details[:MAX_DETAIL_CHARS]
    if slots.get("phone"):
        out["phone"] = slots["phone"]
    return out
