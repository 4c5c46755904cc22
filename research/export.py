"""The dataset for researchers' own tools: CSV, XLSX and SPSS .sav with labels, and a codebook.

One row per response; a column per question named by its code holding option codes, 0/1
columns `<question>_<option>` for multi-select questions, banded variables (`age_band`), paradata,
and the response's random id (never the respondent's pseudonym).

Times are exported as UTC days, YYYY-MM-DD (db.export reads them so): to the second they would
match Telegram's message times and the bot's log; durations stay in seconds. Text a spreadsheet
would run as a formula is made inert in CSV and XLSX (`inert_row`); the .sav file keeps text as typed.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.i18n import N_, Translator
from db.export import response_rows
from db.models import ResponseStatus
from research.labels import Labels
from research.quality import Speeders, speeders
from research.report import STATUS_NAMES
from research.weights import Plan, Weighting
from research.weights import weighting as raking
from survey.flow import label_of
from survey.model import SKIP, Kind, Questionnaire

CSV_ENCODING = "utf-8-sig"
"""UTF-8 with a byte-order mark, so that spreadsheet programs read Cyrillic correctly."""
COMPLETE = ResponseStatus.COMPLETE.value
STATUS, DURATION = 3, 6
"""Where a row holds the response's status and duration_seconds (see variables())."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a cell as a formula (OWASP CSV injection)."""
FORMULA_FIRST = frozenset(FORMULA_STARTS)
"""The same, as a set of first characters (each is one), for a million rows' cells."""
XLSX_MAX_ROWS = 1_048_576
"""The rows of an Excel sheet, the header included: a larger dataset gets no XLSX file."""
TOO_MANY_ROWS = N_(
    "No XLSX file: {rows} responses do not fit in an Excel sheet (at most {limit} rows with the "
    "header). The CSV, SAV and DTA files hold them all."
)
DATA_SHEET = "data"
CODEBOOK_SHEET = "codebook"
CODEBOOK_HEADER = ("variable", "label", "type", "question", "value", "value_label", "sav_dta_code")
REFUSED = 99
"""The number of "Prefer not to answer" in .sav (declared user-missing)."""
STATA_REFUSED = "a"
"""Stata's extended missing value .a stands for "Prefer not to answer" in .dta."""
STATA_LABEL = 80
"""Stata's longest variable label."""
CHOSEN_LABELS = {0: N_("Not chosen"), 1: N_("Chosen")}
DERIVED_NOTE = N_(
    "Asked only of those who chose two or more sources; with one source chosen it is that one; "
    "someone who follows no news has none (I don't follow the news); empty when the sources "
    "question was skipped."
)
WEIGHT = "weight"
SPEEDER = "speeder"
REPEAT = "repeat"
REPEAT_EXPLAINED = N_(
    "1: started by someone who had erased a response of theirs (/delete) while it could still be "
    "erased (UNLINK_AFTER_DAYS); the earlier answers are gone, so this is that person's only response, "
    "and who they are is not kept. 0: anyone else, and every response started before the bot "
    "recorded repeats."
)
SPEEDER_EXPLAINED = N_(
    "1: completed in under {fraction} of the median time of completed responses (a speeder); "
    "0: completed in more; empty for responses not completed."
)
WEIGHT_EXPLAINED = N_(
    "Raking weight of a completed response: age band × sex and settlement (Almaty, Astana and "
    "Shymkent; other towns; rural) matched to Kazakhstan's adults (Bureau of National Statistics, "
    "survey/targets.yaml), trimmed at {cap} times the mean, mean 1 over completed responses. Someone "
    "who skipped age, gender or place, or lives abroad, is left out of that margin's adjustment. "
    "Empty for responses not completed."
)


@dataclass(frozen=True)
class Variable:
    """One column of the dataset, with what a statistics package needs to know about it."""

    name: str
    label: str
    numeric: bool = False
    value_labels: dict[Any, str] = field(default_factory=dict)
    question: str = ""
    scale: bool = False
    """A quantity (age, time, weight): a scale variable in SPSS, not a category."""


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
        Variable("duration_seconds", _("Time to complete, seconds"), numeric=True, scale=True),
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
        if question.options_from:
            text += " " + _(DERIVED_NOTE)
        numeric = question.kind is Kind.INTEGER
        value_labels = _value_labels(labels, question.id) if question.kind is Kind.SINGLE else {}
        if question.kind is Kind.TEXT and SKIP in question.codes:
            value_labels = {SKIP: labels.value(question.id, SKIP)}
        found.append(Variable(question.id, _(question.short), numeric, value_labels, text, scale=numeric))
        for band in questionnaire.analysis.bands_of(question.id):
            found.append(Variable(band, labels.variable(band), value_labels=_value_labels(labels, band)))
    return found


def _value_labels(labels: Labels, name: str) -> dict[Any, str]:
    return {code: labels.value(name, code) for code in labels.codes(name)}


def weight_variable(labels: Labels, plan: Plan) -> Variable:
    """The `weight` column and what the codebook says of it."""
    _ = labels._
    explained = _(WEIGHT_EXPLAINED, cap=format_decimal(plan.cap or 0, locale=labels.language))
    if plan.speeder_fraction is not None:
        explained += " " + _("Speeders are left out: their weight is empty.")
    if not plan.repeats:
        explained += " " + _("Repeats are left out: their weight is empty.")
    return Variable(
        WEIGHT, _("Weight (raking to population margins)"), numeric=True, question=explained, scale=True
    )


def quality_variables(labels: Labels, fraction: float) -> list[Variable]:
    """The quality flag columns and what the codebook says of them."""
    _ = labels._
    return [
        Variable(
            SPEEDER,
            _("Speeder"),
            numeric=True,
            value_labels={0: _("No"), 1: _("Yes")},
            question=_(
                SPEEDER_EXPLAINED, fraction=format_decimal(fraction, format="0.###", locale=labels.language)
            ),
        ),
        Variable(
            REPEAT,
            _("Repeat"),
            numeric=True,
            value_labels={0: _("No"), 1: _("Yes")},
            question=_(REPEAT_EXPLAINED),
        ),
    ]


class _Rows:
    """Makes a response's row from what db.export.response_rows returns: its values in the order of
    variables(), then the quality flags and, with a weighting, the weight. Built once per export,
    so that each of a million rows is cheap."""

    def __init__(self, width: int, fast: Speeders, weighting: Weighting | None) -> None:
        self.width = width
        """The values the database gives in the order of variables(); its repeat and keys follow."""
        self.fast = fast
        self.weighting = weighting

    def __call__(self, record: Sequence[Any]) -> list[Any]:
        width = self.width
        row = list(record[:width])
        complete = row[STATUS] == COMPLETE
        speeder = self.fast.flag(row[DURATION]) if complete else None
        repeat = int(record[width])
        row += (speeder, repeat)
        if self.weighting is not None:
            left_out = not complete or self.weighting.leaves_out(speeder, repeat)
            row.append(None if left_out else self.weighting.weight(tuple(record[width + 1 :])))
        return row


async def read(
    sessions: async_sessionmaker[AsyncSession],
    labels: Labels,
    plan: Plan | None = None,
    speeder_fraction: float = 1 / 3,
) -> tuple[list[Variable], AsyncIterator[list[list[Any]]]]:
    """The dataset's variables and its rows (values in the variables' order), streamed a partition
    at a time, with quality flags and, given a plan, a `weight` column (the weighting is read first)."""
    found = variables(labels)
    width = len(found)
    found += quality_variables(labels, speeder_fraction)
    weighting = None
    async with sessions.begin() as session:
        fast = await speeders(session, speeder_fraction)
        if plan is not None:
            weighting = await raking(session, plan)
            found.append(weight_variable(labels, plan))
    row_of = _Rows(width, fast, weighting)
    keys = weighting.targets.variables if weighting else ()

    async def rows() -> AsyncIterator[list[list[Any]]]:
        async for chunk in response_rows(sessions, labels.questionnaire, keys):
            yield [row_of(record) for record in chunk]

    return found, rows()


async def collect(
    sessions: async_sessionmaker[AsyncSession],
    labels: Labels,
    plan: Plan | None = None,
    speeder_fraction: float = 1 / 3,
) -> Table:
    """Read every response into a Table, with quality flags and, given a plan, a `weight` column."""
    found, chunks = await read(sessions, labels, plan, speeder_fraction)
    columns: list[list[Any]] = [[] for _ in found]
    async for rows in chunks:
        for row in rows:
            for values, value in zip(columns, row, strict=True):
                values.append(value)
    return Table(found, {variable.name: values for variable, values in zip(found, columns, strict=True)})


async def stream_csv(
    sessions: async_sessionmaker[AsyncSession],
    labels: Labels,
    path: Path,
    plan: Plan | None = None,
    speeder_fraction: float = 1 / 3,
    full: bool = True,
) -> tuple[list[Variable], int]:
    """Write the CSV that write_csv writes of collect()'s Table (of without_free_text's unless `full`),
    row by row as the database returns them, in constant memory; its variables and number of rows."""
    found, chunks = await read(sessions, labels, plan, speeder_fraction)
    kept = found if full else free_text_left_out(found, labels.questionnaire)
    at = [found.index(v) for v in kept]
    written = 0
    with _csv_writer(path) as writer:
        writer.writerow([v.name for v in kept])
        async for rows in chunks:
            if len(kept) < len(found):
                rows = [[row[i] for i in at] for row in rows]
            writer.writerows(inert_row(row) for row in rows)
            written += len(rows)
    return kept, written


def _rows(table: Table) -> Any:
    return zip(*(table.columns[v.name] for v in table.variables), strict=True)


def inert_row(row: list[Any] | tuple[Any, ...]) -> list[Any]:
    """Each text a spreadsheet would run (=, +, -, @, tab, CR first) behind an apostrophe (OWASP)."""
    return [f"'{v}" if v.__class__ is str and v[:1] in FORMULA_FIRST else v for v in row]


def _spreadsheet_rows(table: Table) -> Any:
    return (inert_row(row) for row in _rows(table))


def free_text_left_out(found: list[Variable], questionnaire: Questionnaire) -> list[Variable]:
    """The variables without the columns of typed free text (text questions)."""
    typed = {question.id for question in questionnaire if question.kind is Kind.TEXT}
    return [v for v in found if v.name not in typed]


def without_free_text(table: Table, questionnaire: Questionnaire) -> Table:
    """The table without the columns of typed free text (text questions)."""
    kept = free_text_left_out(table.variables, questionnaire)
    return Table(kept, {v.name: table.columns[v.name] for v in kept})


@contextmanager
def _csv_writer(path: Path) -> Iterator[Any]:
    with path.open("w", encoding=CSV_ENCODING, newline="") as handle:
        yield csv.writer(handle)


def write_csv(table: Table, path: Path) -> None:
    """Comma-separated values with a header of column names; missing values are empty."""
    with _csv_writer(path) as writer:
        writer.writerow([v.name for v in table.variables])
        writer.writerows(_spreadsheet_rows(table))


def numeric_codes(variable: Variable) -> dict[Any, int]:
    """The numbers a coded string variable takes in .sav and .dta: 1, 2, ... in order; REFUSED for skip."""
    if variable.numeric or variable.scale or not variable.value_labels:
        return {}
    ordered = [code for code in variable.value_labels if code != SKIP]
    codes = {code: number for number, code in enumerate(ordered, start=1)}
    return {**codes, SKIP: REFUSED} if SKIP in variable.value_labels else codes


def _coded(variable: Variable) -> bool:
    """Whether .sav and .dta hold the variable as numbers with value labels (a coded choice)."""
    return bool(numeric_codes(variable)) and variable.value_labels.keys() != {SKIP}


def codebook_rows(found: list[Variable]) -> list[tuple[str, ...]]:
    """The codebook: a line per variable, then a line per labelled value with its .sav/.dta number."""
    lines: list[tuple[str, ...]] = []
    for v in found:
        kind = "numeric" if v.numeric else "string"
        lines.append((v.name, v.label, kind, v.question, "", "", ""))
        codes = numeric_codes(v) if _coded(v) else {}
        for value, label in v.value_labels.items():
            lines.append((v.name, "", "", "", str(value), label, _stats_code(codes.get(value))))
    return lines


def _stats_code(number: int | None) -> str:
    if number is None:
        return ""
    return f"{REFUSED} (Stata .{STATA_REFUSED})" if number == REFUSED else str(number)


def write_codebook(found: list[Variable], path: Path) -> None:
    """The codebook of the variables `found` as CSV."""
    with _csv_writer(path) as writer:
        writer.writerow(CODEBOOK_HEADER)
        writer.writerows(codebook_rows(found))


class TooManyRowsError(Exception):
    """The dataset has more responses than an Excel sheet holds with its header."""

    def __init__(self, rows: int, limit: int) -> None:
        super().__init__(f"{rows} rows and a header do not fit in a sheet of {limit} rows")
        self.rows = rows
        self.limit = limit


def xlsx_fits(rows: int, limit: int | None = None) -> bool:
    """Whether `rows` and the header fit in a sheet of `limit` rows (XLSX_MAX_ROWS)."""
    return rows + 1 <= (XLSX_MAX_ROWS if limit is None else limit)


def too_many_rows_text(_: Translator, error: TooManyRowsError) -> str:
    """Why there is no XLSX file, in the researcher's language."""
    return _(
        TOO_MANY_ROWS,
        rows=format_decimal(error.rows, locale=_.language),
        limit=format_decimal(error.limit, locale=_.language),
    )


def write_xlsx(table: Table, path: Path) -> None:
    """An Excel workbook: the data sheet and the codebook sheet (TooManyRowsError past XLSX_MAX_ROWS)."""
    from openpyxl import Workbook

    if not xlsx_fits(table.rows):
        raise TooManyRowsError(table.rows, XLSX_MAX_ROWS)
    workbook = Workbook(write_only=True)
    data = workbook.create_sheet(DATA_SHEET)
    data.append([v.name for v in table.variables])
    for row in _spreadsheet_rows(table):
        data.append(row)
    codebook = workbook.create_sheet(CODEBOOK_SHEET)
    codebook.append(list(CODEBOOK_HEADER))
    for line in codebook_rows(table.variables):
        codebook.append(list(line))
    workbook.save(path)


def _package_column(variable: Variable, values: list[Any], refused: Any) -> Any:
    """A column as a statistics package gets it: coded choices as numbers (skip: `refused`)."""
    import pandas as pd

    if _coded(variable):
        codes = {**numeric_codes(variable), SKIP: refused}
        return pd.Series([None if v is None else codes.get(v) for v in values], dtype="object")
    return pd.array(values, dtype="float64" if variable.numeric else "object")


def _package_labels(variable: Variable, refused: Any) -> dict[Any, str]:
    if not _coded(variable):
        return variable.value_labels
    codes = {**numeric_codes(variable), SKIP: refused}
    return {codes[code]: label for code, label in variable.value_labels.items()}


def write_sav(table: Table, path: Path) -> None:
    """An SPSS file: labels; coded choices as numbers, "Prefer not to answer" user-missing (99, or
    "skip" for text), no answer system-missing; age, time and weight scale variables."""
    import pandas as pd
    import pyreadstat

    frame = pd.DataFrame(
        {v.name: _package_column(v, table.columns[v.name], REFUSED) for v in table.variables}
    )
    for v in table.variables:
        if _coded(v):
            frame[v.name] = frame[v.name].astype("float64")
    refusable = [v for v in table.variables if SKIP in v.value_labels]
    pyreadstat.write_sav(
        frame,
        str(path),
        column_labels={v.name: v.label for v in table.variables},
        variable_value_labels={
            v.name: _package_labels(v, REFUSED) for v in table.variables if v.value_labels
        },
        missing_ranges={v.name: [REFUSED if _coded(v) else SKIP] for v in refusable},
        variable_measure={v.name: "scale" if v.scale else "nominal" for v in table.variables},
        variable_format={v.name: "F8.0" for v in table.variables if v.scale and v.name != WEIGHT},
    )


def write_dta(table: Table, path: Path) -> None:
    """A Stata file: labels; coded choices as numbers with value labels, "Prefer not to answer" the
    extended missing value .a (text keeps "skip"), no answer the system missing value ."""
    import pandas as pd
    import pyreadstat

    frame = pd.DataFrame(
        {v.name: _package_column(v, table.columns[v.name], STATA_REFUSED) for v in table.variables}
    )
    for v in table.variables:  # Stata's missing string is empty (and long strL texts need it so)
        if not v.numeric and not _coded(v):
            frame[v.name] = frame[v.name].fillna("")
    refusable = [v.name for v in table.variables if _coded(v) and SKIP in v.value_labels]
    pyreadstat.write_dta(
        frame,
        str(path),
        column_labels={v.name: v.label[:STATA_LABEL] for v in table.variables},
        variable_value_labels={
            v.name: {k: label[:STATA_LABEL] for k, label in _package_labels(v, STATA_REFUSED).items()}
            for v in table.variables
            if (v.numeric or _coded(v)) and v.value_labels
        },
        missing_user_values={name: [STATA_REFUSED] for name in refusable},
    )


WRITERS: dict[str, Callable[[Table, Path], None]] = {
    "csv": write_csv,
    "xlsx": write_xlsx,
    "sav": write_sav,
    "dta": write_dta,
}
"""Dataset formats by file extension."""
