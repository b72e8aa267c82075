"""Who a notice is for, and who that is today: audience specs and their expansion.

An audience is a small mapping (from YAML, CSV or the command line)::

    residents: all            # or filters, all of which must hold:
    blocks: ["7", "B"]        #   block/building (座/棟) as the unit parser reads it
    floors: ["12", "15"]
    roles: [owner]            #   owner | tenant
    tags: [elderly]           #   phones tagged with ``kefu notices tags import``
    units: ["7座15樓C室"]      #   these units only
    shopper_tags: [vip]       # shoppers (contacts, not residents) whose phone has a tag

Expansion turns it into recipients: every linked Telegram chat of a selected resident (one
row per chat, however many units it holds) and, for a resident nobody has linked, a row that
says so, so staff see whom to give a paper notice or call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.notices.models import AudienceTag
from bot.records.models import ContactResident, Resident, ResidentRole
from bot.records.units import read_unit, show_unit
from bot.store.models import Contact, Conversation

CHANNEL = "telegram"
_KEYS = {"residents", "blocks", "floors", "roles", "tags", "units", "shopper_tags"}


class AudienceError(ValueError):
    """The audience cannot be understood; the message says which part."""


def _words(value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str | int):
        items: Iterable[Any] = str(value).replace(";", ",").split(",")
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise AudienceError(f"audience.{key}: expected a list or a comma-separated text")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _norm(value: Any) -> str:
    return str(value).strip().upper()


@dataclass(frozen=True)
class Audience:
    """A parsed audience (see the module docstring)."""

    residents: bool = False
    blocks: tuple[str, ...] = ()
    floors: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    units: tuple[str, ...] = ()  # unit keys
    shopper_tags: tuple[str, ...] = ()
    unit_texts: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, spec: dict[str, Any], language: str = "zh-Hant") -> Audience:
        """Read an audience mapping; :class:`AudienceError` names what is wrong."""
        if not isinstance(spec, dict):
            raise AudienceError("audience: expected a mapping such as {residents: all}")
        unknown = set(spec) - _KEYS
        if unknown:
            raise AudienceError(
                f"audience: unknown key {sorted(unknown)[0]!r} (use {', '.join(sorted(_KEYS))})"
            )
        roles = tuple(r.lower() for r in _words(spec.get("roles"), "roles"))
        bad = [r for r in roles if r not in {ResidentRole.OWNER, ResidentRole.TENANT}]
        if bad:
            raise AudienceError(f"audience.roles: {bad[0]!r} is not owner or tenant")
        unit_texts = _words(spec.get("units"), "units")
        keys = []
        for text in unit_texts:
            unit = read_unit(text, language)
            if unit is None:
                raise AudienceError(f"audience.units: cannot read the unit {text!r}")
            keys.append(unit.key)
        residents_value = spec.get("residents")
        filters = (
            _words(spec.get("blocks"), "blocks"),
            _words(spec.get("floors"), "floors"),
            roles,
            _words(spec.get("tags"), "tags"),
            tuple(keys),
        )
        residents = any(filters) or residents_value not in (None, False, "none", "")
        if isinstance(residents_value, str) and residents_value not in ("all", "none", ""):
            raise AudienceError("audience.residents: use 'all' (or filters beside it)")
        audience = cls(
            residents=residents,
            blocks=tuple(_norm(b) for b in filters[0]),
            floors=tuple(_norm(f) for f in filters[1]),
            roles=roles,
            tags=filters[3],
            units=tuple(keys),
            shopper_tags=_words(spec.get("shopper_tags"), "shopper_tags"),
            unit_texts=unit_texts,
        )
        if not audience.residents and not audience.shopper_tags:
            raise AudienceError("audience: nobody selected (e.g. residents: all)")
        return audience

    def to_dict(self) -> dict[str, Any]:
        """The stored form (what :meth:`parse` reads back)."""
        out: dict[str, Any] = {}
        if self.residents and not any(
            (self.blocks, self.floors, self.roles, self.tags, self.units)
        ):
            out["residents"] = "all"
        for key in ("blocks", "floors", "roles", "tags", "shopper_tags"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        if self.unit_texts:
            out["units"] = list(self.unit_texts)
        return out

    def selects(self, resident: Resident, tagged: set[str]) -> bool:
        """Whether ``resident`` (with the tags in ``tagged`` on their phone) is selected."""
        if not self.residents:
            return False
        parts = resident.unit_parts or {}
        if self.units and resident.unit_key not in self.units:
            return False
        if self.blocks and _norm(parts.get("block") or "") not in self.blocks:
            return False
        if self.floors and _norm(parts.get("floor") or "") not in self.floors:
            return False
        if self.roles and resident.role not in self.roles:
            return False
        return not self.tags or bool(tagged & set(self.tags))


@dataclass(frozen=True, slots=True)
class Recipient:
    """One row to write: a chat, or a person without one."""

    recipient: str
    label: str
    chat_id: str | None = None
    contact_id: int | None = None
    resident_id: int | None = None
    language: str | None = None


async def phone_tags(session: AsyncSession, tags: Iterable[str]) -> dict[str, set[str]]:
    """phone -> its tags among ``tags``."""
    wanted = list(set(tags))
    out: dict[str, set[str]] = {}
    if not wanted:
        return out
    rows = await session.execute(
        select(AudienceTag.phone, AudienceTag.tag).where(AudienceTag.tag.in_(wanted))
    )
    for phone, tag in rows:
        out.setdefault(phone, set()).add(tag)
    return out


async def _chats(session: AsyncSession, contact_ids: set[int]) -> dict[int, list[tuple[str, str]]]:
    """contact -> its Telegram chats as (chat id, language)."""
    out: dict[int, list[tuple[str, str]]] = {}
    if not contact_ids:
        return out
    rows = await session.execute(
        select(
            Conversation.contact_id, Conversation.chat_id, Conversation.language, Contact.language
        )
        .join(Contact, Contact.id == Conversation.contact_id)
        .where(Conversation.contact_id.in_(contact_ids), Conversation.channel == CHANNEL)
        .order_by(Conversation.id)
    )
    for contact_id, chat_id, language, contact_language in rows:
        out.setdefault(contact_id, []).append((chat_id, language or contact_language or ""))
    return out


async def expand(session: AsyncSession, audience: Audience, language: str) -> list[Recipient]:
    """Everyone the audience selects now, one :class:`Recipient` per chat (or per person
    without a chat), in a stable order."""
    picked: list[Resident] = []
    if audience.residents:
        stmt = select(Resident).order_by(Resident.unit_key, Resident.id)
        if audience.units:
            stmt = stmt.where(Resident.unit_key.in_(audience.units))
        tags = await phone_tags(session, audience.tags)
        picked = [
            r
            for r in (await session.execute(stmt)).scalars()
            if audience.selects(r, tags.get(r.phone, set()))
        ]
    links: dict[int, list[int]] = {}
    if picked:
        ids = [r.id for r in picked]
        for chunk in range(0, len(ids), 5000):
            rows = await session.execute(
                select(ContactResident.resident_id, ContactResident.contact_id).where(
                    ContactResident.resident_id.in_(ids[chunk : chunk + 5000]),
                    ContactResident.verified.is_(True),
                )
            )
            for resident_id, contact_id in rows:
                links.setdefault(resident_id, []).append(contact_id)
    shoppers: list[Contact] = []
    if audience.shopper_tags:
        phones = set(await phone_tags(session, audience.shopper_tags))
        if phones:
            shoppers = list(
                (
                    await session.execute(
                        select(Contact).where(Contact.phone.in_(phones)).order_by(Contact.id)
                    )
                ).scalars()
            )
    contact_ids = {c for cs in links.values() for c in cs} | {c.id for c in shoppers}
    chats = await _chats(session, contact_ids)
    out: dict[str, Recipient] = {}
    for resident in picked:
        label = f"{show_unit(resident.unit_parts, resident.unit_display, language)} {resident.name}"
        reached = False
        for contact_id in links.get(resident.id, []):
            for chat_id, chat_language in chats.get(contact_id, []):
                reached = True
                key = f"{CHANNEL}:{chat_id}"
                out.setdefault(
                    key,
                    Recipient(key, label, chat_id, contact_id, resident.id, chat_language or None),
                )
        if not reached:
            key = f"resident:{resident.id}"
            out.setdefault(key, Recipient(key, label, resident_id=resident.id))
    for contact in shoppers:
        for chat_id, chat_language in chats.get(contact.id, []):
            key = f"{CHANNEL}:{chat_id}"
            label = contact.display_name or f"contact {contact.id}"
            out.setdefault(key, Recipient(key, label, chat_id, contact.id, None, chat_language))
    return list(out.values())
