#!/usr/bin/env sh
# Build step of the image (also run by tests/test_docker_steps.py in a fresh virtual environment):
# install the bot into a virtual environment and compile the translation catalogs.
# Usage: docker/install.sh SOURCE_DIR VENV_DIR
set -eu
src=${1:?source directory}
venv=${2:?virtual environment directory}
python3 -m venv "$venv"
"$venv/bin/pip" install --no-cache-dir --disable-pip-version-check -q "$src"
# From / so that the installed package (not a source folder in the working directory) is compiled.
(cd / && "$venv/bin/python" -m bot compile-catalogs)
