"""Wait for a component to have run past a point instead of sleeping.

"Sleep, then check that nothing happened" passes by default on a slow machine: the component
may not have looked yet. :class:`Completions` counts the finished calls of one async method
(a worker's ``wake``, a sweep), so a test waits until it has run N more times and then checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


class Completions:
    """Counts the completed calls of ``target.name`` (an async method), and what they returned.

    Wrap before the method is handed to a scheduler: the wrapper replaces the attribute on
    ``target`` only.
    """

    def __init__(self, target: Any, name: str) -> None:
        self.count = 0
        self.results: list[Any] = []
        self._changed = asyncio.Event()
        original: Callable[..., Awaitable[Any]] = getattr(target, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                result = await original(*args, **kwargs)
                self.results.append(result)
                return result
            finally:
                self.count += 1
                self._changed.set()

        setattr(target, name, counted)

    async def until(self, count: int, timeout: float = 10.0) -> None:
        """Return once ``count`` calls have completed; AssertionError after ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                while self.count < count:
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"timed out after {timeout}s: {self.count} of {count} calls completed"
            ) from None
