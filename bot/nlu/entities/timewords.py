"""The words of dates and times: weekdays, months, relative days, parts of the day, and the
atoms (small patterns) a date/time expression is made of.
"""

from __future__ import annotations

import re

from bot.nlu.entities.common import CN_SMALL, alternation

WEEKDAYS_ZH = {
    "一": 0,
    "二": 1,
    "三": 2,
    "四": 3,
    "五": 4,
    "六": 5,
    "日": 6,
    "天": 6,
    "1": 0,
    "2": 1,
    "3": 2,
    "4": 3,
    "5": 4,
    "6": 5,
    "7": 6,
}
WEEKDAYS_EN = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tue": 1,
    "tues": 1,
    "wednesday": 2,
    "wed": 2,
    "thursday": 3,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
    "sunday": 6,
    "sun": 6,
}
MONTHS_EN = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
MONTH_RE = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
REL_DAYS = {
    "今天": 0,
    "今日": 0,
    "today": 0,
    "明天": 1,
    "明日": 1,
    "听日": 1,
    "tomorrow": 1,
    "tmr": 1,
    "tmrw": 1,
    "tomorow": 1,
    "后天": 2,
    "后日": 2,
    "day after tomorrow": 2,
    "the day after tomorrow": 2,
    "大后天": 3,
    "大后日": 3,
    "昨天": -1,
    "昨日": -1,
    "寻日": -1,
    "琴日": -1,
    "yesterday": -1,
}
# part of day -> (representative hour, meridiem: "am", "pm" or "noon")
PARTS = {
    "凌晨": (2, "am"),
    "清晨": (7, "am"),
    "早上": (9, "am"),
    "早晨": (9, "am"),
    "朝早": (9, "am"),
    "上午": (9, "am"),
    "上昼": (9, "am"),
    "中午": (12, "noon"),
    "晏昼": (14, "pm"),
    "下午": (14, "pm"),
    "下昼": (14, "pm"),
    "傍晚": (18, "pm"),
    "晚上": (19, "pm"),
    "夜晚": (20, "pm"),
    "夜里": (21, "pm"),
    "晚黑": (19, "pm"),
    "夜间": (21, "pm"),
    "morning": (9, "am"),
    "in the morning": (9, "am"),
    "afternoon": (14, "pm"),
    "in the afternoon": (14, "pm"),
    "evening": (19, "pm"),
    "in the evening": (19, "pm"),
    "night": (20, "pm"),
    "at night": (20, "pm"),
    "noon": (12, "noon"),
    "midday": (12, "noon"),
}
# day + part in one word
DAY_PARTS = {
    "今晚": (0, "晚上"),
    "明晚": (1, "晚上"),
    "听晚": (1, "晚上"),
    "今朝": (0, "早上"),
    "琴晚": (-1, "晚上"),
    "寻晚": (-1, "晚上"),
    "昨晚": (-1, "晚上"),
    "听朝": (1, "早上"),
    "明早": (1, "早上"),
    "tonight": (0, "evening"),
    "this morning": (0, "morning"),
    "this afternoon": (0, "afternoon"),
    "this evening": (0, "evening"),
}

DT_ATOMS: list[tuple[str, re.Pattern[str]]] = [
    ("daypart", re.compile(rf"(?<![a-z])({alternation(DAY_PARTS)})(?![a-z])")),
    ("rel", re.compile(rf"(?<![a-z])({alternation(REL_DAYS)})(?![a-z])")),
    ("weekday_zh", re.compile(r"(下下|下|这|今|本|上)?个?(?:周|星期|礼拜)([一二三四五六日天1-7])")),
    (
        "weekday_en",
        re.compile(
            r"(?<![a-z])(?:(next|this|coming)\s+)?(monday|tuesday|wednesday|thursday|friday|saturday"
            r"|sunday|tues?|thu(?:rs?)?|fri|mon|wed|sat|sun)\.?(?![a-z])"
        ),
    ),
    (
        "weekend",
        re.compile(r"(?:(?:(下|这|今|本)个?)?周末)|(?<![a-z])(?:(this|next)\s+)?weekend(?![a-z])"),
    ),
    (
        "date_zh",
        re.compile(
            rf"(?:(20\d\d)\s?年\s?)?(\d{{1,2}}|{CN_SMALL})\s?月\s?(\d{{1,2}}|{CN_SMALL})\s?(?:日|号)?"
        ),
    ),
    (
        "day_zh",
        # "3號" is a day unless it numbers something: 3號樓, 8號風球, 3號單位, 2號閘...
        re.compile(
            r"(?<![\d月#])(\d{1,2})\s?(?:号|日)"
            r"(?!楼|室|房|铺|座|门|单|栋|车|线|码|仔|风|球|闸|柜|机|台|店|仓|位|窗|场|馆|床|箱)"
        ),
    ),
    ("date_iso", re.compile(r"(?<!\d)(20\d\d)[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")),
    ("date_dm", re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?(?![\d/])")),
    (
        "date_en_dm",
        re.compile(rf"(?<![a-z\d])(\d{{1,2}})(?:st|nd|rd|th)?\s(?:of\s)?{MONTH_RE}(?![a-z])"),
    ),
    ("date_en_md", re.compile(rf"(?<![a-z]){MONTH_RE}\.?\s(\d{{1,2}})(?:st|nd|rd|th)?(?![a-z\d])")),
    ("part", re.compile(rf"(?<![a-z])({alternation(PARTS)})(?![a-z])")),
    (
        "time_zh",
        re.compile(
            rf"(\d{{1,2}}|{CN_SMALL})\s?(?:点钟|点|时)(?:\s?(半|一刻|三刻|(\d{{1,2}}|{CN_SMALL})\s?分?))?"
        ),
    ),
    (
        "time_en",
        re.compile(r"(?<![\d:])(?:at\s)?(\d{1,2})(?::(\d{2}))?\s?(am|pm|a\.m\.|p\.m\.)(?![a-z])"),
    ),
    ("time_colon", re.compile(r"(?<![\d:])(?:at\s)?(\d{1,2}):(\d{2})(?![\d:])")),
    ("time_at", re.compile(r"(?<![a-z])at\s(\d{1,2})(?:\s?o'?clock)?(?![\d:a-z])")),
    ("time_oclock", re.compile(r"(?<![\d])(\d{1,2})\s?o'?clock")),
]
DT_GAP = re.compile(r"^[\s,，的]*(?:at|on|by|around|约|大约|左右)?[\s,，]*$")
DT_SLOTS = {
    "daypart": ("day", "part"),
    "rel": ("day",),
    "weekday_zh": ("day",),
    "weekday_en": ("day",),
    "weekend": ("day",),
    "date_zh": ("day",),
    "day_zh": ("day",),
    "date_iso": ("day",),
    "date_dm": ("day",),
    "date_en_dm": ("day",),
    "date_en_md": ("day",),
    "part": ("part",),
    "time_zh": ("time",),
    "time_en": ("time",),
    "time_colon": ("time",),
    "time_at": ("time",),
    "time_oclock": ("time",),
}
