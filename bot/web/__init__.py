"""The office's web console: a third door on the same services as the agents' Telegram group and
the ``kefu`` CLI (issue #16).

Server-rendered pages (Starlette + Jinja2), no JavaScript build and no CDN: everything the
browser needs is served from :mod:`bot.web` so the console works on an office LAN without
internet. Live updates come by server-sent events. Staff accounts, sessions in signed cookies,
CSRF on every form and a login rate limit live in :mod:`bot.web.accounts` and
:mod:`bot.web.security`; every action is audited.
"""
