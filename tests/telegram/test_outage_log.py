"""A database outage under a real ``kefu run``: one WARNING when the store goes away, one INFO
when it is back, no tracebacks, and the update that waited is answered (issue 11 item 8)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.fakes.bot_api import FakeBotAPI
from tests.fakes.tcp_proxy import TcpProxy
from tests.telegram.processes import KefuRun

pytestmark = [pytest.mark.postgres, pytest.mark.process]


async def test_an_outage_is_one_warning_and_one_info(
    fake_api: FakeBotAPI, tmp_path: Path, pg_url: str
) -> None:
    url = make_url(pg_url)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        # The follow-up worker and the outbox sweep wake every 0.1 s: 10 rounds a second that
        # each meet the outage.
        kefu = KefuRun(fake_api, proxied, tmp_path, KEFU_SLA__POLL_INTERVAL="0.1s")
        try:
            user = fake_api.user(4801, language_code="en")
            await fake_api.until(lambda: bool(fake_api.calls_to("getUpdates")), 90)
            (hello,) = fake_api.queue(fake_api.text_update(user, "hello"))
            await fake_api.until(lambda: hello not in fake_api.pending_update_ids(), 30)
            assert len(fake_api.sent(user.id)) == 1
            before = len(kefu.log_lines())

            proxy.down()
            (waiting,) = fake_api.queue(fake_api.text_update(user, "What are your office hours?"))
            polls = len(fake_api.calls_to("getUpdates"))
            # The update is tried and held in several polling rounds (0.5 + 1 + 2 s of back-off)
            # while the worker and the sweep meet the outage about 30 times.
            await fake_api.until(lambda: len(fake_api.calls_to("getUpdates")) >= polls + 4, 30)
            assert waiting in fake_api.pending_update_ids()
            proxy.up()
            await fake_api.until(lambda: waiting not in fake_api.pending_update_ids(), 30)
            await fake_api.until(lambda: len(fake_api.sent(user.id)) >= 2, 10)
            assert len(fake_api.sent(user.id)) == 2, fake_api.texts(user.id)
            await fake_api.until(
                lambda: any("store is back" in line for line in kefu.log_lines()[before:]), 10
            )
        finally:
            kefu.kill()
        during = kefu.log_lines()[before:]
        loud = [line for line in during if " WARNING " in line or " ERROR " in line]
        assert len(loud) == 1 and "store is unavailable" in loud[0], "\n".join(during)
        assert sum("store is back" in line for line in during) == 1, "\n".join(during)
        assert not any("Traceback" in line for line in during), "\n".join(during)
        assert len(during) <= 5, "\n".join(during)
