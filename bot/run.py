"""``kefu run``: the Telegram process. Builds the app, the Telegram channel and, when agents'
groups are configured, the agents' desk, and runs them until SIGINT/SIGTERM.

A composition root like :mod:`bot.app`: it sits above the channels and the agents' desk (which
is built on the Telegram channel), so neither imports the other's assembly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telegram.error import InvalidToken, NetworkError, TelegramError

from bot.agents.telegram import attach_agents
from bot.app import App, build_app
from bot.channels.telegram.app import TelegramBot
from bot.channels.telegram.broadcast import notice_worker
from bot.channels.telegram.health import MetricsServer
from bot.clock import Clock
from bot.config import Settings
from bot.dialogue.domain import DomainError
from bot.evaluation.report import attach_evaluation_summary
from bot.fees.collection import collection_rates
from bot.nlu import ModelError
from bot.reports.cli import agent_names
from bot.reports.schedule import attach_reports
from bot.reports.telegram import TelegramPoster
from bot.store.db import StoreUnavailable, redact_url

if TYPE_CHECKING:
    from bot.web.serve import ConsoleServer

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


async def serve_telegram(
    settings: Settings,
    *,
    token: str,
    webhook_secret: str | None = None,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Build the app and run the bot until ``stop`` is set (or SIGINT/SIGTERM)."""
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
    desk = attach_agents(bot, app)  # the agents' forum groups (issue 6); None without groups
    console = _console(settings, app) if settings.web.enabled else None
    log.info("%s", startup_line(settings, app.interpreter))
    metrics: MetricsServer | None = None
    notices = notice_worker(bot.bot, app.db, settings, app.clock, app.engine.responses)
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
        if console is not None:
            await console.start()
        if desk is not None:
            await desk.start()
        worker = app.followup_worker()
        if desk is not None:
            desk.attach_followups(worker)  # SLA alerts and claim reminders go to the agents
        # Weekly and monthly reports to reports.managers_chat_id (none without one).
        poster = TelegramPoster(bot.bot)
        await attach_reports(worker, app.db, settings, poster, agent_names, collection_rates)
        # The owner evaluation's summary, by evaluation.summary_day after the quarter.
        await attach_evaluation_summary(worker, app.db, settings, poster)
        bot.run_background(worker, settings.sla.poll_interval)
        notices.attach(bot.application.job_queue)  # notices to residents (issue 15)
        await stop.wait()
    finally:
        log.info("stopping")
        if metrics is not None:
            await metrics.stop()
        if console is not None:
            await console.stop()
        if desk is not None:
            await desk.stop()
        await notices.stop()  # finish and record the sends in flight while the bot can
        await bot.stop()
        await app.close()
        log.info("stopped")


def _console(settings: Settings, app: App) -> ConsoleServer:
    """The web console in this process (``web.enabled``), on the app's database and clock,
    with the web chat (``web.chat.enabled``) on the same server and the same engine."""
    # Imported only with web.enabled: starlette, uvicorn and the console's pages and reports
    # cost ~0.4 s CPU at startup that a bot without the console need not pay.
    from bot.channels.web.routes import chat_routes
    from bot.web.serve import ConsoleServer, web_secret

    secret = web_secret(settings)
    chat = chat_routes(app, secret=secret) if settings.web.chat.enabled else []
    return ConsoleServer(settings, app.db, app.clock, secret=secret, extra_routes=chat)


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
    if settings.web.enabled:
        from bot.web.serve import NoSecret, web_secret  # only with the console (see _console)

        try:
            web_secret(settings)
        except NoSecret as exc:
            sys.stderr.write(f"kefu: {exc}\n")
            return 2
    if settings.telegram.media_dir is not None:
        Path(settings.telegram.media_dir).mkdir(parents=True, exist_ok=True)
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
