"""The console as a Starlette application: :func:`create_app` wires settings, database, clock
and texts into routes, sessions and static files. ``kefu web`` serves it with uvicorn."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from bot.clock import Clock
from bot.config import Settings
from bot.dialogue.domain import load_domain
from bot.dialogue.responses import Responses
from bot.store.db import Database
from bot.web import office_views, views
from bot.web.console import Console
from bot.web.live import LiveFeed
from bot.web.security import SecurityHeaders

HERE = Path(__file__).parent


def create_app(
    settings: Settings,
    db: Database,
    clock: Clock,
    *,
    secret: str,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The console for ``db``. ``secret`` signs the session cookies (``KEFU_WEB_SECRET``).
    ``extra_routes`` are served beside it (the web chat's, :mod:`bot.channels.web`)."""
    if len(secret) < 16:
        raise ValueError("the web session secret must have at least 16 characters")
    domain = load_domain(settings.dialogues_dir)
    console = Console(
        settings=settings,
        db=db,
        clock=clock,
        responses=Responses(domain.responses, settings.default_language),
        templates=Jinja2Templates(directory=str(HERE / "templates")),
        live=LiveFeed(db, settings.web.poll_interval),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await console.live.close()

    routes: list[BaseRoute] = [
        *extra_routes,
        Route("/login", views.login_page, methods=["GET"]),
        Route("/login", views.login_submit, methods=["POST"]),
        Route("/logout", views.logout, methods=["POST"]),
        Route("/language", views.set_language, methods=["POST"]),
        Route("/", views.inbox_page, methods=["GET"]),
        Route("/inbox/rows", views.inbox_rows, methods=["GET"]),
        Route("/api/inbox", views.inbox_json, methods=["GET"]),
        Route("/events", views.events, methods=["GET"]),
        Route("/audit", office_views.audit_page, methods=["GET"]),
        Route("/households", office_views.household_page, methods=["GET"]),
        Route("/households/export.{kind}", office_views.household_export, methods=["GET"]),
        Route("/notices", office_views.notices_page, methods=["GET"]),
        Route("/notices", office_views.notice_create, methods=["POST"]),
        Route("/notices/{notice_id}", office_views.notice_status, methods=["GET"]),
        Route("/notices/{notice_id}/cancel", office_views.notice_cancel, methods=["POST"]),
        Route("/evaluation", office_views.evaluation_page, methods=["GET"]),
        Route("/reports", office_views.reports_page, methods=["GET"]),
        Route("/reports/chart/{name}.png", office_views.report_chart, methods=["GET"]),
        Route("/reports/download.{kind}", office_views.report_download, methods=["GET"]),
        Route("/tickets/{number}", views.ticket_view, methods=["GET"]),
        Route("/tickets/{number}/{action}", views.ticket_action, methods=["POST"]),
        Route("/tickets/{number}/files/{message_id}/{index}", views.ticket_file, methods=["GET"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=secret,
            session_cookie="kefu_console",
            max_age=int(settings.web.session_lifetime.total_seconds()),
            same_site="strict",
            https_only=settings.web.secure_cookies,
        ),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
    app.state.console = console
    return app
