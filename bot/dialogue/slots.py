"""Slot mappings with Rasa 3 semantics: which slot values a user message provides."""

from __future__ import annotations

from typing import Any

from bot.dialogue.domain import Domain


def _intent_ok(mapping: dict[str, Any], intent: str) -> bool:
    wanted = mapping.get("intent")
    if wanted is not None:
        wanted = [wanted] if isinstance(wanted, str) else wanted
        if intent not in wanted:
            return False
    unwanted = mapping.get("not_intent")
    if unwanted is not None:
        unwanted = [unwanted] if isinstance(unwanted, str) else unwanted
        if intent in unwanted:
            return False
    return True


def _conditions_ok(
    mapping: dict[str, Any], active_form: str | None, requested_slot: str | None
) -> bool:
    conditions = mapping.get("conditions")
    if not conditions:
        return True
    for cond in conditions:
        if cond.get("active_loop", active_form) != active_form:
            continue
        if "requested_slot" in cond and cond["requested_slot"] != requested_slot:
            continue
        return True
    return False


def extract_slots(
    domain: Domain,
    *,
    text: str,
    intent: str,
    entities: list[dict[str, Any]],
    active_form: str | None,
    requested_slot: str | None,
    entities_only: bool = False,
) -> dict[str, Any]:
    """Slot candidates from one user message.

    ``from_entity`` fills whenever the entity is present (that is what makes corrections such
    as 「不是，是1503室」 work anywhere in a form); ``from_text`` and ``from_intent`` fill only
    when their conditions hold, and ``from_text`` without conditions only for the slot being
    asked. ``entities_only`` keeps just the ``from_entity`` mappings.
    """
    found: dict[str, Any] = {}
    for slot, spec in domain.slots.items():
        for mapping in spec.get("mappings") or []:
            if not _intent_ok(mapping, intent):
                continue
            if not _conditions_ok(mapping, active_form, requested_slot):
                continue
            kind = mapping.get("type")
            if entities_only and kind != "from_entity":
                continue
            if kind == "from_entity":
                for entity in entities:
                    if entity.get("entity") != mapping.get("entity"):
                        continue
                    if mapping.get("role") and entity.get("role") != mapping["role"]:
                        continue
                    found[slot] = entity.get("value")
                    break
            elif kind == "from_text":
                asked = bool(mapping.get("conditions")) or (active_form and requested_slot == slot)
                if asked and text.strip():
                    found[slot] = text.strip()
            elif kind == "from_intent":
                asked = bool(mapping.get("conditions")) or requested_slot == slot
                if mapping.get("intent") is not None and asked:
                    found[slot] = mapping.get("value")
            if slot in found:
                break
    return found
