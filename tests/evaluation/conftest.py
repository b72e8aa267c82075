"""The evaluation tests share the fee tests' fixtures (emptied database, the real app)."""

from tests.fees.conftest import app, db

__all__ = ["app", "db"]
