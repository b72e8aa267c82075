"""Staff actions on tickets (phone and walk-in customers, call-backs, re-classification,
technicians, cancel and close): one service that every door calls (the ``kefu staff`` CLI,
the agents' Telegram group, later the web console)."""
