"""PTB's HTTP transport on aiohttp.

python-telegram-bot talks to the Bot API through a :class:`telegram.request.BaseRequest`; its
default, ``HTTPXRequest``, costs 1-4 ms of CPU per call on a busy bot (httpcore's connection pool
is re-scanned for every request), more than a whole Kefu turn's database work. aiohttp's client
does the same for ~0.4 ms, so Kefu plugs it in here and PTB stays PTB above it. Bench:
``bench/telegram_e2e.py``.

Timeouts keep PTB's meaning: ``connect_timeout`` to open a connection, ``read_timeout`` between
bytes of the answer (PTB adds the long-poll time for ``getUpdates``), ``pool_timeout`` to wait
for a free connection; ``write_timeout`` has no aiohttp equivalent and bounds the whole request
when files are uploaded (``media_write_timeout``).

Failures say whether the request may have reached the Bot API: a connection that could not be
opened is a plain ``NetworkError`` (or ``TimedOut``), safe to repeat; a request sent whose
answer never came (read timeout, connection lost while waiting) is :class:`Unconfirmed`, and
repeating a ``sendMessage`` then may deliver it twice.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class Unconfirmed(NetworkError):
    """The request was sent but no answer came: the Bot API may have carried it out."""


class AnswerTimedOut(Unconfirmed, TimedOut):
    """The answer did not come within the read timeout (the request may have succeeded)."""


def _seconds(value: ODVInput[float], default: float | None) -> float | None:
    if isinstance(value, DefaultValue):
        return default
    return value


class AiohttpRequest(BaseRequest):
    """A :class:`telegram.request.BaseRequest` on one ``aiohttp.ClientSession``.

    Args:
        connection_pool_size: connections kept open to the Bot API server.
        read_timeout, write_timeout, connect_timeout, pool_timeout: defaults in seconds, used
            when a bot method does not pass its own (``None`` = wait forever).
        media_write_timeout: bound on a whole request that uploads files.
    """

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._session: aiohttp.ClientSession | None = None
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds the long-poll time to it for ``getUpdates``)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session (again, after :meth:`shutdown`)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                timeout=aiohttp.ClientTimeout(total=None),
                skip_auto_headers=("User-Agent",),
            )

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See :meth:`telegram.request.BaseRequest.do_request`."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data is not None and request_data.contains_files
        timeout = aiohttp.ClientTimeout(
            total=_seconds(write_timeout, self._media_write_timeout) if files else None,
            connect=_seconds(pool_timeout, self._pool_timeout),
            sock_connect=_seconds(connect_timeout, self._connect_timeout),
            sock_read=_seconds(read_timeout, self._read_timeout),
        )
        data: Any = None
        if request_data is not None:
            if request_data.multipart_data:
                form = aiohttp.FormData(request_data.json_parameters)
                for name, (filename, content, mimetype) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                data = form
            elif request_data.json_parameters:
                data = request_data.json_parameters
        try:
            async with session.request(
                method,
                url,
                data=data,
                headers={"User-Agent": self.USER_AGENT},
                timeout=timeout,
            ) as response:
                return response.status, await response.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise TimedOut("No connection to the Bot API server in time; not sent") from exc
        except aiohttp.ClientConnectorError as exc:  # never connected: nothing was sent
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        except TimeoutError as exc:
            raise AnswerTimedOut("No answer from the Bot API server in time") from exc
        except aiohttp.ClientError as exc:  # connected, then lost: the request may have arrived
            raise Unconfirmed(f"aiohttp.{type(exc).__name__}: {exc}") from exc
