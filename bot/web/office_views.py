"""The office's pages beyond the inbox: the console's audit trail (supervisors), the service
report with charts and downloads (managers), and the household file (一戶一檔)."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import (
    Response,
)

from bot.web import accounts, households, reports
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
from bot.web.security import (
    client_address,
)

TEXT_LIMIT = 4000


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


async def reports_page(request: Request) -> Response:
    """The figures of ``kefu report`` for a period, with charts and downloads."""
    staff, refused = await _manager(request)
    if refused is not None or staff is None:
        return refused or unauthenticated(request)
    console = console_of(request)
    try:
        first, last = reports.period(request, console.settings, console.clock.now().date())
    except reports.BadPeriod:
        return error_page(request, staff, 400, "bad_period")
    report = await reports.report_for(console, first, last)
    body = reports.as_text(console, report, staff.language)
    query = f"from={first.isoformat()}&to={last.isoformat()}"
    return render(request, "reports.html", staff, text=body, first=first, last=last,
                   query=query, charts=reports.CHARTS)  # fmt: skip


async def report_chart(request: Request) -> Response:
    """One chart of the period as PNG."""
    staff, refused = await _manager(request)
    if refused is not None or staff is None:
        return refused or unauthenticated(request)
    name = request.path_params["name"]
    console = console_of(request)
    if name not in reports.CHARTS:
        return error_page(request, staff, 404, "not_found")
    try:
        first, last = reports.period(request, console.settings, console.clock.now().date())
    except reports.BadPeriod:
        return error_page(request, staff, 400, "bad_period")
    report = await reports.report_for(console, first, last)
    png = await reports.chart_png(console, report, staff.language, name)
    return Response(png, media_type="image/png", headers={"cache-control": "no-store"})


async def report_download(request: Request) -> Response:
    """The period's workbook or PDF (audited: exports leave the building)."""
    staff, refused = await _manager(request)
    if refused is not None or staff is None:
        return refused or unauthenticated(request)
    kind = request.path_params["kind"]
    console = console_of(request)
    if kind not in reports.DOWNLOADS:
        return error_page(request, staff, 404, "not_found")
    try:
        first, last = reports.period(request, console.settings, console.clock.now().date())
    except reports.BadPeriod:
        return error_page(request, staff, 400, "bad_period")
    report = await reports.report_for(console, first, last)
    data = await reports.download(console, report, staff.language, kind)
    async with console.db.write() as session:
        await accounts.audit(session, account_ref(staff), f"export_{kind}", console.clock.now(),
                             client=client_address(request),
                             data={"from": first.isoformat(), "to": last.isoformat()})  # fmt: skip
    return reports.file_response(data, kind, first, last)


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
