"""Settings: ``config.yml`` validated by pydantic, every key overridable from the environment.

An environment variable ``KEFU_`` + the key path joined by ``__`` overrides a key, e.g.
``KEFU_SLA__SURVEY_DELAY=0s``. ``KEFU_DATABASE_URL`` and ``KEFU_CONFIG`` are short forms for
``database.url`` and the path of the settings file. Secrets (tokens, passwords) are read from the
environment only and never belong in ``config.yml``.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_CONFIG_PATH = "config.yml"
Language = Literal["zh-Hant", "zh-Hans", "en"]
LANGUAGES: tuple[str, ...] = ("zh-Hant", "zh-Hans", "en")


# Bounds: a ratio, fraction or probability is in [0, 1]; counts and sizes are at least 1.
Fraction = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=1)]
Port = Annotated[int, Field(ge=1, le=65535)]
# A port this process listens on: 0 asks the system for any free one (tests, side-by-side runs).
ListenPort = Annotated[int, Field(ge=0, le=65535)]


class ConfigError(Exception):
    """The settings are invalid; the message is one line that names the key."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Parse ``90s``, ``15m``, ``2h``, ``3d``, ``1w`` or a number of seconds into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 2h, 3d)")
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _UNIT_SECONDS[unit or "s"])


class Section(BaseModel):
    """Base for config sections: unknown keys are errors, so typos are caught at start."""

    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(Section):
    url: str = "sqlite:///var/kefu.db"
    echo: bool = False
    pool_size: int = Field(default=10, ge=1, le=1000)
    # Test every pooled connection with a round trip before each use. Off by default: that is
    # one more round trip per transaction, and a connection the server dropped fails its first
    # use instead, which empties the pool and is retried like any outage (the update comes back).
    pool_pre_ping: bool = False
    auto_migrate: bool = Field(
        default=True, description="Run migrations on start (always done for SQLite)."
    )

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        from bot.dburl import check_database_url

        return check_database_url(value)


class NLUSettings(Section):
    auto_train: bool = True
    # Below `threshold` (or when the two best intents are closer than `margin`) the top intent is
    # not trusted: the parse says `nlu_fallback` and a clarifying question is asked; below
    # `oos_threshold` the message is treated as out of scope. Values chosen by 5-fold
    # cross-validation of the training data (`kefu nlu eval --cv 5`).
    threshold: Fraction = 0.3
    oos_threshold: Fraction = 0.2
    margin: Fraction = 0.05
    # Below this the FAQ response selector gives no answer key (intent_response_key None).
    faq_threshold: Fraction = 0.3
    max_chars: Count = 1000
    # A ticket intent (repair, complaint, order, payment) below this confidence is not acted
    # on: the parse says `nlu_fallback` (clarify) so that small talk opens no ticket. Tuned on
    # held-out data (tests/nlu/external/chatterbot_dev.tsv), never on the training set.
    ticket_threshold: Fraction = 0.5
    # The emergency detector emits an `emergency` entity at or above this probability.
    emergency_threshold: Fraction = 0.5


class DialogueSettings(Section):
    max_form_retries: int = Field(default=3, ge=1, le=100)
    max_message_chars: Count = 1000
    fallbacks_before_human: int = Field(default=2, ge=1, le=100)
    # A form left unanswered this long is dropped when the user writes about something else.
    form_timeout: timedelta = timedelta(hours=12)

    @field_validator("form_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


# --- SLA: calendars, policies, follow-ups (issue 5; used by bot.sla and bot.followups) ---------

_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _parse_hhmm_range(value: str) -> tuple[int, int]:
    """``"08:30-18:00"`` -> minutes since midnight (start, end); end may be 24:00."""
    match = _HOURS.match(value)
    if not match:
        raise ValueError(f"not an interval: {value!r} (use e.g. 08:30-18:00)")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if m1 > 59 or m2 > 59 or start >= 24 * 60 or end > 24 * 60:
        raise ValueError(f"not a time of day in {value!r}")
    return start, end


def _expand_days(key: str) -> list[int]:
    """``mon``, ``mon-fri``, ``sat-sun`` or ``daily`` -> weekday numbers (Monday = 0)."""
    key = key.strip().lower()
    if key == "daily":
        return list(range(7))
    first, _, last = key.partition("-")
    if first not in _DAY_NAMES or (last and last not in _DAY_NAMES):
        raise ValueError(f"unknown day {key!r} (use mon..sun, a range like mon-fri, or daily)")
    a = _DAY_NAMES.index(first)
    b = _DAY_NAMES.index(last) if last else a
    return [(a + i) % 7 for i in range((b - a) % 7 + 1)]


class CalendarSettings(Section):
    """A business calendar: weekly opening hours, public holidays and explicit exceptions."""

    # Day (mon..sun, a range like mon-fri, or daily) -> intervals "HH:MM-HH:MM", several per
    # day allowed; an end not after the start runs past midnight ("22:00-06:00");
    # "00:00-24:00" is the whole day.
    hours: dict[str, list[str]] = Field(default_factory=dict)
    holidays: Literal["HK", "CN", "TW", "none"] = "none"
    # Dates closed all day / open although a holiday or weekend (with `workday_hours`' hours).
    extra_closed: list[date] = Field(default_factory=list)
    extra_open: list[date] = Field(default_factory=list)
    # Hours used on adjusted working days (調休, e.g. a Saturday worked in CN) and `extra_open`.
    workday_hours: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    timezone: str | None = Field(default=None, description="Defaults to the top-level timezone.")
    always_open: bool = False

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for key, intervals in value.items():
            _expand_days(key)
            for interval in intervals:
                _parse_hhmm_range(interval)
        return value

    @field_validator("timezone")
    @classmethod
    def _valid_calendar_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    def weekly(self) -> dict[int, list[tuple[int, int]]]:
        """Weekday (Monday = 0) -> sorted (start, end) minutes; later keys override earlier."""
        out: dict[int, list[tuple[int, int]]] = {}
        for key, intervals in self.hours.items():
            for day in _expand_days(key):
                out[day] = sorted(_parse_hhmm_range(i) for i in intervals)
        return out


def _default_calendars() -> dict[str, CalendarSettings]:
    return {
        # The reception promise: Mon–Fri 08:30–18:00, Sat–Sun 09:00–17:00, closed on holidays.
        "office": CalendarSettings(
            hours={"mon-fri": ["08:30-18:00"], "sat-sun": ["09:00-17:00"]}, holidays="HK"
        ),
    }


class DeadlineRule(Section):
    """One promise: ``within`` a duration of ``business`` time on ``calendar``, or wall time."""

    within: timedelta
    time: Literal["business", "calendar"] = "business"
    calendar: str = "office"

    @field_validator("within", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class PolicyMatch(Section):
    """Which tickets a policy applies to; an empty list (or missing key) matches anything."""

    kind: list[str] = Field(default_factory=list)
    category: list[str] = Field(default_factory=list)
    priority: list[str] = Field(default_factory=list)

    @field_validator("kind", "category", "priority", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_list(value)


class SLAPolicy(Section):
    """Deadlines for matching tickets. For each deadline the first matching policy that sets it
    wins, so an `urgent` policy can set first response/resolution while call-back comes from the
    category policy below it."""

    name: str
    match: PolicyMatch = PolicyMatch()
    first_response: DeadlineRule | None = None
    resolution: DeadlineRule | None = None
    callback: DeadlineRule | None = None
    # Alert on-duty staff as soon as such a ticket opens (emergencies).
    alert_on_open: bool = False


def _default_policies() -> list[SLAPolicy]:
    r = DeadlineRule.model_validate
    return [
        SLAPolicy(
            name="emergency",
            match=PolicyMatch(priority=["urgent"]),
            first_response=r({"within": "15m", "time": "business", "calendar": "24x7"}),
            resolution=r({"within": "4h", "time": "business", "calendar": "24x7"}),
            alert_on_open=True,
        ),
        SLAPolicy(
            name="complaint",
            match=PolicyMatch(kind=["complaint"]),
            first_response=r({"within": "72h", "time": "calendar"}),
        ),
        SLAPolicy(
            name="repair-safety",
            match=PolicyMatch(kind=["repair"], category=["safety"]),
            callback=r({"within": "2d", "time": "calendar"}),
        ),
        SLAPolicy(
            name="repair-water-leak",
            match=PolicyMatch(kind=["repair"], category=["water_leak"]),
            callback=r({"within": "3d", "time": "calendar"}),
        ),
        SLAPolicy(
            name="repair",
            match=PolicyMatch(kind=["repair"]),
            callback=r({"within": "7d", "time": "calendar"}),
        ),
        SLAPolicy(
            name="default",
            first_response=r({"within": "2h", "time": "business", "calendar": "office"}),
            resolution=r({"within": "3d", "time": "calendar"}),
        ),
    ]


class SLASettings(Section):
    """Service-level promises and the follow-up machinery that keeps them."""

    policies: list[SLAPolicy] = Field(default_factory=_default_policies)
    # Call-back survey: sent this long after resolution (inside the call-back window).
    survey_delay: timedelta = timedelta(hours=2)
    survey_reminder_delay: timedelta = timedelta(hours=24)
    # No messages to residents in these local hours ("21:00-09:00"; empty = none); not urgent ones.
    quiet_hours: str = "21:00-09:00"
    # Pre-breach warnings at these fractions of each deadline's span.
    warn_at: list[float] = Field(default_factory=lambda: [0.75])
    # A problem found at call-back -> rework order with this deadline.
    rework: DeadlineRule = DeadlineRule(within=timedelta(hours=24), time="calendar")
    # A survey score at or below this (or "not fixed") reopens the ticket for rework.
    rework_score: int = Field(default=2, ge=0, le=5)
    # Follow-up workers: how often they wake, how long a claim is leased, batch size, retries.
    poll_interval: timedelta = timedelta(seconds=1)
    lease: timedelta = timedelta(seconds=60)
    batch_size: int = Field(default=100, ge=1)
    max_attempts: int = Field(default=5, ge=1)
    # Batches one worker process runs side by side (PostgreSQL; SQLite always 1).
    worker_concurrency: int = Field(default=4, ge=1)

    @field_validator(
        "survey_delay", "survey_reminder_delay", "poll_interval", "lease", mode="before"
    )
    @classmethod
    def _durations(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _valid_quiet_hours(cls, value: Any) -> str:
        value = "" if value is None else str(value)  # `quiet_hours:` left empty means none
        if value.strip():
            _parse_hhmm_range(value)
        return value.strip() if value else ""

    @field_validator("warn_at")
    @classmethod
    def _valid_fractions(cls, value: list[float]) -> list[float]:
        if any(not 0 < f < 1 for f in value):
            raise ValueError("warn_at fractions must be between 0 and 1 (e.g. [0.75])")
        return sorted(set(value))


class OrderHTTPSettings(Section):
    """The shop backend's JSON API (``orders.source: http``).

    ``url_template`` gets ``{order_id}``; ``search_url_template`` (optional) gets ``{phone}`` and
    ``{email}`` for "my recent orders". Header values may name environment variables as
    ``${NAME}`` so secrets stay out of ``config.yml``. ``fields`` maps Kefu's field names to
    dotted paths in the backend's JSON; ``orders_path`` is where the list sits in a search reply.
    """

    url_template: str = ""
    search_url_template: str = ""
    headers: dict[str, str] = {}
    timeout: float = Field(default=5.0, gt=0, le=300)
    retries: int = Field(default=2, ge=0)
    backoff: float = Field(default=0.2, ge=0)
    fields: dict[str, str] = {}
    orders_path: str = "orders"


class OrdersSettings(Section):
    """Order look-ups: where orders come from and how ownership is checked."""

    source: Literal["table", "http"] = "table"
    max_challenge_failures: int = Field(default=3, ge=1)
    lockout: timedelta = timedelta(minutes=30)
    # Many contacts guessing one order's digits lock that order too.
    max_order_failures: int = Field(default=10, ge=1)
    max_lookups: int = Field(default=10, ge=1)
    lookup_window: timedelta = timedelta(hours=1)
    recent_limit: int = Field(default=5, ge=1)
    # Contacts have no e-mail verification yet; trust Contact.email only if a channel verifies it.
    trust_contact_email: bool = False
    http: OrderHTTPSettings = OrderHTTPSettings()

    @field_validator("lockout", "lookup_window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


class LateFeeSettings(Section):
    """Late fee: ``rate`` of the outstanding amount once ``grace_days`` past the due date;
    with ``monthly`` the rate applies again for every further 30 days, up to ``max_rate``."""

    rate: Fraction = 0.0
    grace_days: int = Field(default=30, ge=0)
    monthly: bool = False
    max_rate: Fraction | None = None


class FeesSettings(Section):
    currency: str = "HKD"
    late_fee: LateFeeSettings = LateFeeSettings()


# --- Telegram channel (issue 4; used by bot.channels.telegram) ---------------------------------


def _parse_size(value: Any) -> int:
    """``20MB``, ``512KB``, ``1GB`` or a number of bytes."""
    if isinstance(value, int):
        return value
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?B?)\s*$", str(value), re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {value!r} (use e.g. 20MB, 512KB)")
    unit = match.group(2).upper().rstrip("B")
    return int(float(match.group(1)) * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[unit])


class TelegramWebhookSettings(Section):
    """Webhook mode: where this process listens, and the public URL Telegram posts to."""

    listen: str = "127.0.0.1"
    port: ListenPort = 8443
    path: str = "/telegram"
    # Public HTTPS URL of `path` behind the reverse proxy; when empty this process does not
    # call setWebhook (another worker or the operator registers it).
    public_url: str | None = None
    max_connections: int = Field(default=40, ge=1, le=100)  # Telegram's own limits


class TelegramRateLimitSettings(Section):
    """Outbound limits: Telegram allows ~1 message/s per chat, 30/s per bot, 20/min per group."""

    per_second: float = Field(default=30, ge=0)  # whole bot; 0 turns a limit off
    per_chat_per_second: float = Field(default=1, ge=0)
    per_chat_burst: Count = 3  # short bursts in one private chat are fine
    group_per_minute: float = Field(default=20, ge=0)
    max_retries: int = Field(default=5, ge=0, le=100)  # on 429 and on network errors
    network_backoff: float = Field(default=0.5, ge=0, le=60)  # first network retry; doubles


class TelegramSettings(Section):
    """The Telegram channel. The bot token and webhook secret come from the environment only
    (TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET)."""

    mode: Literal["polling", "webhook"] = "polling"
    # Another Bot API server (self-hosted telegram-bot-api, a test server), e.g.
    # http://127.0.0.1:8081/bot; env KEFU_TELEGRAM_BASE_URL.
    base_url: str | None = None
    base_file_url: str | None = None  # default: base_url with /bot -> /file/bot
    webhook: TelegramWebhookSettings = TelegramWebhookSettings()
    media_dir: Path | None = None  # default: <var_dir>/media
    max_file_size: Count = 20 * 1024 * 1024  # bytes, or "10MB"
    poll_timeout: int = Field(default=30, ge=0, le=600)  # seconds of getUpdates long polling
    # Seconds to wait for the Bot API's answer; a message answered later is not sent again.
    read_timeout: float = Field(default=5.0, gt=0, le=600)
    concurrency: Count = 64  # updates processed at once (different chats; one chat is in order)
    rate_limit: TelegramRateLimitSettings = TelegramRateLimitSettings()
    # Polling mode: GET /healthz and Prometheus /metrics on this address (0 or empty: off).
    # Webhook mode serves them on the webhook server instead.
    metrics_listen: str = "127.0.0.1"
    metrics_port: int | None = Field(default=9108, ge=0, le=65535)
    # Command menu language per Telegram language_code ("" = everyone else). Telegram matches
    # two-letter codes only, so zh-Hant and zh-Hans cannot both follow the client language.
    command_languages: dict[str, Language] | None = None

    @field_validator("max_file_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return _parse_size(value)


# --- Human takeover: agent groups in Telegram (issue 6; used by bot.agents) ----------------------


class AgentRoutes(Section):
    """Which escalations go to a group: by intent (ticket kind) and/or category; empty = none."""

    intents: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)

    @field_validator("intents", "categories", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _as_list(value)


class AgentGroupSettings(Section):
    """A Telegram supergroup with topics where agents answer escalated chats."""

    name: str
    chat_id: int
    routes: AgentRoutes = AgentRoutes()


class AgentsSettings(Section):
    """Human takeover: who gets escalations, what triggers them, and claim timing."""

    groups: list[AgentGroupSettings] = Field(default_factory=list)
    # A single group for everything not routed elsewhere (env KEFU_AGENT_GROUP_ID).
    default_group_id: int | None = None
    # Language of the agent-facing texts (cards, notices); empty = default_language.
    language: Language | None = None
    # Tickets of these kinds go to an agent as soon as they are opened.
    escalate_intents: list[str] = Field(default_factory=lambda: ["complaint"])
    # Urgent (emergency) tickets go to an agent at once.
    escalate_urgent: bool = True
    # After `dialogue.fallbacks_before_human` misunderstandings: escalate instead of offering.
    escalate_on_fallback: bool = False
    # A call-back survey scored at or below this escalates (0 = never).
    escalate_survey_score: int = Field(default=2, ge=0, le=5)
    # Agents' working hours (a calendar name); out of hours the customer is told when they
    # are back. Urgent tickets are handled 24x7.
    calendar: str = "office"
    # Nobody claimed: reminder in the group at the ticket's first-response deadline (or this
    # long after escalation without a ticket), then the supervisors this much later.
    claim_reminder: timedelta = timedelta(minutes=15)
    supervisor_after: timedelta = timedelta(minutes=15)
    # A claimed chat whose customer has waited this long for an agent's answer goes back to
    # the queue (supervisors told); 0 = never.
    claim_idle_timeout: timedelta = timedelta(minutes=30)
    # Relay to the group: Telegram allows ~20 messages/min per group, shared by its topics.
    group_per_minute: int = Field(default=20, ge=1)
    # Customer messages arriving within this window are posted as one message.
    coalesce_window: timedelta = timedelta(seconds=3)
    # A post later than this says how late it is.
    show_delay_after: timedelta = timedelta(seconds=30)
    relay_poll: timedelta = timedelta(seconds=1)
    # Messages shown on the card.
    card_messages: int = Field(default=6, ge=0)

    @field_validator(
        "claim_reminder",
        "supervisor_after",
        "claim_idle_timeout",
        "coalesce_window",
        "show_delay_after",
        "relay_poll",
        mode="before",
    )
    @classmethod
    def _durations(cls, value: Any) -> timedelta:
        return parse_duration(value)

    @field_validator("escalate_intents", mode="before")
    @classmethod
    def _intents(cls, value: Any) -> Any:
        return _as_list(value) if value is not None else []

    def all_groups(self) -> list[AgentGroupSettings]:
        """The configured groups, plus the default group (if set and not listed)."""
        groups = list(self.groups)
        if self.default_group_id is not None and all(
            g.chat_id != self.default_group_id for g in groups
        ):
            groups.append(AgentGroupSettings(name="default", chat_id=self.default_group_id))
        return groups

    def route(self, intent: str | None, category: str | None) -> AgentGroupSettings | None:
        """The group for an escalation: first matching route, else the default/first group."""
        groups = self.all_groups()
        for group in groups:
            r = group.routes
            if (
                (r.intents or r.categories)
                and (not r.intents or intent in r.intents)
                and (not r.categories or category in r.categories)
            ):
                return group
        for group in groups:
            if group.chat_id == self.default_group_id:
                return group
        return groups[0] if groups else None


class ActionsSettings(Section):
    """``kefu actions serve``: the Rasa action server, run only beside a real Rasa."""

    # Loopback by default: the server sits next to Rasa, never on a public address.
    host: str = "127.0.0.1"
    port: int = Field(default=5055, ge=1, le=65535)
    # Rasa's ``action_endpoint.token`` (sent as ``?token=``); a secret, so set it in the
    # environment (KEFU_ACTIONS_TOKEN). The server refuses to start without one.
    token: str | None = None


class Settings(Section):
    """All of Kefu's settings. Sections are added here as features land."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    timezone: str = "Asia/Hong_Kong"
    default_language: Language = "zh-Hant"
    default_region: str = Field(default="HK", description="Phone number region for local numbers.")
    dialogues_dir: Path = Path("dialogues")
    models_dir: Path = Path("models")
    var_dir: Path = Path("var")
    database: DatabaseSettings = DatabaseSettings()
    nlu: NLUSettings = NLUSettings()
    dialogue: DialogueSettings = DialogueSettings()
    telegram: TelegramSettings = TelegramSettings()
    agents: AgentsSettings = AgentsSettings()
    orders: OrdersSettings = OrdersSettings()
    fees: FeesSettings = FeesSettings()
    actions: ActionsSettings = ActionsSettings()
    log_level: str = "INFO"
    # Business calendars by name; "24x7" is built in. See bot.sla.
    calendars: dict[str, CalendarSettings] = Field(default_factory=_default_calendars)
    sla: SLASettings = SLASettings()

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _sla_calendars_exist(self) -> Settings:
        known = set(self.calendars) | {"24x7"}
        rules = [("sla.rework", self.sla.rework)]
        for i, policy in enumerate(self.sla.policies):
            for which in ("first_response", "resolution", "callback"):
                rule = getattr(policy, which)
                if rule is not None:
                    rules.append((f"sla.policies.{i}.{which}", rule))
        for key, rule in rules:
            if rule.time == "business" and rule.calendar not in known:
                raise ValueError(f"{key}.calendar: unknown calendar {rule.calendar!r}")
        return self

    @model_validator(mode="after")
    def _agents_calendar_exists(self) -> Settings:
        if self.agents.calendar not in set(self.calendars) | {"24x7"}:
            raise ValueError(f"agents.calendar: unknown calendar {self.agents.calendar!r}")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config: file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"config: {path}{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config: {path}: top level must be a mapping of keys")
    return data


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


_SHORT_ENV = {
    "KEFU_CONFIG",
    "KEFU_DATABASE_URL",
    "KEFU_TELEGRAM_BASE_URL",
    "KEFU_AGENT_GROUP_ID",
    "KEFU_ACTIONS_TOKEN",
}


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """Nested keys from ``KEFU_A__B=value``; pydantic parses the strings."""
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("KEFU_") or name in _SHORT_ENV:
            continue
        if name.startswith("KEFU_TEST_"):
            continue
        path = name[len("KEFU_") :].lower().split("__")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = _maybe_yaml(value)
    if environ.get("KEFU_DATABASE_URL"):
        out.setdefault("database", {})["url"] = environ["KEFU_DATABASE_URL"]
    if environ.get("KEFU_TELEGRAM_BASE_URL"):
        out.setdefault("telegram", {})["base_url"] = environ["KEFU_TELEGRAM_BASE_URL"]
    if environ.get("KEFU_ACTIONS_TOKEN"):
        out.setdefault("actions", {})["token"] = environ["KEFU_ACTIONS_TOKEN"]
    if environ.get("KEFU_AGENT_GROUP_ID"):
        out.setdefault("agents", {})["default_group_id"] = environ["KEFU_AGENT_GROUP_ID"]
    return out


def _maybe_yaml(value: str) -> Any:
    """Let ``[0.5, 0.75]`` or ``{a: 1}`` in the environment mean a list or a mapping."""
    if value[:1] in "[{":
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    return value


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    return f"config: {key}: {message}"


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Load ``config.yml`` (or ``path``/``KEFU_CONFIG``), apply environment overrides, validate.

    Raises :class:`ConfigError` with one line naming the offending key.
    """
    env = dict(os.environ if environ is None else environ)
    config_path = Path(path or env.get("KEFU_CONFIG") or DEFAULT_CONFIG_PATH)
    explicit = path is not None or "KEFU_CONFIG" in env
    data: dict[str, Any] = {}
    if config_path.exists() or explicit:
        data = _read_yaml(config_path)
    data = _merge(data, _env_overrides(env))
    data = _merge(data, overrides)
    base_dir = config_path.resolve().parent
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    for attr in ("dialogues_dir", "models_dir", "var_dir"):
        value = getattr(settings, attr)
        if not value.is_absolute():
            setattr(settings, attr, base_dir / value)
    settings.database.url = _absolute_sqlite_url(settings.database.url, base_dir)
    return settings


def _absolute_sqlite_url(url: str, base_dir: Path) -> str:
    """Resolve a relative SQLite path against the config file's folder, not the cwd."""
    for prefix in ("sqlite:///", "sqlite+aiosqlite:///"):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            if rest and rest != ":memory:" and not rest.startswith("/"):
                return prefix + str(base_dir / rest)
    return url
