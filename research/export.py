"""The dataset for researchers' own tools: CSV, XLSX and SPSS .sav with labels, and a codebook.

One row per response; a column per question named by its code holding option codes, 0/1
columns `<question>_<option>` for multi-select questions, banded variables (`age_band`), paradata,
and the response's random id (never the respondent's pseudonym).

Times are exported as UTC dates (TIME_FORMAT): to the second they would match Telegram's message
times and the bot's log; durations stay in seconds. Text a spreadsheet would run as a formula is
made inert in CSV and XLSX (`inert`); the .sav file keeps text as typed.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.i18n import N_
from db.export import ResponseRecord, response_records
from research.labels import Labels
from research.report import STATUS_NAMES
from survey.analysis import analysis_value
from survey.flow import label_of
from survey.model import Kind, Questionnaire

CSV_ENCODING = "utf-8-sig"
"""UTF-8 with a byte-order mark, so that spreadsheet programs read Cyrillic correctly."""
TIME_FORMAT = "%Y-%m-%d"
"""Exported times are coarsened to the UTC day."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP CSV injection)."""
DATA_SHEET = "data"
CODEBOOK_SHEET = "codebook"
CODEBOOK_HEADER = ("variable", "label", "type", "question", "value", "value_label")
CHOSEN_LABELS = {0: N_("Not chosen"), 1: N_("Chosen")}


@dataclass(frozen=True)
class Variable:
    """One column of the dataset, with what a statistics package needs to know about it."""

    name: str
    label: str
    numeric: bool = False
    value_labels: dict[Any, str] = field(default_factory=dict)
    question: str = ""


@dataclass
class Table:
    """The dataset held column by column."""

    variables: list[Variable]
    columns: dict[str, list[Any]]

    @property
    def rows(self) -> int:
        return len(next(iter(self.columns.values()), []))


def variables(labels: Labels) -> list[Variable]:
    """The dataset's columns, in order, labelled in `labels`' language."""
    _, questionnaire = labels._, labels.questionnaire
    found = [
        Variable("response_id", _("Response ID (random, not linked to the respondent)")),
        Variable("questionnaire_version", _("Questionnaire version"), numeric=True),
        Variable("language", labels.variable("language"), value_labels=_value_labels(labels, "language")),
        Variable(
            "status", _("Status"), value_labels={status.value: _(n) for status, n in STATUS_NAMES.items()}
        ),
        Variable("started_at", _("Started (UTC)")),
        Variable("completed_at", _("Completed (UTC)")),
        Variable("duration_seconds", _("Time to complete, seconds"), numeric=True),
    ]
    for question in questionnaire:
        if question.randomize_except_last is not None:
            found.append(
                Variable(
                    f"{question.id}_order",
                    _("Order of the options shown: {question}", question=_(question.short)),
                )
            )
    for question in questionnaire:
        text = _(question.text)
        if question.kind is Kind.MULTI:
            for code in question.codes:
                found.append(
                    Variable(
                        f"{question.id}_{code}",
                        f"{_(question.short)}: {_(label_of(question, questionnaire, code))}",
                        numeric=True,
                        value_labels={value: _(label) for value, label in CHOSEN_LABELS.items()},
                        question=text,
                    )
                )
            continue
        numeric = question.kind is Kind.INTEGER
        value_labels = _value_labels(labels, question.id) if question.kind is Kind.SINGLE else {}
        found.append(Variable(question.id, _(question.short), numeric, value_labels, text))
        for band in _banded(questionnaire, question.id):
            found.append(Variable(band, labels.variable(band), value_labels=_value_labels(labels, band)))
    return found


def _banded(questionnaire: Questionnaire, question: str) -> list[str]:
    """The banded variable of an integer question (e.g. age_band of age), as a list of 0 or 1."""
    return [v.name for v in questionnaire.analysis.variables if v.question == question and v.bands]


def _value_labels(labels: Labels, name: str) -> dict[Any, str]:
    return {code: labels.value(name, code) for code in labels.codes(name)}


def _moment(value: datetime | None) -> str | None:
    if value is None:
        return None
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def record_values(record: ResponseRecord, labels: Labels) -> dict[str, Any]:
    """One response as a row: column name -> value (None: missing)."""
    row: dict[str, Any] = {
        "response_id": str(record.id),
        "questionnaire_version": record.questionnaire_version,
        "language": record.language,
        "status": record.status.value,
        "started_at": _moment(record.started_at),
        "completed_at": _moment(record.completed_at),
        "duration_seconds": record.duration_seconds,
    }
    for question_id, order in record.option_order.items():
        row[f"{question_id}_order"] = ",".join(order)
    for question in labels.questionnaire:
        value = record.answers.get(question.id)
        if question.kind is Kind.MULTI:
            for code in question.codes:
                row[f"{question.id}_{code}"] = None if value is None else int(code in value.choices)
        elif question.kind is Kind.INTEGER:
            row[question.id] = value.number if value else None
        elif question.kind is Kind.TEXT:
            row[question.id] = value.text if value else None
        else:
            row[question.id] = value.option if value else None
        for band in _banded(labels.questionnaire, question.id):
            row[band] = analysis_value(question.id, value) if value else None
    return row


async def collect(sessions: async_sessionmaker[AsyncSession], labels: Labels) -> Table:
    """Read every response from the database into a Table."""
    found = variables(labels)
    columns: dict[str, list[Any]] = {variable.name: [] for variable in found}
    async for chunk in response_records(sessions):
        for record in chunk:
            row = record_values(record, labels)
            for name, values in columns.items():
                values.append(row.get(name))
    return Table(found, columns)


def _rows(table: Table) -> Any:
    return zip(*(table.columns[v.name] for v in table.variables), strict=True)


def inert(value: Any) -> Any:
    """Text a spreadsheet would run (=, +, -, @, tab, CR first) behind an apostrophe, as OWASP advises."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _spreadsheet_rows(table: Table) -> Any:
    return ([inert(value) for value in row] for row in _rows(table))


def without_free_text(table: Table, questionnaire: Questionnaire) -> Table:
    """The table without the columns of typed free text (text questions)."""
    typed = {question.id for question in questionnaire if question.kind is Kind.TEXT}
    kept = [v for v in table.variables if v.name not in typed]
    return Table(kept, {v.name: table.columns[v.name] for v in kept})


def write_csv(table: Table, path: Path) -> None:
    """Comma-separated values with a header of column names; missing values are empty."""
    with path.open("w", encoding=CSV_ENCODING, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([v.name for v in table.variables])
        writer.writerows(_spreadsheet_rows(table))


def codebook_rows(table: Table) -> list[tuple[str, ...]]:
    """The codebook: a line per variable, then a line per labelled value."""
    lines: list[tuple[str, ...]] = []
    for v in table.variables:
        kind = "numeric" if v.numeric else "string"
        lines.append((v.name, v.label, kind, v.question, "", ""))
        lines += [(v.name, "", "", "", str(value), label) for value, label in v.value_labels.items()]
    return lines


def write_codebook(table: Table, path: Path) -> None:
    """The codebook as CSV."""
    with path.open("w", encoding=CSV_ENCODING, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CODEBOOK_HEADER)
        writer.writerows(codebook_rows(table))


def write_xlsx(table: Table, path: Path) -> None:
    """An Excel workbook: the data sheet and the codebook sheet."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    data = workbook.create_sheet(DATA_SHEET)
    data.append([v.name for v in table.variables])
    for row in _spreadsheet_rows(table):
        data.append(row)
    codebook = workbook.create_sheet(CODEBOOK_SHEET)
    codebook.append(list(CODEBOOK_HEADER))
    for line in codebook_rows(table):
        codebook.append(list(line))
    workbook.save(path)


def write_sav(table: Table, path: Path) -> None:
    """An SPSS file with variable labels and value labels."""
    import pandas as pd
    import pyreadstat

    frame = pd.DataFrame(
        {
            v.name: pd.array(table.columns[v.name], dtype="float64" if v.numeric else "object")
            for v in table.variables
        }
    )
    pyreadstat.write_sav(
        frame,
        str(path),
        column_labels={v.name: v.label for v in table.variables},
        variable_value_labels={v.name: v.value_labels for v in table.variables if v.value_labels},
    )


WRITERS: dict[str, Callable[[Table, Path], None]] = {"csv": write_csv, "xlsx": write_xlsx, "sav": write_sav}
"""Dataset formats by file extension."""
