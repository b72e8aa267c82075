"""The office's pages beyond the inbox: the console's audit trail (supervisors), the service
report with charts and downloads, notices and the owner evaluation (managers), and the
household file (一戶一檔)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.notices.service import (
    NoticeError,
    cancel_notice,
    create_notice,
    list_notices,
    notice_report,
)
from bot.reports.compute import Report
from bot.web import accounts, campaigns, households, reports
from bot.web.console import Console
from bot.web.models import StaffAudit, StaffRole
from bot.web.pages import (
    Staff,
    account_ref,
    console_of,
    current_staff,
    error_page,
    may_role,
    render,
    unauthenticated,
)
from bot.web.security import client_address, csrf_ok


async def audit_page(request: Request) -> Response:
    """The console's audit trail (logins and actions of everyone): supervisors and managers."""
    staff = await current_staff(request)
    if staff is None:
        return unauthenticated(request)
    console = console_of(request)
    if not may_role(staff, StaffRole.SUPERVISOR):
        message = console.text("forbidden", staff.language)
        return render(request, "error.html", staff, 403, message=message)
    async with console.db.session() as session:
        rows = list(
            await session.scalars(select(StaffAudit).order_by(StaffAudit.id.desc()).limit(300))
        )
    return render(request, "audit.html", staff, rows=rows)


# --- reports (managers) ------------------------------------------------------------------------


async def _manager(request: Request) -> tuple[Staff | None, Response | None]:
    staff = await current_staff(request)
    if staff is None:
        return None, unauthenticated(request)
    if not may_role(staff, StaffRole.MANAGER):
        return staff, error_page(request, staff, 403, "forbidden")
    return staff, None


@dataclass(frozen=True)
class _Period:
    """A manager's request for the report of a period: who, and the report itself."""

    staff: Staff
    console: Console
    first: date
    last: date
    report: Report


async def _period_report(
    request: Request, *, name: str = "", names: Iterable[str] = ()
) -> _Period | Response:
    """The period's report for a manager, or the answer when it cannot be had: no session,
    not a manager, an unknown ``name`` (chart or download kind), dates that make no period."""
    staff, refused = await _manager(request)
    if refused is not None or staff is None:
        return refused or unauthenticated(request)
    console = console_of(request)
    if name and name not in names:
        return error_page(request, staff, 404, "not_found")
    try:
        first, last = reports.period(request, console.settings, console.clock.now().date())
    except reports.BadPeriod:
        return error_page(request, staff, 400, "bad_period")
    report = await reports.report_for(console, first, last)
    return _Period(staff, console, first, last, report)


async def reports_page(request: Request) -> Response:
    """The figures of ``kefu report`` for a period, with charts and downloads."""
    got = await _period_report(request)
    if isinstance(got, Response):
        return got
    body = reports.as_text(got.console, got.report, got.staff.language)
    query = f"from={got.first.isoformat()}&to={got.last.isoformat()}"
    return render(request, "reports.html", got.staff, text=body, first=got.first,
                  last=got.last, query=query, charts=reports.CHARTS)  # fmt: skip


async def report_chart(request: Request) -> Response:
    """One chart of the period as PNG."""
    name = request.path_params["name"]
    got = await _period_report(request, name=name, names=reports.CHARTS)
    if isinstance(got, Response):
        return got
    png = await reports.chart_png(got.console, got.report, got.staff.language, name)
    return Response(png, media_type="image/png", headers={"cache-control": "no-store"})


async def report_download(request: Request) -> Response:
    """The period's workbook or PDF (audited: exports leave the building)."""
    kind = request.path_params["kind"]
    got = await _period_report(request, name=kind, names=reports.DOWNLOADS)
    if isinstance(got, Response):
        return got
    console = got.console
    data = await reports.download(console, got.report, got.staff.language, kind)
    async with console.db.write() as session:
        await accounts.audit(session, account_ref(got.staff), f"export_{kind}",
                             console.clock.now(), client=client_address(request),
                             data={"from": got.first.isoformat(),
                                   "to": got.last.isoformat()})  # fmt: skip
    return reports.file_response(data, kind, got.first, got.last)


# --- the household file ------------------------------------------------------------------------


async def household_page(request: Request) -> Response:
    """One unit's file (``?unit=3座18樓B室``), or the form to ask for one."""
    staff = await current_staff(request)
    if staff is None:
        return unauthenticated(request)
    unit_text = request.query_params.get("unit", "").strip()[:100]
    if not unit_text:
        return render(request, "household.html", staff, unit_text="", tables=None)
    console = console_of(request)
    try:
        shown, tables = await households.household(console, unit_text, staff.language)
    except households.UnitUnreadable:
        message = console.text("unit_unreadable", staff.language)
        return render(request, "household.html", staff, 400, unit_text=unit_text,
                       tables=None, error=message)  # fmt: skip
    return render(request, "household.html", staff, unit_text=unit_text, shown=shown,
                   tables=tables)  # fmt: skip


async def household_export(request: Request) -> Response:
    """The unit's file as XLSX or CSV (audited: a household's data leaves the building)."""
    staff = await current_staff(request)
    if staff is None:
        return unauthenticated(request)
    kind = request.path_params["kind"]
    console = console_of(request)
    if kind not in households.EXPORTS:
        return error_page(request, staff, 404, "not_found")
    unit_text = request.query_params.get("unit", "").strip()[:100]
    try:
        shown, tables = await households.household(console, unit_text, staff.language)
    except households.UnitUnreadable:
        return error_page(request, staff, 400, "unit_unreadable")
    if not tables:
        return error_page(request, staff, 404, "not_found")
    data = await households.export(tables, kind)
    async with console.db.write() as session:
        await accounts.audit(session, account_ref(staff), f"household_{kind}",
                             console.clock.now(), target=shown[:64],
                             client=client_address(request))  # fmt: skip
    headers = {"content-disposition": f'attachment; filename="household.{kind}"'}
    return Response(data, media_type=households.EXPORTS[kind], headers=headers)


# --- notices and the owner evaluation (managers) -----------------------------------------------


async def notices_page(request: Request) -> Response:
    """The latest notices and the composer."""
    staff, refused = await _manager(request)
    if refused is not None or staff is None:
        return refused or unauthenticated(request)
    console = console_of(request)
    async with console.db.session() as session:
        notices = await list_notices(session)
    return render(request, "notices.html", staff, notices=notices, lists=campaigns.AUDIENCE_LISTS,
                  error=None, form={})  # fmt: skip


async def notice_create(request: Request) -> Response:
    """Create a notice from the composer (scheduled for sending by ``kefu run``)."""
    staff, refused = await _manager(request)
    if refused is not None or staff is None:
        return refused or unauthenticated(request)
    console = console_of(request)
    form = await request.form()
    if not csrf_ok(request, form):
        return error_page(request, staff, 403, "csrf")
    now = console.clock.now()
    try:
        draft = campaigns.draft_from_form(form, console.settings, f"staff:{staff.email}")
        async with console.db.write() as session:
            notice = await create_notice(session, draft, now=now, settings=console.settings)
            await accounts.audit(session, account_ref(staff), "notice_created", now,
                                 target=str(notice.id), client=client_address(request))  # fmt: skip
    except NoticeError as exc:
        async with console.db.session() as session:
            notices = await list_notices(session)
        values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
        return render(request, "notices.html", staff, 400, notices=notices, error=str(exc),
                      lists=campaigns.AUDIENCE_LISTS, form=values)  # fmt: skip
    request.session["flash"] = console.text("done_notice", staff.language)
    return RedirectResponse(f"/notices/{notice.id}", status_code=303)


async def notice_status(request: Request) -> Response:
    """One notice's delivery: counts by status and who was not reached."""
    staff, refused = await _manager(request)
    if refused is not None or staff is None:
        return refused or unauthenticated(request)
    console = console_of(request)
    try:
        notice_id = int(request.path_params["notice_id"])
        async with console.db.session() as session:
            report = await notice_report(session, notice_id)
    except (ValueError, NoticeError):
        return error_page(request, staff, 404, "not_found")
    return render(request, "notice.html", staff, report=report)


async def notice_cancel(request: Request) -> Response:
    """Cancel a notice: nothing more of it is sent."""
    staff, refused = await _manager(request)
    if refused is not None or staff is None:
        return refused or unauthenticated(request)
    console = console_of(request)
    form = await request.form()
    if not csrf_ok(request, form):
        return error_page(request, staff, 403, "csrf")
    notice_id = request.path_params["notice_id"]
    now = console.clock.now()
    try:
        async with console.db.write() as session:
            await cancel_notice(session, int(notice_id), now=now)
            await accounts.audit(session, account_ref(staff), "notice_cancelled", now,
                                 target=str(notice_id), client=client_address(request))  # fmt: skip
    except (ValueError, NoticeError) as exc:
        request.session["flash"] = console.text("cannot", staff.language, reason=str(exc))
    else:
        request.session["flash"] = console.text("done_notice_cancel", staff.language)
    return RedirectResponse(f"/notices/{notice_id}", status_code=303)


async def evaluation_page(request: Request) -> Response:
    """A quarter's owner evaluation: response rate, who is missing, scores per area."""
    staff, refused = await _manager(request)
    if refused is not None or staff is None:
        return refused or unauthenticated(request)
    console = console_of(request)
    today = console.clock.now().astimezone(console.settings.tz).date()
    try:
        quarter = campaigns.quarter_asked(request.query_params.get("quarter"), today)
    except ValueError:
        return error_page(request, staff, 400, "bad_period")
    async with console.db.session() as session:
        summary = await campaigns.evaluation_summary(session, quarter, console.settings)
    return render(request, "evaluation.html", staff, quarter=quarter, summary=summary)
