"""Receiving updates from Telegram, confirmed only once the bot has handled them (or dropped them).

PTB's Updater confirms updates before they are handled: a polled batch with its next
getUpdates call, a webhook request with an immediate 200. A bot killed at that moment loses
them: the people who sent them get no reply. Here polling asks from the oldest update still
being handled, and the webhook answers Telegram once the update is handled, so Telegram
keeps (and after a crash delivers again, to this process or another replica) everything not yet
handled; an update handled before but delivered again is recognised by `processed_updates`.

Fairness. One person cannot hold up the others. At most `BACKLOG` updates of one person are
in hand; the surplus is dropped (bot.concurrency): confirmed like a handled update, no handler
run, one "please wait" per burst, a pressed button's spinner closed. Polling does not wait for
the updates in hand of a person whose backlog overflowed before confirming later ones: the oldest
update a poll asks from is the oldest *other* update in hand, so a flooder's queue (slow to drain:
its replies go at the chat's pace) never pins getUpdates' window of 100, and everyone else's
updates keep coming. A crash while that person's queue drains loses it, none of it acknowledged
(it was sent before the bot had answered, like the dropped surplus). In webhook mode Telegram
sends a chat's next update once the previous one is answered, so a flood waits at Telegram, one
update of it in hand.

The Receiver is ours from end to end (PTB's Updater is not used): it hands each update to the
application's public `update_processor.process_update(update, application.process_update(update))`
once the same person's earlier updates are done (bot.concurrency). `serve` is the bot's run
loop. A receiver that dies (an error it does not survive, such as a revoked token) is logged at
error level, removes the heartbeat that `python -m bot health` checks, and stops the bot:
`serve` raises ReceiverDiedError, and the process exits with status 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import signal
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Bot, Update
from telegram.error import EndPointNotFound, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from bot import handlers
from bot.concurrency import Admission, PerPersonOrder
from bot.context import Context
from bot.health import Heartbeat
from bot.sending import retry_after_seconds

log = logging.getLogger(__name__)

BUSY_WAIT = 0.25
"""While a poll would only fetch updates in hand again, poll after one of them is done, or after this many
seconds."""
MAX_BACKOFF = 30.0
POLL_READ_SLACK = 5.0
"""Seconds a getUpdates response may take beyond its long-poll timeout (PTB's default read timeout)."""
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_ID = 2**63
"""Update ids are stored as BIGINT; Telegram's are far below this."""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class Polling:
    """Long polling: getUpdates waiting up to `timeout` seconds for new updates."""

    allowed_updates: Sequence[str]
    timeout: float


@dataclass(frozen=True)
class Webhook:
    """A webhook server on `listen:port` (TLS in front of it), registered with Telegram as `url`."""

    url: str
    secret: str
    port: int
    allowed_updates: Sequence[str]
    listen: str = "0.0.0.0"
    max_connections: int = 40

    @property
    def path(self) -> str:
        """The path the server answers on: the URL's."""
        return "/" + urlsplit(self.url).path.strip("/")


class ReceiverDiedError(Exception):
    """The receiver stopped on an error it does not survive; the message names the error."""

    def __init__(self, error: BaseException | None) -> None:
        super().__init__(f"receiving updates failed: {type(error).__name__}: {error}")
        self.error = error


class Receiver:
    """Takes updates from Telegram (polling or webhook), hands them on, confirms each once handled."""

    def __init__(self, application: Application, source: Polling | Webhook, heartbeat: Heartbeat) -> None:
        self.application, self.source, self.heartbeat = application, source, heartbeat
        self.order = PerPersonOrder()
        self.stopping = asyncio.Event()
        """Set when the bot should wind down: a stop signal, or the receiver died."""
        self.failure: ReceiverDiedError | None = None
        self._task: asyncio.Task[None] | None = None
        self._handling: dict[int, tuple[Update, asyncio.Task[None]]] = {}
        self._notices: set[asyncio.Task[None]] = set()
        """Answers to dropped updates being sent ("please wait", a closed spinner)."""
        self._progress = asyncio.Event()
        self._handled: set[int] = set()
        """Updates handled or dropped but not yet confirmed (an older one is still in hand)."""
        self._after_batch = 0
        """The offset that confirms the last batch received (0: none yet)."""
        self._confirmed = 0
        """The offset last asked with: every update below it is confirmed to Telegram."""
        self._server: web.AppRunner | None = None

    async def start(self) -> None:
        """Start receiving in the background (registering or deleting the webhook first)."""
        if self._task is not None:
            raise RuntimeError("the receiver is already running")
        work = self._serve(self.source) if isinstance(self.source, Webhook) else self._poll(self.source)
        self._task = asyncio.create_task(work, name="receiver")
        self._task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        """The receiving task ended: by stop() (cancelled), or it died; then log why and stop the bot."""
        self.heartbeat.stop()
        if task.cancelled():
            return
        self.failure = ReceiverDiedError(task.exception())
        log.error("receiver_died", extra={"reason": str(self.failure)})
        self.stopping.set()

    async def stop(self) -> None:
        """Stop receiving, let the updates in hand finish, then confirm them."""
        if self._task is not None:
            self._task.cancel()  # an unanswered getUpdates confirms nothing: safe to abandon
            await asyncio.wait([self._task])
        if self._server is not None:
            await self._server.cleanup()
        in_hand = [task for _update, task in self._handling.values()] + list(self._notices)
        if in_hand:
            await asyncio.wait(in_hand)
        if self._after_batch:
            with contextlib.suppress(TelegramError):
                await self.application.bot.get_updates(offset=self._after_batch, timeout=0, limit=1)

    async def _serve(self, webhook: Webhook) -> None:
        """Serve the webhook, register it with Telegram, and beat while the server runs."""
        app = web.Application()
        app.router.add_post(webhook.path, self._receive)
        self._server = web.AppRunner(app, access_log=None)
        await self._server.setup()
        await web.TCPSite(self._server, webhook.listen, webhook.port).start()
        await self.application.bot.set_webhook(
            webhook.url,
            allowed_updates=webhook.allowed_updates,
            max_connections=webhook.max_connections,
            secret_token=webhook.secret,
        )
        while True:
            self.heartbeat.beat()
            await asyncio.sleep(self.heartbeat.seconds)

    async def _receive(self, request: web.Request) -> web.Response:
        """One webhook request: 200 once the update is handled; 403 without the secret (compared in
        constant time); 400, logged without its content, for a body that is not an update we handle."""
        assert isinstance(self.source, Webhook)
        secret = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(secret, self.source.secret.encode()):
            return web.Response(status=403)
        update = await _update_of(request, self.application.bot)
        if update is None:
            log.warning("webhook_refused", extra={"reason": "not an update"})
            return web.Response(status=400)
        in_hand = self._handling.get(update.update_id)
        task = in_hand[1] if in_hand is not None else self._take(update)
        if task is not None:
            await asyncio.shield(task)
        return web.Response()

    def _take(self, update: Update) -> asyncio.Task[None] | None:
        """Start handling `update` (it counts as in hand until done), or drop it (None): its
        person's backlog is full."""
        admission = self.order.admit(update)
        if admission is not Admission.RUN:
            self._drop(update, warn=admission is Admission.WARN)
            return None
        task = asyncio.create_task(self._handle(update))
        self._handling[update.update_id] = (update, task)
        return task

    def _drop(self, update: Update, warn: bool) -> None:
        """Count `update` as handled without handling it; answer a press, and say "please wait" if `warn`."""
        if isinstance(self.source, Polling):
            self._handled.add(update.update_id)
        if warn:
            log.warning("backlog_full", extra={"backlog": self.order.backlog})
        if warn or update.callback_query is not None:
            context = Context.from_update(update, self.application)
            notice = asyncio.create_task(handlers.dropped(update, context, warn))
            self._notices.add(notice)
            notice.add_done_callback(self._notices.discard)

    def _offset(self) -> int:
        """What to ask from: the oldest update in hand whose person's backlog did not overflow, else the
        one after the last batch; never less than before (what Telegram was told is confirmed stays so)."""
        kept = (key for key, (update, _task) in self._handling.items() if not self.order.overflowed(update))
        self._confirmed = max(self._confirmed, min(kept, default=self._after_batch))
        self._handled = {update_id for update_id in self._handled if update_id >= self._confirmed}
        return self._confirmed

    async def _poll(self, polling: Polling) -> None:
        """Delete any webhook, then poll until cancelled; only an invalid token ends it."""
        bot = self.application.bot
        await bot.delete_webhook()
        backoff = 1.0
        while True:
            offset = self._offset()
            # Nothing fetched is left unconfirmed: the poll can wait for new updates.
            fresh_only = offset == self._after_batch
            try:
                batch = await self._fetch(polling, offset, polling.timeout if fresh_only else 0)
            except InvalidToken:
                raise
            except RetryAfter as error:
                await asyncio.sleep(retry_after_seconds(error))
                continue
            except TelegramError as error:
                log.warning("polling_failed", extra={"error": type(error).__name__, "retry_in": backoff})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 1.0
            self.heartbeat.beat()
            for data in batch:
                update_id = data["update_id"]
                if update_id in self._handling or update_id in self._handled:
                    continue  # fetched again (the poll asked from an update still in hand): not parsed again
                update = _parsed(data, bot)
                if update is None:
                    log.warning("update_refused", extra={"reason": "not an update"})
                    self._handled.add(update_id)
                else:
                    self._take(update)
            if batch:
                self._after_batch = batch[-1]["update_id"] + 1
            if self._offset() < self._after_batch:  # the next poll would fetch updates in hand again
                self._progress.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._progress.wait(), BUSY_WAIT)

    async def _fetch(self, polling: Polling, offset: int, wait: float) -> list[dict[str, Any]]:
        """getUpdates from `offset`, waiting up to `wait` seconds for new ones, as JSON: the caller
        parses only the updates it does not have yet.

        PTB's get_updates would parse every update of the batch, and a poll that asks from an update
        still in hand fetches up to 100 already in hand or handled; parsing those again cost more
        than all the rest of receiving. do_api_request makes the call get_updates makes, unparsed.
        """
        parameters = {"offset": offset, "timeout": wait, "allowed_updates": polling.allowed_updates}
        try:
            with warnings.catch_warnings():  # its advice to use get_updates instead
                warnings.simplefilter("ignore", PTBUserWarning)
                return await self.application.bot.do_api_request(
                    "getUpdates", parameters, read_timeout=wait + POLL_READ_SLACK
                )
        except EndPointNotFound as error:  # getUpdates exists: Telegram refused the token
            raise InvalidToken(str(error)) from error

    async def _handle(self, update: Update) -> None:
        """Run the update through the application's processor once the person's earlier ones are done."""
        try:
            await self.order.run(update, lambda: self._process(update))
        finally:
            del self._handling[update.update_id]
            if isinstance(self.source, Polling):  # a webhook's updates are confirmed one by one
                self._handled.add(update.update_id)
            self._progress.set()

    async def _process(self, update: Update) -> None:
        """The update's handlers, in one of the application's concurrency slots."""
        application = self.application
        await application.update_processor.process_update(update, application.process_update(update))


async def serve(application: Application, receiver: Receiver, signals: Sequence[int] = STOP_SIGNALS) -> None:
    """Run the bot until one of `signals` (or `receiver.stopping`); ReceiverDiedError if the receiver died.

    As PTB's run_polling does: initialize, post_init, start; then the receiver; and at the end
    the receiver's stop (the updates in hand finish and are confirmed), stop, post_stop,
    shutdown, post_shutdown.
    """
    loop = asyncio.get_running_loop()
    for number in signals:
        loop.add_signal_handler(number, receiver.stopping.set)
    await application.initialize()
    try:
        if application.post_init:
            await application.post_init(application)
        await application.start()
        try:
            await receiver.start()
            await receiver.stopping.wait()
        finally:
            await receiver.stop()
            await application.stop()
            if application.post_stop:
                await application.post_stop(application)
    finally:
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)
        for number in signals:
            loop.remove_signal_handler(number)
    if receiver.failure is not None:
        raise receiver.failure


async def _update_of(request: web.Request, bot: Bot) -> Update | None:
    """The update in a webhook request, or None for anything else (see _parsed)."""
    try:
        data = await request.json()
    except ValueError:
        return None
    return _parsed(data, bot)


def _parsed(data: object, bot: Bot) -> Update | None:
    """`data` as an update, or None for anything else: not an object, an update id outside what
    Telegram sends, or a private message without its sender."""
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool) or not 0 <= update_id < MAX_UPDATE_ID:
        return None
    try:
        update = Update.de_json(data, bot)  # type: ignore[arg-type]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    chat = update.effective_chat
    if chat is not None and chat.type == "private" and update.effective_user is None:
        return None
    return update
