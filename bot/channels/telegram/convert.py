"""Between Kefu's channel-neutral messages and Telegram's: keyboards, callback data, commands."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from bot.channels.telegram.texts import COMMANDS, ChannelTexts
from bot.messages import Button

MAX_CALLBACK_BYTES = 64
MAX_TEXT = 4096
# Callback data that stands for a longer payload (looked up, never parsed).
KEY_PREFIX = "~"
# A row holds up to this many characters of button titles (CJK counts double).
_ROW_WIDTH = 28


def callback_data(payload: str) -> str:
    """The callback data of a button: the payload itself, or a short key if it is too long."""
    if len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES and not payload.startswith(KEY_PREFIX):
        return payload
    return payload_key(payload)


def payload_key(payload: str) -> str:
    """A stable 28-character key for a payload longer than Telegram's 64 bytes."""
    digest = hashlib.sha256(payload.encode("utf-8")).digest()[:20]
    return KEY_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _width(title: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in title) + 4


def button_rows(buttons: Sequence[Button]) -> list[list[Button]]:
    """Lay buttons out in rows: short ones (ratings, yes/no) side by side, long ones alone."""
    rows: list[list[Button]] = []
    row: list[Button] = []
    width = 0
    for button in buttons:
        w = _width(button.title)
        if row and (width + w > _ROW_WIDTH or len(row) >= 5):
            rows.append(row)
            row, width = [], 0
        row.append(button)
        width += w
    if row:
        rows.append(row)
    return rows


def inline_keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup:
    """An inline keyboard; every button sends its payload (or its key) as callback data."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.title[:64], callback_data=callback_data(b.payload))
                for b in row
            ]
            for row in button_rows(buttons)
        ]
    )


def contact_keyboard(label: str) -> ReplyKeyboardMarkup:
    """The reply keyboard with the one button that shares the user's own phone number."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(label, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split a long text at paragraph or line ends into Telegram-sized pieces."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit))
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def command_menu(texts: ChannelTexts, language: str) -> list[BotCommand]:
    """The command menu in ``language`` (descriptions from ``utter_command_<name>``)."""
    return [
        BotCommand(name, texts.text(f"utter_command_{name}", language)[:256] or name)
        for name in COMMANDS
    ]


def default_command_languages(default_language: str) -> dict[str, str]:
    """Telegram keys menus by two-letter codes: ``""`` (everyone else), ``en`` and ``zh``."""
    chinese = default_language if default_language.startswith("zh") else "zh-Hans"
    return {"": default_language, "en": "en", "zh": chinese}


def language_from_hint(code: str | None, default: str) -> str:
    """Kefu's language for a Telegram ``language_code`` (zh-hk/zh-tw -> zh-Hant, ...)."""
    if not code:
        return default
    code = code.lower()
    if code.startswith("zh"):
        if any(tag in code for tag in ("hant", "hk", "tw", "mo")):
            return "zh-Hant"
        return "zh-Hans"
    if code.startswith("en"):
        return "en"
    return default


def flat(rows: Iterable[Iterable[InlineKeyboardButton]]) -> list[InlineKeyboardButton]:
    return [button for row in rows for button in row]
