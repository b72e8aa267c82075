"""The evaluation tests share the fee tests' fixtures (emptied database, the real app)."""

from tests.fees.conftest import app, db, interpreter

__all__ = ["app", "db", "interpreter"]
