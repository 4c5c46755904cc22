#!/usr/bin/env sh
# Start step of the image: apply migrations, then run the bot (polling, or webhook when WEBHOOK_URL is set).
# Usage: docker/start.sh VENV_DIR
set -eu
venv=${1:-/opt/venv}
"$venv/bin/python" -m bot migrate
exec "$venv/bin/python" -m bot run
