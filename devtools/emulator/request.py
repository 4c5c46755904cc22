"""A PTB request backend that hands every Bot API call to an in-process emulator."""

from __future__ import annotations

import json

from telegram.request import BaseRequest, RequestData

from devtools.emulator.core import ApiError, BotApiEmulator


class EmulatorRequest(BaseRequest):
    """Answers the bot's HTTP calls from a BotApiEmulator, with no network involved."""

    def __init__(self, emulator: BotApiEmulator) -> None:
        self.emulator = emulator

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Dispatch `.../bot<token>/<method>` to the emulator and encode its answer as Telegram does."""
        api_method = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        files = request_data.multipart_data if request_data else None
        try:
            result = self.emulator.call(api_method, dict(params), files)
        except ApiError as error:
            return error.code, json.dumps(error.payload()).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()
