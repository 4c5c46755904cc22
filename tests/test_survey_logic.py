"""The questionnaire file and flow logic, without Telegram or a database."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from survey.flow import (
    AnswerValue,
    InvalidAnswer,
    advance,
    available_options,
    clean_text,
    option_order,
    parse_integer,
    screens_out,
    toggle,
)
from survey.model import QUESTIONNAIRE_FILE, QuestionnaireError, load_questionnaire, parse_questionnaire

Q = load_questionnaire()


def _document() -> dict[str, Any]:
    return yaml.safe_load(QUESTIONNAIRE_FILE.read_text(encoding="utf-8"))


def test_questionnaire_matches_the_codes_of_questionnaire_md() -> None:
    """The codes are the public interface of the data: they must be exactly those documented."""
    assert [q.id for q in Q] == [
        "age", "gender", "city", "city_name", "sources", "main_source",
        "stance", "neutrality", "relatives", "comment",
    ]  # fmt: skip
    assert Q["gender"].codes == ("female", "male", "skip")
    assert Q["city"].codes == (
        "almaty", "astana", "shymkent", "karaganda", "aktobe", "taraz", "pavlodar", "oskemen", "semey",
        "kostanay", "atyrau", "aktau", "other_city", "village", "abroad", "skip",
    )  # fmt: skip
    assert Q["sources"].codes == (
        "ru_tv", "kz_tv", "kz_online", "intl", "telegram", "social", "people", "none", "skip",
    )  # fmt: skip
    assert Q["stance"].codes == ("russia", "ukraine", "peace", "unsure", "skip")
    assert Q["neutrality"].codes == ("support", "more_ukraine", "more_russia", "unsure", "skip")
    assert Q["relatives"].codes == ("ukraine", "russia", "belarus", "none", "skip")
    assert (Q["age"].minimum, Q["age"].maximum, Q["age"].screen_out_below) == (18, 99, 18)
    assert Q["comment"].max_length == 1000
    assert Q.version == 1


def _variables(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["analysis"]["variables"]


def _bands(document: dict[str, Any]) -> list[dict[str, Any]]:
    return _variables(document)[0]["bands"]


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d["questions"][5]["when"].update(question="nonexistent"), "unknown or later question"),
        (lambda d: d["questions"][3]["when"].update({"is": "mars"}), "unknown code 'mars'"),
        (
            lambda d: d["questions"][1]["options"].append({"code": "male", "label": "X"}),
            "duplicate option code",
        ),
        (lambda d: d["questions"].append(dict(d["questions"][0])), "duplicate question id"),
        (lambda d: d["questions"][1].update(type="slider"), "unknown type 'slider'"),
        (lambda d: d["questions"][1]["options"][0].pop("label"), "missing 'label'"),
        (lambda d: d["questions"][1]["options"][0].update(code="Bad Code"), "ASCII identifier"),
        (lambda d: d.update(version="one"), "version"),
        (lambda d: d["questions"][0].pop("max"), "needs `min` and `max`"),
        (lambda d: d.pop("analysis"), "analysis: expected a mapping"),
        (lambda d: _variables(d).append({"question": "mood"}), "variable 'mood': unknown question"),
        (
            lambda d: _variables(d).append({"question": "sources"}),
            "'sources': a multi question cannot be analysed",
        ),
        (lambda d: _variables(d).append({"question": "comment"}), "'comment': a text question cannot"),
        (lambda d: _variables(d)[0].pop("bands"), "'age'.bands: expected a non-empty list"),
        (
            lambda d: _variables(d)[1].update(bands=[{"code": "x", "min": 1}]),
            "'gender': a single question cannot be analysed",
        ),
        (lambda d: _bands(d)[1].update(min=29), "bands '18-29' and '30-39' overlap"),
        (lambda d: _bands(d)[0].update(max=None), "bands '18-29' and '30-39' overlap"),
        (lambda d: _bands(d)[1].update(min=40, max=30), "band '30-39'.*needs integer"),
        (lambda d: _bands(d)[1].update(code="18-29"), "must be distinct"),
        (lambda d: _variables(d)[0].update(column="gender"), "'gender' is named twice"),
        (lambda d: _variables(d)[0].update(column="language"), "'language' is named twice"),
        (lambda d: _variables(d)[0].update(column="age band"), "ASCII identifier"),
        (lambda d: d["analysis"]["aliases"].update(stance="neutrality"), "aliases.stance"),
        (lambda d: d["analysis"]["aliases"].update(mood="feelings"), "aliases.mood"),
        (lambda d: d["analysis"]["stats"].append("sources"), "analysis.stats: unknown variable 'sources'"),
        (lambda d: d["analysis"]["stats"].append("stance"), "stats: 'stance' is named twice"),
        (lambda d: d["analysis"]["digest"].update(outcome="age_band"), "outcome 'age_band' is not a single"),
        (
            lambda d: d["analysis"]["digest"]["shows"].append({"code": "mars", "word": "X"}),
            "'mars' is not an",
        ),
        (lambda d: d["analysis"]["digest"]["shows"][0].pop("word"), "missing 'word'"),
        (
            lambda d: d["analysis"]["digest"]["by"].append({"variable": "language", "heading": "X"}),
            "'language'",
        ),
        (
            lambda d: d["analysis"]["digest"]["by"][0].pop("group"),
            "'age_band': a banded variable needs a `group`",
        ),
        (
            lambda d: d["analysis"]["digest"]["by"][1].update(variable="stance"),
            "'stance' is the outcome itself",
        ),
    ],
)
def test_a_bad_questionnaire_is_refused_with_a_message_naming_it(mutate: Any, fragment: str) -> None:
    document = _document()
    mutate(document)
    with pytest.raises(QuestionnaireError, match=fragment.replace("(", r"\(").replace("+", r"\+")):
        parse_questionnaire(document)


def test_an_unreadable_file_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "q.yaml"
    broken.write_text("questions: [", encoding="utf-8")
    with pytest.raises(QuestionnaireError, match=r"q\.yaml"):
        load_questionnaire(broken)


@pytest.mark.parametrize(
    ("typed", "result"),
    [
        ("25", 25),
        (" 42 ", 42),
        ("18", 18),
        ("99", 99),
        ("17", 17),
        ("\u200b33\u200d", 33),
        ("двадцать", "not_a_number"),
        ("25 лет", "not_a_number"),
        ("25 жас", "not_a_number"),
        ("0", "out_of_range"),
        ("-5", "out_of_range"),
        ("150", "out_of_range"),
        ("100", "out_of_range"),
        ("1e3", "not_whole"),
        ("25.5", "not_whole"),
        ("25,5", "not_whole"),
        ("", "not_a_number"),
    ],
)
def test_age_parsing(typed: str, result: int | str) -> None:
    if isinstance(result, int):
        assert parse_integer(Q["age"], typed) == result
    else:
        with pytest.raises(InvalidAnswer) as caught:
            parse_integer(Q["age"], typed)
        assert caught.value.reason == result


def test_under_18_screens_out() -> None:
    assert screens_out(Q["age"], 17) and screens_out(Q["age"], 1)
    assert not screens_out(Q["age"], 18)


def test_main_source_is_asked_only_with_two_or_more_sources() -> None:
    base = {"age": AnswerValue(number=30), "city": AnswerValue(option="almaty")}
    two = advance(Q, {**base, "sources": AnswerValue(choices=("ru_tv", "intl"))}, "sources")
    assert two.next_question == "main_source" and not two.derived
    assert available_options(Q["main_source"], Q, {"sources": AnswerValue(choices=("ru_tv", "intl"))}) == [
        "ru_tv",
        "intl",
        "skip",
    ]
    one = advance(Q, {**base, "sources": AnswerValue(choices=("telegram",))}, "sources")
    assert one.next_question == "stance"
    assert one.derived == {"main_source": AnswerValue(option="telegram")}
    skipped = advance(Q, {**base, "sources": AnswerValue(choices=("skip",))}, "sources")
    assert skipped.next_question == "stance" and not skipped.derived


def test_city_name_only_after_other_city() -> None:
    assert advance(Q, {"city": AnswerValue(option="other_city")}, "city").next_question == "city_name"
    assert advance(Q, {"city": AnswerValue(option="almaty")}, "city").next_question == "sources"


def test_changing_an_answer_revisits_only_what_depends_on_it() -> None:
    answers = {
        "city": AnswerValue(option="almaty"),
        "city_name": AnswerValue(text="Zhanaozen"),
        "sources": AnswerValue(choices=("ru_tv", "intl")),
        "main_source": AnswerValue(option="intl"),
    }
    step = advance(Q, answers, "city", dependents_of="city")
    assert step.next_question is None and step.dropped == ("city_name",)
    step = advance(
        Q, {**answers, "sources": AnswerValue(choices=("kz_tv",))}, "sources", dependents_of="sources"
    )
    assert step.next_question is None and step.derived == {"main_source": AnswerValue(option="kz_tv")}


def test_exclusive_options_clear_the_others() -> None:
    sources = Q["sources"]
    assert toggle(sources, ("ru_tv",), "intl") == ("ru_tv", "intl")
    assert toggle(sources, ("ru_tv", "intl"), "none") == ("none",)
    assert toggle(sources, ("none",), "telegram") == ("telegram",)
    assert toggle(sources, ("ru_tv", "intl"), "ru_tv") == ("intl",)
    with pytest.raises(KeyError):
        toggle(sources, (), "mars")


def test_stance_order_is_random_but_keeps_the_last_two() -> None:
    orders = {tuple(option_order(Q, random.Random(seed))["stance"]) for seed in range(40)}
    assert len(orders) == 6
    assert all(order[-2:] == ("unsure", "skip") for order in orders)
    assert all(sorted(order[:3]) == ["peace", "russia", "ukraine"] for order in orders)


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("  hello  ", "hello"),
        ("a\u200bb\u200ec\u202e", "abc"),
        ("line1\nline2", "line1\nline2"),
        ("bell\x07 and\x00 nul", "bell and nul"),
        ("Жаңаөзен", "Жаңаөзен"),
    ],
)
def test_text_is_cleaned_of_invisible_characters(typed: str, kept: str) -> None:
    assert clean_text(typed, 100) == kept


def test_text_limits() -> None:
    with pytest.raises(InvalidAnswer) as caught:
        clean_text("x" * 1001, 1000)
    assert caught.value.reason == "too_long" and caught.value.details["length"] == 1001
    with pytest.raises(InvalidAnswer) as caught:
        clean_text("\u200b \u200d", 1000)
    assert caught.value.reason == "empty"
