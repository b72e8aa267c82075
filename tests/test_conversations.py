"""YAML conversation transcripts (tests/conversations/*.yml), played through the real engine.

Each step is ``user: TEXT`` (or ``press: BUTTON TITLE`` / ``press: N`` / ``press: [TITLE, ...]``
for the first of several titles that is offered, ``restart: true``, ``advance: 2h``,
``staff: KEFU ARGS`` for a command staff run, ``wait: 2h`` for time to pass with the follow-up
worker running) with
expectations on Kefu's replies (``bot`` fragments that must appear, ``bot_not`` fragments that
must not, ``bot_any`` fragments of which one must, ``first`` fragments the first reply must hold,
``buttons`` titles that must be offered).
``expect`` checks the tickets and the conversation at the end.

A top-level ``records: {residents: CSV, ...}`` imports registers before the first step (a chat
that shares a registered phone with ``phone: N`` is then a linked resident).

A step may say ``as: USER`` to speak as another user (a second resident in the same transcript);
later steps without ``as`` go back to the transcript's ``user``. ``expect.conversations`` checks
other users' conversations (``{USER: {key: value}}``), ticket expectations may name their owner
(``contact: USER``), and ``messages.longest_inbound`` is the length of the longest stored inbound
text (a long message is stored whole). A top-level ``xfail: REASON`` marks a transcript that shows
a known bug: it must fail (strict), so fixing the bug makes the run say so; ``xfail: {postgres:
REASON}`` does that on one backend only. On PostgreSQL every transcript starts on emptied tables.
"""

from __future__ import annotations

import asyncio
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text

from bot.app import App, build_app
from bot.clock import FrozenClock
from bot.config import Settings, parse_duration
from bot.messages import Button, InboundMessage, OutboundMessage
from bot.store.db import Database
from bot.store.models import ChannelIdentity, Conversation, Message, Ticket
from tests.transcript_schema import load_transcript

HERE = Path(__file__).parent / "conversations"
TRANSCRIPTS = sorted(HERE.glob("*.yml"))
TZ = "Asia/Hong_Kong"


def _load(path: Path) -> dict[str, Any]:
    """The transcript, checked against the schema: a misspelt key fails it loudly."""
    return load_transcript(path)


class Player:
    """Plays one transcript against a real app on a real database."""

    def __init__(self, settings: Settings, clock: FrozenClock, interpreter: Any) -> None:
        self.settings = settings
        self.clock = clock
        self.interpreter = interpreter
        self.app: App = self._build()
        self.buttons: list[Button] = []
        self.transcript: list[str] = []

    def _build(self) -> App:
        return build_app(self.settings, clock=self.clock, interpreter=self.interpreter)

    async def restart(self) -> list[OutboundMessage]:
        await self.app.close()
        self.app = self._build()
        return []

    async def say(
        self, user: str, text: str, payload: str | None = None, **extra: Any
    ) -> list[OutboundMessage]:
        replies = await self.app.engine.handle(
            InboundMessage(
                channel="terminal", user_id=user, chat_id=user, text=text, payload=payload, **extra
            )
        )
        for reply in replies:
            if reply.id is not None:
                await self.app.engine.mark_sent(reply.id)
        self.transcript.append(f"> {text}")
        self.transcript.extend(f"< {r.text} {[b.title for b in r.buttons]}" for r in replies)
        offered = [b for r in replies for b in r.buttons]
        if offered:
            self.buttons = offered
        return replies

    async def staff(self, user: str, command: str) -> list[OutboundMessage]:
        """``kefu COMMAND`` as staff run it (the real CLI, its own database connection, this
        transcript's settings and clock), then what the customer is sent because of it."""
        from typer.testing import CliRunner

        from bot.cli import app as kefu
        from bot.clitools import injected

        def run() -> Any:
            with injected(settings=self.settings, clock=self.clock):
                return CliRunner().invoke(kefu, shlex.split(command))

        result = await asyncio.to_thread(run)
        self.transcript.append(f"$ kefu {command}\n{result.output}")
        assert result.exit_code == 0, result.output
        return [OutboundMessage(text=result.output), *await self.delivered(user)]

    async def delivered(self, user: str) -> list[OutboundMessage]:
        """Run the follow-up worker now; what it put in ``user``'s outbox is sent to them."""
        await self.app.followup_worker().run_until_idle(self.clock.now())
        sent = await self.app.engine.unsent("terminal", chat_id=user)
        for message in sent:
            assert message.id is not None
            await self.app.engine.mark_sent(message.id)
        self.transcript.extend(f"< {m.text} {[b.title for b in m.buttons]}" for m in sent)
        offered = [b for m in sent for b in m.buttons]
        if offered:
            self.buttons = offered
        return sent

    def press(self, which: Any) -> tuple[str, str]:
        if isinstance(which, int):
            button = self.buttons[which - 1]
        else:
            # A list names alternatives: the first one offered is pressed.
            wanted = which if isinstance(which, list) else [which]
            matches = [b for w in wanted for b in self.buttons if b.title == w]
            assert matches, f"no button {which!r} in {[b.title for b in self.buttons]}"
            button = matches[0]
        return button.title, button.payload


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
async def test_conversation(
    path: Path, settings: Settings, shared_interpreter: Any, request: pytest.FixtureRequest
) -> None:
    spec = _load(path)
    backend = "postgres" if settings.database.url.startswith("postgresql") else "sqlite"
    reason = spec.get("xfail")
    if isinstance(reason, dict):
        reason = reason.get(backend)
    if reason:
        request.applymarker(pytest.mark.xfail(reason=str(reason), strict=True))
    if backend == "postgres":
        # The PostgreSQL database is shared by the module: every transcript starts empty.
        await _empty_database(settings.database.url)
    start = datetime.fromisoformat(spec.get("now", "2026-11-27T10:00:00+08:00"))
    clock = FrozenClock(start, TZ)
    if spec.get("settings"):
        settings = settings.model_copy(update=spec["settings"])
    player = Player(settings, clock, shared_interpreter)
    user = str(spec.get("user", "u1"))
    try:
        await _import_records(spec.get("records") or {}, player, settings, clock)
        for number, step in enumerate(spec["steps"], 1):
            where = f"{path.name} step {number}: {step}"
            speaker = str(step.get("as", user))
            if step.get("restart"):
                await player.restart()
                resumed = await player.app.engine.resume("terminal", speaker)
                _check(step, resumed, where, player)
                continue
            if "advance" in step:
                clock.advance(parse_duration(step["advance"]))
                continue
            if "staff" in step:
                _check(step, await player.staff(speaker, str(step["staff"])), where, player)
                continue
            if "wait" in step:
                clock.advance(parse_duration(step["wait"]))
                _check(step, await player.delivered(speaker), where, player)
                continue
            extra: dict[str, Any] = {}
            if step.get("phone"):
                extra["contact_phone"] = step["phone"]
            if "press" in step:
                title, payload = player.press(step["press"])
                replies = await player.say(speaker, title, payload, **extra)
            else:
                replies = await player.say(speaker, str(step.get("user", "")), **extra)
            _check(step, replies, where, player)
        await _check_end(spec.get("expect") or {}, player, user, path.name)
    finally:
        await player.app.close()


async def _import_records(
    records: dict[str, str], player: Player, settings: Settings, clock: FrozenClock
) -> None:
    """``records: {residents: CSV, orders: CSV, fees: CSV}``: registers imported before step 1."""
    from bot.records.importing import import_file

    for kind, csv in records.items():
        path = settings.var_dir / f"transcript-{kind}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(csv.lstrip(), encoding="utf-8")
        async with player.app.db.write() as session:
            result = await import_file(session, kind, path, settings, clock.now())
            assert result.ok, result.errors


async def _empty_database(url: str) -> None:
    """Empty every table and restart its ids, as TRUNCATE ... RESTART IDENTITY would.

    DELETE and setval instead of TRUNCATE: TRUNCATE gives every table a new file, which cost
    about a second per transcript on a busy disk; these tables hold a few rows.
    """
    import bot.schema  # noqa: F401  (every table into the metadata)
    from bot.store.models import Base

    database = Database(url)
    try:
        async with database.session() as session:
            names = await session.run_sync(
                lambda sync: inspect(sync.connection()).get_table_names()
            )
            known = [t.name for t in reversed(Base.metadata.sorted_tables)]
            # Tables the models do not know (yet) first; then children before parents.
            order = [n for n in names if n not in known] + [n for n in known if n in names]
            for name in order:
                if name != "alembic_version":
                    await session.execute(text(f'DELETE FROM "{name}"'))
            owned_sequences = await session.execute(
                text(
                    "SELECT s.oid::regclass::text FROM pg_class s"
                    " JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')"
                    " WHERE s.relkind = 'S'"
                )
            )
            for (sequence,) in owned_sequences.all():
                await session.execute(text("SELECT setval(:s, 1, false)"), {"s": sequence})
    finally:
        await database.dispose()


def _check(
    step: dict[str, Any], replies: list[OutboundMessage], where: str, player: Player
) -> None:
    text = "\n".join(r.text for r in replies)
    titles = [b.title for r in replies for b in r.buttons]
    log = "\n".join(player.transcript[-12:])
    for fragment in _as_list(step.get("bot")):
        assert fragment in text, f"{where}: expected {fragment!r} in replies:\n{log}"
    for fragment in _as_list(step.get("bot_not")):
        assert fragment not in text, f"{where}: did not expect {fragment!r} in replies:\n{log}"
    for fragment in _as_list(step.get("first")):
        head = replies[0].text if replies else ""
        assert fragment in head, f"{where}: expected {fragment!r} in the first reply:\n{log}"
    if "bot_any" in step:
        fragments = _as_list(step["bot_any"])
        assert any(f in text for f in fragments), f"{where}: none of {fragments} in:\n{log}"
    for title in _as_list(step.get("buttons")):
        assert title in titles, f"{where}: expected button {title!r}, got {titles}\n{log}"
    if "replies" in step:
        assert len(replies) == step["replies"], f"{where}: {len(replies)} replies\n{log}"


async def _check_end(expect: dict[str, Any], player: Player, user: str, name: str) -> None:
    async with player.app.db.session() as session:
        tickets = (await session.execute(select(Ticket).order_by(Ticket.id))).scalars().all()
        conversation = (
            await session.execute(select(Conversation).where(Conversation.chat_id == user))
        ).scalar_one_or_none()
        messages = (await session.execute(select(Message))).scalars().all()
        identities = await session.execute(
            select(ChannelIdentity.contact_id, ChannelIdentity.external_id)
        )
        owners = {contact_id: external_id for contact_id, external_id in identities}
        others = {
            c.chat_id: c
            for c in (await session.execute(select(Conversation))).scalars().all()
            if c.chat_id in (expect.get("conversations") or {})
        }
    if "tickets" in expect:
        wanted = expect["tickets"]
        assert len(tickets) == len(wanted), f"{name}: tickets {[t.number for t in tickets]}"
        for ticket, fields in zip(tickets, wanted, strict=True):
            for key, value in fields.items():
                if key == "contact":
                    actual = owners.get(ticket.contact_id or 0)
                elif key.startswith("details."):
                    actual = ticket.details.get(key[len("details.") :])
                else:
                    actual = getattr(ticket, key)
                if key == "number" and str(value).endswith("*"):
                    assert str(actual).startswith(str(value)[:-1]), f"{name}: {key}={actual}"
                else:
                    assert actual == value, (
                        f"{name}: ticket {ticket.number} {key}={actual!r}, wanted {value!r}"
                    )
    if "conversation" in expect:
        assert conversation is not None, f"{name}: no conversation for {user}"
        _check_conversation(conversation, expect["conversation"], name)
    for who, fields in (expect.get("conversations") or {}).items():
        assert str(who) in others, f"{name}: no conversation for {who}"
        _check_conversation(others[str(who)], fields, f"{name} ({who})")
    if "messages" in expect:
        inbound = [m for m in messages if m.direction == "in"]
        outbound = [m for m in messages if m.direction == "out"]
        if "inbound" in expect["messages"]:
            assert len(inbound) == expect["messages"]["inbound"]
        if "all_sent" in expect["messages"]:
            assert all(m.sent_at is not None for m in outbound)
        if "longest_inbound" in expect["messages"]:
            longest = max((len(m.text or "") for m in inbound), default=0)
            assert longest == expect["messages"]["longest_inbound"], (
                f"{name}: longest inbound {longest}"
            )


def _check_conversation(conversation: Conversation, fields: dict[str, Any], name: str) -> None:
    for key, value in fields.items():
        if key.startswith("slots."):
            actual = conversation.slots.get(key[len("slots.") :])
        elif key.startswith("state."):
            actual = conversation.state.get(key[len("state.") :])
        else:
            actual = getattr(conversation, key)
        assert actual == value, f"{name}: conversation {key}={actual!r}, wanted {value!r}"


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


# The schema: a mistake in a transcript fails it instead of making a step check nothing.


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "transcript.yml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD_STEP = "  - user: 廚房水龍頭一直漏水\n    bot: 哪個單位\n"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (GOOD_STEP + "  - user: 3棟2單元1502室\n    bto: 上門\n", "step 2"),
        (GOOD_STEP + "  - user: hi\n    press: 1\n", "exactly one of user/press"),
        (GOOD_STEP + "  - advance: 2h\n    bot: hello\n", "would check nothing"),
        (GOOD_STEP + "  - advance: two hours\n", "advance"),
        (GOOD_STEP + "expect:\n  tickets:\n    - ststus: open\n", "no field 'ststus'"),
        (GOOD_STEP + "expect:\n  conversation:\n    ownr: bot\n", "no field 'ownr'"),
        (GOOD_STEP + "expect:\n  messages:\n    inbund: 1\n", "messages.inbund"),
        (GOOD_STEP + "expcet:\n  tickets: []\n", "expcet"),
        (GOOD_STEP + "settings:\n  dialog: {}\n", "no such settings"),
    ],
    ids=[
        "misspelt-bot",
        "two-actions",
        "advance-with-check",
        "bad-duration",
        "ticket-field",
        "conversation-field",
        "messages-key",
        "top-level-key",
        "settings-key",
    ],
)
def test_a_transcript_mistake_fails_loudly(tmp_path: Path, text: str, complaint: str) -> None:
    path = _write(tmp_path, "name: a transcript with a mistake\nsteps:\n" + text)
    with pytest.raises(AssertionError, match="does not follow the transcript schema") as raised:
        _load(path)
    assert complaint in str(raised.value)


def test_every_transcript_follows_the_schema() -> None:
    for path in TRANSCRIPTS:
        assert _load(path)["steps"], path.name
