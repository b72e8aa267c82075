"""Kefu on python-telegram-bot: building the PTB ``Application`` and running it.

PTB provides the ``Bot`` (HTTP client, rate limiting hook, lifecycle); Kefu feeds updates itself
(:mod:`.polling`, :mod:`.webhook`) because both of PTB's ways acknowledge an update before it is
processed, and Kefu must not lose one when its database is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot.channels.telegram.channel import EngineLike, RetryLater, TelegramChannel
from bot.channels.telegram.polling import ALLOWED_UPDATES, Poller
from bot.channels.telegram.ratelimit import KefuRateLimiter
from bot.channels.telegram.request import AiohttpRequest
from bot.channels.telegram.texts import ChannelTexts
from bot.channels.telegram.webhook import WebhookServer
from bot.clock import Clock
from bot.config import Settings, TelegramSettings
from bot.followups import FollowupWorker
from bot.followups.worker import QUIET_TICKS
from bot.store.db import Database, log_failure

log = logging.getLogger(__name__)

NO_TOKEN = """\
Kefu needs a Telegram bot token to run on Telegram: set TELEGRAM_BOT_TOKEN (ask @BotFather
for one: /newbot), then run `kefu run` again.

To try Kefu locally without Telegram, chat with it in this terminal:

    kefu chat
"""
NO_SECRET = """\
telegram.mode is webhook but TELEGRAM_WEBHOOK_SECRET is not set. Set it to a random string
(1-256 characters A-Z a-z 0-9 _ -); Telegram sends it with every update and Kefu refuses
requests without it.
"""


def file_url_for(base_url: str) -> str:
    """The file download URL that goes with a Bot API URL (``.../bot`` -> ``.../file/bot``)."""
    base = base_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base + "/file/bot"


def build_application(
    tg: TelegramSettings, token: str
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB Application: Kefu's rate limiter and HTTP transport, no Updater (Kefu fetches
    updates itself)."""
    limits = tg.rate_limit
    builder = (
        ApplicationBuilder()
        .token(token)
        .updater(None)
        .rate_limiter(
            KefuRateLimiter(
                per_second=limits.per_second,
                per_chat_per_second=limits.per_chat_per_second,
                per_chat_burst=limits.per_chat_burst,
                group_per_minute=limits.group_per_minute,
                max_retries=limits.max_retries,
                network_backoff=limits.network_backoff,
            )
        )
        .request(
            AiohttpRequest(max(64, tg.concurrency * 2), pool_timeout=10.0, media_write_timeout=60.0)
        )
        .get_updates_request(AiohttpRequest(1))
    )
    if tg.base_url:
        builder = builder.base_url(tg.base_url).base_file_url(
            tg.base_file_url or file_url_for(tg.base_url)
        )
    return builder.build()


class TelegramBot:
    """Kefu's Telegram bot in one process: ``async with TelegramBot(...)`` runs it."""

    def __init__(
        self,
        settings: Settings,
        engine: EngineLike,
        *,
        token: str,
        db: Database | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        tg = settings.telegram
        self.settings = settings
        self.tg = tg
        self.webhook_secret = webhook_secret
        self.application = build_application(tg, token)
        self.bot = self.application.bot
        self.channel = TelegramChannel(
            self.bot,
            engine,
            texts=ChannelTexts.load(settings.dialogues_dir, settings.default_language),
            media_dir=tg.media_dir or settings.var_dir / "media",
            max_file_size=tg.max_file_size,
            default_language=settings.default_language,
            db=db,
            concurrency=tg.concurrency,
            command_languages=dict(tg.command_languages) if tg.command_languages else None,
            shared_locks=tg.mode == "webhook",
        )
        self.poller: Poller | None = None
        self.webhook: WebhookServer | None = None
        self._poll_task: asyncio.Task[None] | None = None
        self._workers: list[FollowupWorker] = []
        self._sweep: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect (getMe), set the command menu, send what the outbox holds, then listen."""
        await self.application.initialize()
        await self.application.start()
        await self.channel.set_commands()
        try:
            flushed = await self.channel.flush_outbox()
            if flushed:
                log.info("sent %d messages left in the outbox", flushed)
        except RetryLater as exc:
            log.warning("outbox not flushed: %s", exc)
        if self.tg.mode == "webhook":
            hook = self.tg.webhook
            self.webhook = WebhookServer(
                self.channel,
                self.bot,
                listen=hook.listen,
                port=hook.port,
                path=hook.path,
                secret=self.webhook_secret,
            )
            self.webhook.start()
            if hook.public_url:
                await self.bot.set_webhook(
                    hook.public_url,
                    secret_token=self.webhook_secret,
                    allowed_updates=list(ALLOWED_UPDATES),
                    max_connections=hook.max_connections,
                )
            log.info("webhook listening on %s", self.webhook.url)
        else:
            self.poller = Poller(self.bot, self.channel, timeout=self.tg.poll_timeout)
            self._poll_task = asyncio.create_task(self.poller.run(), name="telegram-poller")
            log.info("polling Telegram as @%s", self.bot.username)

    def run_background(self, worker: FollowupWorker | None, interval: timedelta) -> None:
        """From PTB's JobQueue: wake the follow-up worker and sweep the outbox every
        ``interval``, so what Kefu writes outside a turn (a due survey, an agent's reply
        stored by another worker) reaches the chat. The jobs only wake work kept in the
        database; nothing of Kefu's lives in the JobQueue."""
        jobs = self.application.job_queue
        if jobs is None:  # python-telegram-bot installed without the job-queue extra
            raise RuntimeError("python-telegram-bot[job-queue] is required for follow-ups")
        if worker is not None:
            worker.attach(jobs, interval)
            self._workers.append(worker)
        seconds = interval.total_seconds()
        jobs.run_repeating(
            self._sweep_outbox,
            interval=seconds,
            first=seconds,
            name="outbox",
            job_kwargs=QUIET_TICKS,
        )

    async def _sweep_outbox(self, _context: object) -> None:
        # In the background, one at a time: a sweep slower than the interval (an outage) must
        # not make the scheduler warn about a skipped run at every tick.
        if self._sweep is None or self._sweep.done():
            self._sweep = asyncio.ensure_future(self._sweep_once())

    async def _sweep_once(self) -> None:
        try:
            await self.channel.flush_outbox(skip_busy=True)
        except RetryLater as exc:
            log.debug("outbox sweep postponed: %s", exc)
        except Exception as exc:
            log_failure(log, exc, "outbox sweep failed")

    async def stop(self) -> None:
        """Stop listening, finish in-flight updates, close the HTTP client."""
        if self.poller is not None and self._poll_task is not None:
            self.poller.stop()
            with contextlib.suppress(Exception):
                await self._poll_task
        if self.webhook is not None:
            await self.webhook.stop()
        with contextlib.suppress(Exception):
            await self.application.stop()  # no more scheduled jobs
        for worker in self._workers:
            await worker.stop_background()
        if self._sweep is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._sweep
        await self.channel.close()
        with contextlib.suppress(Exception):
            await self.application.shutdown()

    async def __aenter__(self) -> TelegramBot:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve_telegram(
    settings: Settings,
    *,
    token: str,
    webhook_secret: str | None = None,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Build the app and run the bot until ``stop`` is set (or SIGINT/SIGTERM)."""
    from bot.app import build_app

    app = build_app(settings, clock=clock)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    bot = TelegramBot(settings, app.engine, token=token, db=app.db, webhook_secret=webhook_secret)
    from bot.agents.telegram import attach_agents

    desk = attach_agents(bot, app)  # the agents' forum groups (issue 6); None without groups
    delay = 1.0
    try:
        while True:
            try:
                await bot.start()
                break
            except InvalidToken:
                raise
            except (NetworkError, TelegramError, OSError) as exc:
                log.warning("cannot reach Telegram (%s); retrying in %.0fs", exc, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return
                delay = min(delay * 2, 60.0)
        if desk is not None:
            await desk.start()
        worker = app.followup_worker()
        if desk is not None:
            desk.attach_followups(worker)  # SLA alerts and claim reminders go to the agents
        bot.run_background(worker, settings.sla.poll_interval)
        await stop.wait()
    finally:
        if desk is not None:
            await desk.stop()
        await bot.stop()
        await app.close()


def run_telegram(
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> int:
    """``kefu run``: Kefu on Telegram until interrupted. Returns the process exit code."""
    env = os.environ if environ is None else environ
    token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        sys.stderr.write(NO_TOKEN)
        return 2
    secret = env.get("TELEGRAM_WEBHOOK_SECRET", "").strip() or None
    if settings.telegram.mode == "webhook" and not secret:
        sys.stderr.write(NO_SECRET)
        return 2
    if settings.telegram.media_dir is not None:
        Path(settings.telegram.media_dir).mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(serve_telegram(settings, token=token, webhook_secret=secret, clock=clock))
    except InvalidToken:
        sys.stderr.write("Telegram refused TELEGRAM_BOT_TOKEN (invalid token).\n")
        return 2
    except KeyboardInterrupt:
        pass
    return 0
