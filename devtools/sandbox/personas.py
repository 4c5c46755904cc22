"""Simulated respondents: plausible, varied answers and a share of the mistakes real people make.

The answers follow the questionnaire's background (questionnaire.md): older people and those
whose main source is Russian TV lean pro-Russia; young, urban people and readers of
international media and Telegram lean pro-Ukraine; many want peace and back the government's
neutrality. The figures are invented for testing the software, not estimates of anything.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from survey.model import SKIP

CITIES = {
    "almaty": 20,
    "astana": 14,
    "shymkent": 10,
    "karaganda": 6,
    "aktobe": 5,
    "taraz": 4,
    "pavlodar": 4,
    "oskemen": 4,
    "semey": 3,
    "kostanay": 3,
    "atyrau": 3,
    "aktau": 3,
    "other_city": 5,
    "village": 12,
    "abroad": 2,
    SKIP: 2,
}
BIG_CITIES = frozenset({"almaty", "astana", "shymkent", "karaganda"})
OTHER_CITIES = ("Жаңаөзен", "Екібастұз", "Petropavl", "Кызылорда", "Темиртау", "Талдықорған")
WORDS_AGE = 25
AGE_IN_WORDS = {"ru": "двадцать пять", "kk": "жиырма бес"}
YEARS = {"ru": "{age} лет", "kk": "{age} жаста"}
NOT_A_BUTTON = {"ru": "не знаю", "kk": "білмеймін"}
COMMENTS = {
    "ru": (
        "Хочу, чтобы война скорее закончилась.",
        "Спасибо за опрос.",
        "Жалко простых людей с обеих сторон.",
    ),
    "kk": ("Соғыс тезірек тоқтасын.", "Сауалнамаға рахмет.", "Екі жақтағы қарапайым адамдарға обал."),
}


class Ending(StrEnum):
    """How a simulated respondent's visit ends."""

    COMPLETE = "complete"
    DECLINE = "decline"
    DELETE = "delete"
    ABANDON = "abandon"
    UNDER_AGE = "under_age"


class Mistake(StrEnum):
    """Things people do that the bot must cope with."""

    AGE_WITH_UNIT = "age_with_unit"
    AGE_IN_WORDS = "age_in_words"
    TEXT_FOR_BUTTON = "text_for_button"
    STICKER = "sticker"
    DOUBLE_TAP = "double_tap"
    SWITCH_LANGUAGE = "switch_language"
    CANCEL_RESTART = "cancel_restart"


MISTAKE_RATES = {
    Mistake.AGE_WITH_UNIT: 0.12,
    Mistake.AGE_IN_WORDS: 0.05,
    Mistake.TEXT_FOR_BUTTON: 0.06,
    Mistake.STICKER: 0.05,
    Mistake.DOUBLE_TAP: 0.08,
    Mistake.SWITCH_LANGUAGE: 0.06,
    Mistake.CANCEL_RESTART: 0.04,
}
ENDING_RATES = {
    Ending.COMPLETE: 0.88,
    Ending.DECLINE: 0.03,
    Ending.DELETE: 0.03,
    Ending.ABANDON: 0.03,
    Ending.UNDER_AGE: 0.03,
}
BUTTON_QUESTIONS = ("gender", "city", "stance", "neutrality")


@dataclass
class Persona:
    """One simulated person: who they are, what they will answer, what they will get wrong."""

    language: str
    telegram_language: str | None
    answers: dict[str, object]
    ending: Ending = Ending.COMPLETE
    mistakes: dict[Mistake, str] = field(default_factory=dict)
    abandon_at: str | None = None

    @property
    def age(self) -> int:
        return int(self.answers["age"])  # type: ignore[call-overload]


def _pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    codes = list(weights)
    return rng.choices(codes, [max(weights[c], 0.0) for c in codes])[0]


def _softmax_pick(rng: random.Random, scores: dict[str, float]) -> str:
    return _pick(rng, {code: math.exp(score) for code, score in scores.items()})


def _sources(rng: random.Random, age: int, urban: bool) -> list[str]:
    years = age - 18
    chance = {
        "ru_tv": 0.10 + 0.012 * years + (0.0 if urban else 0.1),
        "kz_tv": 0.25 + 0.005 * years,
        "kz_online": 0.35,
        "intl": 0.25 - 0.003 * years + (0.1 if urban else 0.0),
        "telegram": 0.60 - 0.008 * years,
        "social": 0.70 - 0.010 * years,
        "people": 0.30,
    }
    chosen = [code for code, p in chance.items() if rng.random() < p]
    return chosen or ["none"]


def _main_source(rng: random.Random, sources: list[str], age: int) -> str:
    old = age >= 45
    weight = {
        "ru_tv": 3.0 if old else 1.0,
        "kz_tv": 2.0 if old else 0.7,
        "telegram": 0.8 if old else 2.5,
        "social": 0.6 if old else 2.5,
        "intl": 1.2,
        "kz_online": 1.0,
        "people": 0.6,
    }
    return _pick(rng, {code: weight[code] for code in sources})


def _stance(
    rng: random.Random, age: int, urban: bool, sources: list[str], main: str | None, kin: list[str]
) -> str:
    years = age - 40
    russia = -1.2 + 0.045 * years + (1.8 if main == "ru_tv" else 0.5 if "ru_tv" in sources else 0.0)
    ukraine = 0.2 - 0.035 * years + (0.7 if main in ("intl", "telegram", "social") else 0.0)
    ukraine += (0.4 if urban else 0.0) + (0.8 if "ukraine" in kin else 0.0)
    return _softmax_pick(
        rng, {"russia": russia, "ukraine": ukraine, "peace": 0.6, "unsure": -0.2, SKIP: -2.5}
    )


NEUTRALITY = {
    "russia": {"support": 0.45, "more_russia": 0.4, "unsure": 0.1, SKIP: 0.05},
    "ukraine": {"support": 0.35, "more_ukraine": 0.5, "unsure": 0.1, SKIP: 0.05},
    "peace": {"support": 0.7, "more_ukraine": 0.08, "more_russia": 0.07, "unsure": 0.12, SKIP: 0.03},
    "unsure": {"support": 0.35, "unsure": 0.5, SKIP: 0.15},
    SKIP: {"support": 0.2, "unsure": 0.2, SKIP: 0.6},
}


def make_persona(rng: random.Random, ending: Ending | None = None) -> Persona:
    """A random respondent with correlated answers, an ending (random unless given) and some mistakes."""
    language = _pick(rng, {"kk": 0.45, "ru": 0.55})
    telegram_language = rng.choices(
        ["ru", "kk", "en", None], [0.7, 0.05, 0.15, 0.1] if language == "ru" else [0.35, 0.45, 0.1, 0.1]
    )[0]
    ending = ending or Ending(_pick(rng, {e.value: p for e, p in ENDING_RATES.items()}))
    age = (
        rng.randint(14, 17) if ending is Ending.UNDER_AGE else min(99, 18 + int(rng.gammavariate(2.0, 11.0)))
    )
    city = _pick(rng, CITIES)
    urban = city in BIG_CITIES
    answers: dict[str, object] = {
        "age": age,
        "gender": _pick(rng, {"female": 0.52, "male": 0.45, SKIP: 0.03}),
        "city": city,
    }
    if city == "other_city":
        answers["city_name"] = rng.choice(OTHER_CITIES)
    sources = [SKIP] if rng.random() < 0.02 else _sources(rng, age, urban)
    answers["sources"] = sources
    real_sources = [s for s in sources if s not in (SKIP, "none")]
    main = None
    if len(real_sources) >= 2:
        main = answers["main_source"] = _main_source(rng, real_sources, age)
    elif real_sources:
        main = real_sources[0]
    kin = [k for k, p in (("ukraine", 0.1), ("russia", 0.35), ("belarus", 0.03)) if rng.random() < p]
    answers["relatives"] = [SKIP] if rng.random() < 0.03 else kin or ["none"]
    answers["stance"] = stance = _stance(rng, age, urban, real_sources, main, kin)
    answers["neutrality"] = _pick(rng, NEUTRALITY[stance])
    answers["comment"] = rng.choice(COMMENTS[language]) if rng.random() < 0.25 else SKIP
    persona = Persona(language, telegram_language, answers, ending)
    for mistake, rate in MISTAKE_RATES.items():
        if rng.random() < rate:
            persona.mistakes[mistake] = rng.choice(BUTTON_QUESTIONS)
    if Mistake.AGE_IN_WORDS in persona.mistakes and ending is not Ending.UNDER_AGE:
        answers["age"] = WORDS_AGE
    if ending is Ending.ABANDON:
        persona.abandon_at = rng.choice(BUTTON_QUESTIONS)
    return persona


def straight_persona(rng: random.Random) -> Persona:
    """A respondent who answers every question once, without mistakes (for benchmarks)."""
    persona = make_persona(rng)
    persona.ending, persona.mistakes, persona.abandon_at = Ending.COMPLETE, {}, None
    if persona.age < 18:
        persona.answers["age"] = 18 + persona.age
    return persona
