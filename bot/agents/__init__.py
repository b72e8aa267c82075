"""Human takeover (issue 6): agents answer escalated chats from Telegram forum groups.

Database side: :mod:`.models` (tables), :mod:`.service` (``Takeover`` = :mod:`.core` +
:mod:`.escalation` + :mod:`.transitions`), :mod:`.texts` (the office's words and labels),
:mod:`.cards`, :mod:`.requests` (typed escalation requests from ``Escalated``), :mod:`.idle`,
:mod:`.reopen`, :mod:`.registry`. Telegram side: :mod:`.telegram` (wiring and the one list of
group commands), :mod:`.desk`, :mod:`.observer`, :mod:`.group_updates`,
:mod:`.group_commands`, :mod:`.customers`, :mod:`.alerts`, :mod:`.relay` with
:mod:`.group_send` and :mod:`.topics` (the group outbox under Telegram's limit).
:mod:`.cli` is ``kefu agents``.
"""
