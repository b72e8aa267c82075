"""Human takeover (issue 6): agents answer escalated chats from Telegram forum groups.

Modules: :mod:`.models` (tables), :mod:`.service` (escalate, claim, release, resolve, assign —
database only), :mod:`.relay` (the group outbox under Telegram's per-group limit),
:mod:`.telegram` (the group side: topics, cards, buttons, commands, relay both ways),
:mod:`.cli` (``kefu agents``).
"""
