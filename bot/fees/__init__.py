"""Fee reminders and collection (催繳): reminders per unpaid item on durable follow-ups,
payment confirmation by finance, arrears and the collection rate.

Sits above the ledger (:mod:`bot.records`) and the follow-up machinery (:mod:`bot.followups`).
"""
