"""`python -m bot chat`: a person reads and answers the survey in the terminal, in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.i18n import I18n
from survey.model import load_questionnaire
from tests.conftest import python_m_bot

pytestmark = pytest.mark.slow


def test_chat_in_the_terminal_shows_questions_and_numbered_buttons(tmp_path: Path) -> None:
    """Typed lines go to the bot, numbers press buttons, /language switches, :lang changes Telegram's."""
    lines = [
        "/start",
        "1",
        "34",
        "2",
        "/language",
        "1",
        ":lang en",
        ":sticker",
        "/help",
        ":quit",
        "/never-sent",
    ]
    result = python_m_bot("chat", "--language", "ru", cwd=tmp_path, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    i18n, questionnaire = I18n.load(), load_questionnaire()
    ru, kk = i18n.translator("ru"), i18n.translator("kk")
    age, gender, city = (questionnaire[q] for q in ("age", "gender", "city"))
    assert f"[1] {ru('I agree')}" in out and f"[2] {ru('No, thanks')}" in out
    assert ru(age.text) in out and ru(gender.text) in out
    assert f"(you pressed: {ru('Male')})" in out
    kazakh = out.index(f"(you pressed: {kk('Kazakh')})")
    assert kk(city.text) in out[kazakh:], "the current question is shown again in Kazakh"
    assert f"[1] {kk('Almaty')}" in out[kazakh:]
    assert "(your Telegram app's language is now en)" in out
    assert kk("Please answer with the buttons below the question.") in out[kazakh:]
    assert "/help" in out.split("(your Telegram app's language is now en)")[1]
    assert out.rstrip().endswith("bye")
    assert (tmp_path / "sandbox" / "chat.sqlite3").exists()
