"""Receiving updates from Telegram, confirmed only once the bot has handled them.

PTB's Updater confirms updates before they are handled: a polled batch with its next
getUpdates call, a webhook request with an immediate 200. A bot killed at that moment loses
them: the people who sent them get no reply. Here polling always asks from the oldest update
still being handled, and the webhook answers Telegram once the update is handled, so Telegram
keeps (and after a crash delivers again, to this process or another replica) everything not yet
handled; an update handled before but delivered again is recognised by `processed_updates`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import logging
from collections.abc import Callable, Sequence

from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, Updater

log = logging.getLogger(__name__)

BUSY_WAIT = 0.25
"""While updates are being handled, poll again after one of them is done, or after this many seconds."""
MAX_BACKOFF = 30.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class ConfirmingUpdater(Updater):
    """An Updater that hands updates straight to the application and confirms each once handled."""

    def __init__(self, application: Application) -> None:
        super().__init__(application.bot, application.update_queue)
        self.application = application
        self._handling: dict[int, asyncio.Task[None]] = {}
        self._progress = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._handled: set[int] = set()
        """Updates handled but not yet confirmed (an older one is still in hand)."""
        self._after_batch = 0
        """The offset that confirms the last batch received, as PTB's Updater keeps it (0: none yet)."""
        self._server: web.AppRunner | None = None
        self._secret: str | None = None

    async def start_polling(
        self,
        poll_interval: float = 0.0,
        timeout: dtm.timedelta | float = dtm.timedelta(seconds=10),  # noqa: ASYNC109 (Updater's signature)
        bootstrap_retries: int = 0,
        allowed_updates: Sequence[str] | None = None,
        drop_pending_updates: bool | None = None,
        error_callback: Callable[[TelegramError], None] | None = None,
    ) -> asyncio.Queue[object]:
        """Delete any webhook, then poll in the background until stop()."""
        if self.running:
            raise RuntimeError("This Updater is already running!")
        if not self._initialized:
            raise RuntimeError("This Updater was not initialized via `Updater.initialize`!")
        seconds = _seconds(timeout)
        await self._bootstrap(
            max_retries=bootstrap_retries,
            webhook_url="",
            allowed_updates=None,
            drop_pending_updates=drop_pending_updates,
        )
        self._running = True
        self._poller = asyncio.create_task(self._poll(seconds, allowed_updates), name="confirming_poller")
        return self.update_queue

    async def start_webhook(  # type: ignore[override]
        self,
        listen: str = "127.0.0.1",
        port: int = 80,
        url_path: str = "",
        *,
        webhook_url: str | None = None,
        allowed_updates: Sequence[str] | None = None,
        drop_pending_updates: bool | None = None,
        max_connections: int = 40,
        secret_token: str | None = None,
        bootstrap_retries: int = 0,
        **others: object,
    ) -> asyncio.Queue[object]:
        """Serve `/url_path` on `listen:port` (TLS in front of it), then register `webhook_url`."""
        if self.running:
            raise RuntimeError("This Updater is already running!")
        unsupported = sorted(name for name, value in others.items() if value is not None)
        if unsupported:
            raise ValueError(f"webhook options not supported here: {', '.join(unsupported)}")
        app = web.Application()
        app.router.add_post("/" + url_path.strip("/"), self._receive)
        self._server = web.AppRunner(app, access_log=None)
        await self._server.setup()
        await web.TCPSite(self._server, listen, port).start()
        self._secret = secret_token
        await self._bootstrap(
            max_retries=bootstrap_retries,
            webhook_url=webhook_url,
            allowed_updates=allowed_updates,
            drop_pending_updates=drop_pending_updates,
            max_connections=max_connections,
            secret_token=secret_token,
        )
        self._running = True
        return self.update_queue

    async def _receive(self, request: web.Request) -> web.Response:
        """One webhook request: 200 once the update is handled; 403 without the secret."""
        if self._secret is not None and request.headers.get(SECRET_HEADER) != self._secret:
            return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), self.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400)
        task = self._handling.get(update.update_id) or self._take(update)
        await asyncio.shield(task)
        return web.Response()

    def _take(self, update: Update) -> asyncio.Task[None]:
        """Start handling `update`; it counts as in hand until done."""
        task = asyncio.create_task(self._handle(update))
        self._handling[update.update_id] = task
        return task

    async def stop(self) -> None:
        """Stop receiving, let the updates in hand finish, then confirm them."""
        if not self.running:
            raise RuntimeError("This Updater is not running!")
        self._running = False
        if self._server is not None:
            await self._server.cleanup()
        if self._poller is not None:
            self._poller.cancel()  # an unanswered getUpdates confirms nothing: safe to abandon
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if self._handling:
            await asyncio.wait(list(self._handling.values()))
        if self._after_batch:
            with contextlib.suppress(TelegramError):
                await self.bot.get_updates(offset=self._after_batch, timeout=0, limit=1)

    def _offset(self) -> int:
        """What to ask from: the oldest update still in hand, else the one after the last batch."""
        offset = min(self._handling) if self._handling else self._after_batch
        self._handled = {update_id for update_id in self._handled if update_id >= offset}
        return offset

    async def _poll(self, wait: float, allowed_updates: Sequence[str] | None) -> None:
        backoff = 1.0
        while True:
            busy = bool(self._handling)
            try:
                updates = await self.bot.get_updates(
                    offset=self._offset(),
                    timeout=0 if busy else wait,  # type: ignore[arg-type]  # seconds, as float as int
                    allowed_updates=allowed_updates,
                )
            except InvalidToken:
                raise
            except RetryAfter as error:
                await asyncio.sleep(_seconds(error.retry_after))
                continue
            except TelegramError as error:
                log.warning("polling_failed", extra={"error": type(error).__name__, "retry_in": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 1.0
            for update in updates:
                if update.update_id not in self._handling and update.update_id not in self._handled:
                    self._take(update)
            if updates:
                self._after_batch = updates[-1].update_id + 1
            if busy or self._handling:
                self._progress.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._progress.wait(), BUSY_WAIT)

    async def _handle(self, update: Update) -> None:
        """Run the update through the application's processor (each person's updates in order)."""
        application = self.application
        try:
            await application.update_processor.process_update(update, application.process_update(update))
        finally:
            del self._handling[update.update_id]
            if self._poller is not None:  # a webhook's updates are confirmed one by one
                self._handled.add(update.update_id)
            self._progress.set()


def _seconds(period: dtm.timedelta | float) -> float:
    """A PTB time period (a timedelta or a number of seconds) in seconds."""
    return period.total_seconds() if isinstance(period, dtm.timedelta) else float(period)
