"""One file per household (一戶一檔): a unit's residents, tickets, call-backs and fees together.

- :mod:`bot.household.service` — ``household_file(session, unit, today=, fees=)`` assembles the
  file; ``household_for_ticket`` the file of a ticket's flat; ``parse_unit_text`` reads a unit
  as everywhere else (``bot.records.units``).
- :mod:`bot.household.render` — ``household_tables(file, texts, tz)`` in a language (the words
  are ``dialogues/household.yml``); ``render_text`` for a terminal, ``render_brief`` for a card.
- :mod:`bot.household.export` — ``write_csv`` / ``write_xlsx``.
- :mod:`bot.household.cli` — ``kefu household show UNIT [--lang] [--csv F | --xlsx F]``.

For the agents' card: ``household_for_ticket(session, ticket, today=, fees=)`` then
``render_brief(file, texts)`` (``texts`` = the desk's responses in the office's language).
"""

from bot.household.render import Table, Texts, household_tables, render_brief, render_text
from bot.household.service import (
    HouseholdFile,
    UnitUnreadable,
    household_file,
    household_for_ticket,
    parse_unit_text,
)

__all__ = [
    "HouseholdFile",
    "Table",
    "Texts",
    "UnitUnreadable",
    "household_file",
    "household_for_ticket",
    "household_tables",
    "parse_unit_text",
    "render_brief",
    "render_text",
]
