"""SLA engine: business-time calendars, deadlines from policies, pause/resume, explanations.

- :mod:`bot.sla.calendar` — ``Calendar.add/between/is_open/next_open``, ``build_calendars``,
  ``end_of_quiet_hours``.
- :mod:`bot.sla.policies` — ``compute_deadlines``, ``rework_deadline``: the rules, pure.
  Applying them to a ticket (``apply_deadlines``, ``pause_sla``/``resume_sla``, which also
  reschedule the warning/breach follow-ups) is :mod:`bot.followups.deadlines`, above both.
- :mod:`bot.sla.state` — ``SlaState``, what ``Ticket.sla`` holds (deadline reasons, pauses,
  call-back answered, rework orders) and the operations that change it.
- :mod:`bot.sla.office` — ``office_hours``: the office calendar's hours grouped for the FAQ.
- :mod:`bot.sla.explain` — ``explain_sla`` for ``kefu sla show``.
- :mod:`bot.sla.cli` — ``kefu sla`` (``kefu tickets`` is in :mod:`bot.tickets.cli`, ``kefu
  followups`` in :mod:`bot.followups.cli`).

Scheduled work (surveys, warnings, escalations) lives in :mod:`bot.followups`.
"""
