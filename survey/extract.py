"""Babel extractor for the questionnaire: its texts become msgids of the catalogs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml

from survey.model import parse_questionnaire


def extract_questionnaire(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, None, str, list[str]]]:
    """Yield every translatable text of questionnaire.yaml (see babel.cfg)."""
    questionnaire = parse_questionnaire(yaml.safe_load(fileobj.read().decode("utf-8")))
    for message in questionnaire.msgids():
        yield 0, None, message, ["questionnaire.yaml"]
