"""SLA engine: business-time calendars, deadlines from policies, pause/resume, explanations.

- :mod:`bot.sla.calendar` — ``Calendar.add/between/is_open/next_open``, ``build_calendars``,
  ``end_of_quiet_hours``.
- :mod:`bot.sla.policies` — ``compute_deadlines``, ``apply_deadlines`` (call when a ticket opens
  or changes, in its transaction; also reschedules warning/breach follow-ups),
  ``pause_sla``/``resume_sla`` (audited), ``rework_deadline``.
- :mod:`bot.sla.state` — ``SlaState``, what ``Ticket.sla`` holds (deadline reasons, pauses,
  call-back answered, rework orders) and the operations that change it.
- :mod:`bot.sla.explain` — ``explain_sla`` for ``kefu sla show``.
- :mod:`bot.sla.cli` — the ``tickets``, ``sla`` and ``followups`` Typer sub-apps.

Scheduled work (surveys, warnings, escalations) lives in :mod:`bot.followups`.
"""
