# syntax=docker/dockerfile:1
# Build: docker build -t survey-bot .   Run: see compose.yaml (PostgreSQL included).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md babel.cfg ./
# Production rooms only: devtools/ (the Bot API emulator and the sandbox) stays out of the image.
COPY core ./core
COPY survey ./survey
COPY db ./db
COPY research ./research
COPY conversation ./conversation
COPY bot ./bot
COPY migrations ./migrations
COPY locales ./locales
COPY docker ./docker
RUN sh docker/install.sh /src /opt/venv

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app survey && mkdir -p /app/data && chown survey /app/data
COPY --from=build /opt/venv /opt/venv
COPY docker/start.sh /usr/local/bin/start-survey-bot
WORKDIR /app
USER survey
ENV PYTHONUNBUFFERED=1 DATABASE_URL=sqlite+aiosqlite:////app/data/survey.sqlite3
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD ["/opt/venv/bin/python", "-m", "bot", "health"]
CMD ["start-survey-bot", "/opt/venv"]
