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
from collections.abc import Coroutine, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot.channels.telegram.channel import EngineLike, RetryLater
from bot.channels.telegram.health import MetricsServer, health_routes
from bot.channels.telegram.metered import MeteredTelegramChannel
from bot.channels.telegram.polling import ALLOWED_UPDATES, Poller
from bot.channels.telegram.ratelimit import KefuRateLimiter
from bot.channels.telegram.request import AiohttpRequest
from bot.channels.telegram.texts import ChannelTexts
from bot.channels.telegram.webhook import WebhookServer
from bot.clock import Clock, SystemClock
from bot.config import Settings, TelegramSettings
from bot.followups import FollowupWorker
from bot.followups.worker import QUIET_TICKS
from bot.metrics import StoreProbe
from bot.store.db import Database, StoreUnavailable, log_failure

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
            AiohttpRequest(
                max(64, tg.concurrency * 2),
                read_timeout=tg.read_timeout,
                pool_timeout=10.0,
                media_write_timeout=60.0,
            )
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
        clock: Clock | None = None,
    ) -> None:
        tg = settings.telegram
        self.settings = settings
        self.tg = tg
        self.webhook_secret = webhook_secret
        self.application = build_application(tg, token)
        self.bot = self.application.bot
        self.channel = MeteredTelegramChannel(
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
        # Store gauges for /healthz and /metrics, read when scraped.
        self.probe = StoreProbe(db, clock or SystemClock(settings.tz)) if db is not None else None
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
                routes=health_routes(self.probe, "webhook"),
            )
            self.webhook.start()
            if hook.public_url:
                await self.bot.set_webhook(
                    hook.public_url,
                    secret_token=self.webhook_secret,
                    allowed_updates=list(ALLOWED_UPDATES),
                    max_connections=hook.max_connections,
                )
            log.info("webhook listening on %s (and /healthz, /metrics)", self.webhook.url)
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
        # The Application shuts its bot down only if it finished initializing; a stop while
        # getMe was still being retried would leave both HTTP sessions open.
        with contextlib.suppress(Exception):
            await self.bot.shutdown()

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
    bot = TelegramBot(
        settings,
        app.engine,
        token=token,
        db=app.db,
        webhook_secret=webhook_secret,
        clock=app.clock,
    )
    from bot.agents.telegram import attach_agents

    desk = attach_agents(bot, app)  # the agents' forum groups (issue 6); None without groups
    log.info("%s", startup_line(settings, app.interpreter))
    metrics: MetricsServer | None = None
    delay = 1.0
    try:
        while True:
            try:
                if not await _unless_stopped(bot.start(), stop):
                    return
                break
            except InvalidToken:
                raise
            except (NetworkError, TelegramError, OSError) as exc:
                log.warning("cannot reach Telegram (%s); retrying in %.0fs", exc, delay)
                # Undo what the attempt started (a running Application, a bound webhook port):
                # the next attempt starts from the beginning.
                await bot.stop()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return
                delay = min(delay * 2, 60.0)
        metrics = _serve_metrics(settings, bot)
        if desk is not None:
            await desk.start()
        worker = app.followup_worker()
        if desk is not None:
            desk.attach_followups(worker)  # SLA alerts and claim reminders go to the agents
        bot.run_background(worker, settings.sla.poll_interval)
        await stop.wait()
    finally:
        log.info("stopping")
        if metrics is not None:
            await metrics.stop()
        if desk is not None:
            await desk.stop()
        await bot.stop()
        await app.close()
        log.info("stopped")


def _serve_metrics(settings: Settings, bot: TelegramBot) -> MetricsServer | None:
    """Polling mode: /healthz and /metrics on ``telegram.metrics_port`` (webhook mode serves
    them on the webhook server). A port already taken is logged, not fatal: the bot matters
    more than its metrics."""
    tg = settings.telegram
    if tg.mode != "polling" or not tg.metrics_port:
        return None
    try:
        server = MetricsServer(bot.probe, listen=tg.metrics_listen, port=tg.metrics_port,
                               mode=tg.mode)  # fmt: skip
    except OSError as exc:
        log.error(
            "metrics not served: cannot listen on %s:%s (%s); set telegram.metrics_port",
            tg.metrics_listen, tg.metrics_port, exc.strerror or exc,
        )  # fmt: skip
        return None
    server.start()
    log.info("metrics and health on http://%s:%s/metrics", tg.metrics_listen, server.port)
    return server


async def _unless_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event) -> bool:
    """Run ``work`` unless ``stop`` is set first (then cancel it): False when stopped.

    Connecting can take long (getMe and setMyCommands are retried with backoff while Telegram
    is unreachable); a SIGTERM must not wait for that, or systemd kills the process."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done():
        task.result()
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return False


def startup_line(settings: Settings, interpreter: object) -> str:
    """One line that says what this process is: version, mode, store, NLU model."""
    from importlib.metadata import PackageNotFoundError, version

    from bot.store.db import redact_url

    try:
        kefu_version = version("kefu")
    except PackageNotFoundError:
        kefu_version = "unknown"
    model = getattr(interpreter, "model_path", None)
    model_name = Path(model).name if model else type(interpreter).__name__
    return (
        f"kefu {kefu_version}: telegram {settings.telegram.mode}, "
        f"store {redact_url(settings.database.url)}, NLU model {model_name}"
    )


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
    from bot.dialogue.domain import DomainError
    from bot.nlu import ModelError

    try:
        asyncio.run(serve_telegram(settings, token=token, webhook_secret=secret, clock=clock))
    except InvalidToken:
        sys.stderr.write("Telegram refused TELEGRAM_BOT_TOKEN (invalid token).\n")
        return 2
    except StoreUnavailable as exc:
        # Usually started before the database (boot order): one line; exit 3 is worth a
        # restart (the systemd units restart on failure), unlike 2 (configuration).
        sys.stderr.write(f"kefu: {exc}\n")
        return 3
    except (ModelError, DomainError) as exc:
        sys.stderr.write(f"kefu: {exc}\n")
        return 4
    except KeyboardInterrupt:
        pass
    return 0
