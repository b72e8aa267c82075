"""Typed answers to button questions: one resolver for every question asked with buttons.

People type where buttons are offered: 「不用匿名」, "Use my name", 「未解決」, "2", "yes".
A typed answer that names a button is that button pressed, whatever the form: the resolver finds
the button from its titles in all three languages (the responses), the synonyms and the yes/no
words in ``dialogues/choices.yml``, or its number. The longest match wins; a negation in front
(「唔使匿名」, "don't stay anonymous") points to the other button of a two-way question, or to none.
A message that names no button is left to the NLU and the slot mappings, except the title of a
button offered elsewhere (「確認提交」 where a visit time is asked): that is not an answer here,
so it is not stored as one and the question is asked again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from bot.dialogue.payloads import parse_payload, to_entities
from bot.dialogue.responses import Responses
from bot.nlu.normalize import normalize

LANGUAGES = ("zh-Hant", "zh-Hans", "en")
MAX_LEFTOVER = 4  # characters a message may hold besides the choice ("啦", "please")
_PUNCTUATION = re.compile(r"[^\w'𨋢]+")
_LABEL_PARTS = re.compile(r"\s*(?:／|/|&|及)\s*")
_LEADING_NUMBER = re.compile(r"^\d+\s+")
_NUMBERS = re.compile(r"[0-9一二三四五六七八九十两半]")
_CJK_NUMBERS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8}


def fold(text: str) -> str:
    """Lower case, Simplified characters, punctuation as single spaces."""
    return " ".join(_PUNCTUATION.sub(" ", normalize(text)).split())


@dataclass(frozen=True, slots=True)
class Option:
    """One button of a question: what pressing it sends, and the words that name it."""

    payload: str
    number: int
    phrases: tuple[str, ...]
    answer: str | None  # "affirm" or "deny" for the two buttons of a yes/no question


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a typed message means for the buttons on offer.

    ``payload`` is the button it presses. Without one, ``refused`` says it named a button but
    not which to press (「唔好取消」), and ``elsewhere`` that it is the title of a button not on
    offer now; either way it is no answer to this question.
    """

    payload: str | None = None
    refused: bool = False
    elsewhere: bool = False


@dataclass(frozen=True, slots=True)
class _Hit:
    start: int
    end: int
    option: Option
    negated: bool


class ChoiceResolver:
    """Resolves typed answers against the buttons of a response (see the module docstring)."""

    def __init__(self, responses: Responses, names: list[str], data: dict[str, Any]) -> None:
        self.responses = responses
        self._names = names
        self._synonyms = {
            str(payload): [fold(str(s)) for s in (spec or {}).get("synonyms") or []]
            for payload, spec in (data.get("choices") or {}).items()
        }
        self._answers = {
            str(payload): (spec or {}).get("answer")
            for payload, spec in (data.get("choices") or {}).items()
        }
        self._affirm = {fold(str(w)) for w in data.get("affirm_words") or []}
        self._deny = {fold(str(w)) for w in data.get("deny_words") or []}
        self._negations = sorted({fold(str(w)) for w in data.get("negations") or []}, key=len)[::-1]
        self._filler = sorted({fold(str(w)) for w in data.get("filler") or []}, key=len)[::-1]
        self._options: dict[str, list[Option]] = {}
        self._patterns: dict[str, re.Pattern[str]] = {}

    @classmethod
    def load(cls, dialogues_dir: Path, responses: Responses, names: list[str]) -> ChoiceResolver:
        """The resolver for ``dialogues/`` (``choices.yml`` is optional)."""
        path = Path(dialogues_dir) / "choices.yml"
        # libyaml's parser (CSafeLoader), as domain.py reads the other dialogue files: the pure
        # Python one took 0.15 s of every app start (and every test's app) for this one file.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        data = yaml.load(text, Loader=loader) if text else {}
        return cls(responses, names, data or {})

    # ------------------------------------------------------------------ the buttons

    def question(self, form: str | None, slot: str | None) -> str | None:
        """The response that asks ``slot`` of ``form`` (the form loop's own lookup)."""
        if not slot:
            return None
        for name in (f"utter_ask_{form}_{slot}", f"utter_ask_{slot}"):
            if name in self.responses:
                return name
        return None

    def options(self, response: str) -> list[Option]:
        """The buttons of ``response``, each with its titles in every language and synonyms."""
        if response in self._options:
            return self._options[response]
        order: list[str] = []
        titles: dict[str, set[str]] = {}
        for language in LANGUAGES:
            variation = self.responses.variation(response, language) or {}
            for button in variation.get("buttons") or []:
                payload = str(button.get("payload", ""))
                if payload not in titles:
                    order.append(payload)
                    titles[payload] = set()
                titles[payload].update(self._title_phrases(str(button.get("title", "")), language))
        options = [
            Option(
                payload=payload,
                number=number,
                phrases=tuple(sorted(titles[payload] | set(self._synonyms.get(payload, [])))),
                answer=self._answers.get(payload),
            )
            for number, payload in enumerate(order, 1)
        ]
        self._options[response] = options
        return options

    def _title_phrases(self, title: str, language: str) -> set[str]:
        if title.startswith("@"):
            title = self.responses.text(title[1:], language)
        whole = fold(title)
        phrases = {whole, fold(_LEADING_NUMBER.sub("", title))}
        parts = [fold(p) for p in _LABEL_PARTS.split(title)]
        phrases.update(p for p in parts if len(p) >= 2 and p != whole)
        return {p for p in phrases if p and not p.isdigit()}

    @cached_property
    def _all_titles(self) -> set[str]:
        """Every button title in the domain, folded: what "a label of another question" means."""
        titles: set[str] = set()
        for name in self._names:
            for language in LANGUAGES:
                variation = self.responses.variation(name, language) or {}
                for button in variation.get("buttons") or []:
                    title = str(button.get("title", ""))
                    if title.startswith("@"):
                        title = self.responses.text(title[1:], language)
                    titles.add(fold(title))
        return titles

    # ------------------------------------------------------------------ resolving

    def resolve(self, response: str | None, text: str) -> Resolution | None:
        """What ``text`` typed after ``response``'s buttons presses (``None``: not about them)."""
        options = self.options(response) if response else []
        if not options:
            return None
        folded = fold(text)
        if not folded:
            return None
        bare = self._strip_filler(folded)
        number = self._number(bare)
        if number is not None:
            if 1 <= number <= len(options):
                return Resolution(payload=options[number - 1].payload)
            return None
        hits = self._hits(folded, options)
        if hits:
            if not self._only_choice_words(folded, hits):
                return None
            return self._choose(hits, options)
        answer = (
            "affirm"
            if folded in self._affirm or bare in self._affirm
            else "deny"
            if folded in self._deny or bare in self._deny
            else None
        )
        if answer:
            chosen = [o for o in options if o.answer == answer]
            if len(chosen) == 1:
                return Resolution(payload=chosen[0].payload)
        if folded in self._all_titles or bare in self._all_titles:
            return Resolution(elsewhere=True)
        return None

    def _choose(self, hits: list[_Hit], options: list[Option]) -> Resolution:
        positive = [h for h in hits if not h.negated]
        if positive:
            longest = max(h.end - h.start for h in positive)
            best = {h.option.payload for h in positive if h.end - h.start == longest}
            if len(best) == 1:
                return Resolution(payload=best.pop())
            return Resolution(refused=True)  # two different buttons named as strongly
        refused = {h.option.payload for h in hits}
        if len(refused) == 1:
            (payload,) = refused
            other = self._other(payload, options)
            if other is not None:
                return Resolution(payload=other.payload)
        return Resolution(refused=True)

    def _other(self, payload: str, options: list[Option]) -> Option | None:
        """The other button of a two-way question (a yes/no pair, or just two buttons)."""
        answers = {o.answer: o for o in options if o.answer}
        mine = next(o for o in options if o.payload == payload)
        if mine.answer and set(answers) == {"affirm", "deny"}:
            return answers["deny" if mine.answer == "affirm" else "affirm"]
        if len(options) == 2:
            return next(o for o in options if o.payload != payload)
        return None

    def _hits(self, folded: str, options: list[Option]) -> list[_Hit]:
        found: list[_Hit] = []
        for option in options:
            for phrase in option.phrases:
                for match in self._pattern(phrase).finditer(folded):
                    found.append(_Hit(match.start(), match.end(), option, False))
        found.sort(key=lambda h: (h.start - h.end, h.start))
        kept: list[_Hit] = []
        for hit in found:  # longest first; a shorter match inside or across a longer one goes
            if any(hit.start < k.end and k.start < hit.end for k in kept):
                continue
            kept.append(hit)
        return [_Hit(h.start, h.end, h.option, self._negated(folded[: h.start])) for h in kept]

    def _pattern(self, phrase: str) -> re.Pattern[str]:
        pattern = self._patterns.get(phrase)
        if pattern is None:
            body = re.escape(phrase)
            if phrase[:1].isascii() and phrase[:1].isalnum():
                body = r"(?<![a-z0-9'])" + body
            if phrase[-1:].isascii() and phrase[-1:].isalnum():
                body += r"(?![a-z0-9'])"
            pattern = self._patterns[phrase] = re.compile(body)
        return pattern

    def _negated(self, before: str) -> bool:
        """Whether the words just before a match negate it (a few filler words may sit between)."""
        text = before.rstrip()
        for _ in range(4):
            if not text:
                return False
            for word in self._negations:
                if text.endswith(word) and (
                    not word[:1].isascii() or len(text) == len(word) or text[-len(word) - 1] == " "
                ):
                    return True
            shorter = self._strip_last_filler(text)
            if shorter == text:
                return False
            text = shorter
        return False

    def _strip_last_filler(self, text: str) -> str:
        for word in self._filler:
            if text.endswith(word) and (
                not word[:1].isascii() or len(text) == len(word) or text[-len(word) - 1] == " "
            ):
                return text[: -len(word)].rstrip()
        return text

    def _strip_filler(self, text: str) -> str:
        words = [w for w in text.split() if w not in self._filler]
        joined = " ".join(words)
        for word in self._filler:
            if not word.isascii():
                joined = joined.replace(word, "")
        return " ".join(joined.split())

    def _only_choice_words(self, folded: str, hits: list[_Hit]) -> bool:
        """Whether the message is just the choice: a longer sentence (「聽日下晝三點」, a new
        complaint) is for the NLU, which may read a time or a request in it."""
        rest = list(folded)
        for hit in hits:
            rest[hit.start : hit.end] = [" "] * (hit.end - hit.start)
        leftover = " " + " ".join("".join(rest).split()) + " "
        for word in self._negations:
            leftover = _remove_word(leftover, word)
        leftover = self._strip_filler(leftover.strip())
        compact = leftover.replace(" ", "")
        return len(compact) <= MAX_LEFTOVER and not _NUMBERS.search(compact)

    @staticmethod
    def _number(bare: str) -> int | None:
        if bare.isdigit() and len(bare) <= 2:
            return int(bare)
        return _CJK_NUMBERS.get(bare)


def _remove_word(text: str, word: str) -> str:
    if word.isascii():
        return text.replace(f" {word} ", " ")
    return text.replace(word, "")


def press_typed_choice(
    parse: dict[str, Any], resolution: Resolution | None, known_intents: set[str]
) -> None:
    """Make ``parse`` say what the typed answer means, as if its button had been pressed.

    The NLU's language and entities of an emergency stay; only the intent and entities change
    (for a pressed button), or the intent alone (a button named but refused: not a new intent
    such as ``cancel``), or the text is withheld from ``from_text`` slots (another question's
    button title is not an answer to this one).
    """
    if resolution is None or any(e.get("entity") == "emergency" for e in parse["entities"]):
        return
    if resolution.payload is not None:
        pressed = parse_payload(resolution.payload, known_intents)
        if pressed is None or not pressed.known:
            return
        parse["intent"] = {"name": pressed.intent, "confidence": 1.0}
        parse["intent_ranking"] = [parse["intent"]]
        parse["entities"] = to_entities(pressed.entities)
        parse["typed_choice"] = resolution.payload
    elif resolution.refused:
        parse["intent"] = {"name": "inform", "confidence": 1.0}
        parse["intent_ranking"] = [parse["intent"]]
    elif resolution.elsewhere:
        parse["text"] = ""
