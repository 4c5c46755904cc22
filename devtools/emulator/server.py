"""The emulator on real HTTP: the Bot API at `/bot{token}/{method}` and a control API at `/_control/`.

The bot under test only needs `BOT_API_URL=http://HOST:PORT`: it calls
`{BOT_API_URL}/bot{token}/{method}` exactly as it calls Telegram (JSON, form or multipart
bodies), and receives updates by long polling (`getUpdates` with `offset` and `timeout`)
or, after `setWebhook`, as POSTs to its webhook carrying `X-Telegram-Bot-Api-Secret-Token`.
Answers are Telegram's: `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": ..., "description": ..., "parameters": {"retry_after": ...}}`
with the same HTTP status.

The control API (JSON in, JSON out, under `/_control/`) lets a program act as Telegram
users and watch chats: create users (`POST /users`), make them send messages
(`POST /users/{id}/messages`), press buttons by label (`POST /users/{id}/press`: a label
that is not on the message is refused and the bot gets nothing, as in Telegram), edit
messages, read a chat (`GET /chats/{id}`), wait for it to change (`GET /chats/{id}/wait`,
a long poll), fetch sent files, open channels, simulate flood limits (`PUT /flood`) and read
call counts (`GET /stats`), or wait until every update is answered (`GET /idle`). README.md
"The local Bot API" lists every request. Several bot processes can stand behind the webhook
URL (`backends`, set by devtools/sandbox/process.py).
User actions wait for the bot's reply before answering unless told `"wait": "none"`.
Waiting is event-driven (asyncio events fired by every change), never a busy loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import socket
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from devtools.emulator.core import ApiError, BotApiEmulator, Chat, FloodLimits, Message, RateLimit

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
DEFAULT_WAIT = 10.0
MAX_WAIT = 60.0
MAX_POLL_TIMEOUT = 50.0
WEBHOOK_TIMEOUT = 30.0
WEBHOOK_RETRY_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0)
JSON_PARAMETERS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "media",
        "message_ids",
    }
)
BOOLEAN_PARAMETERS = frozenset(
    {"show_alert", "disable_notification", "protect_content", "drop_pending_updates"}
)
FIRST_USER_ID = 900_000_001


class ControlError(Exception):
    """A control request that cannot be carried out; answered with status 400 and the message."""


class Signal:
    """Something waiters can sleep on until it fires: an Event renewed on every firing."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """Sleep until the next firing; False if `seconds` passed first."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return False
        return True


async def wait_until(signal: Signal, done: Callable[[], bool], seconds: float) -> bool:
    """Sleep on `signal` until `done()` holds; False if `seconds` ran out first."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not done():
        left = deadline - loop.time()
        if left <= 0 or not await signal.wait(left):
            return done()
    return True


@dataclass
class Webhook:
    """Where updates go in webhook mode, as set by setWebhook."""

    url: str
    secret_token: str | None
    max_connections: int = 40


def _parameter(name: str, value: Any) -> Any:
    """A form field's value as the method expects it (JSON-encoded objects, booleans)."""
    if not isinstance(value, str):
        return value
    if name in JSON_PARAMETERS:
        return json.loads(value)
    if name in BOOLEAN_PARAMETERS:
        return value.lower() == "true"
    return value


def _update_kind(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _update_chat(update: dict[str, Any]) -> int:
    """The chat an update belongs to, so webhook deliveries keep each chat's order."""
    body = update.get(_update_kind(update)) or {}
    message = body.get("message", body) if "data" in body else body
    return int((message.get("chat") or body.get("from") or {}).get("id", 0))


def message_json(message: Message) -> dict[str, Any]:
    """A message as the control API shows it."""
    return {
        "message_id": message.message_id,
        "from_bot": message.from_bot,
        "text": message.plain_text if (message.text is not None or message.caption is not None) else None,
        "html": message.text if message.text is not None else message.caption,
        "buttons": [
            [{k: v for k, v in vars(b).items() if v is not None} for b in row] for row in message.buttons
        ],
        "media": message.media,
        "file_name": message.file_name,
        "file_size": len(message.file) if message.file is not None else None,
        "date": message.date,
    }


def chat_json(chat: Chat, limit: int | None = None) -> dict[str, Any]:
    """A chat as the control API shows it: its version and the messages left in it, oldest first."""
    messages = list(chat.messages.values())
    if limit is not None:
        messages = messages[-limit:] if limit > 0 else []
    return {
        "id": chat.id,
        "type": chat.type,
        "title": chat.title,
        "version": chat.version,
        "messages": [message_json(m) for m in messages],
    }


class EmulatorServer:
    """A BotApiEmulator served over HTTP: Bot API for the bot, control API for users."""

    def __init__(self, emulator: BotApiEmulator | None = None) -> None:
        self.emulator = emulator or BotApiEmulator()
        self.latency = 0.0
        """Seconds each Bot API call takes beyond its work, as the round trip to Telegram's servers."""
        self.users: dict[int, dict[str, Any]] = {}
        self._user_ids = itertools.count(FIRST_USER_ID)
        self.pending: deque[dict[str, Any]] = deque()
        self.delivered = 0
        self.handed_out = 0
        """The newest update_id handed to the bot: returned by getUpdates or posted to its webhook."""
        self.webhook: Webhook | None = None
        self.allowed_updates: frozenset[str] | None = None
        self.calls: Counter[str] = Counter()
        self._arrived = Signal()
        self._called = Signal()
        self._chat_signals: dict[int, Signal] = {}
        self._activity = Signal()
        self.waiting: Counter[str] = Counter()
        """Long polls in progress by kind: "getUpdates", "chat" (chat waits), "reply" (user actions)."""
        self._poll_generation = 0
        self._in_flight: set[int] = set()
        self._webhook_task: asyncio.Task[None] | None = None
        self.backends: list[str] = []
        self.backend_deliveries: Counter[str] = Counter()
        self._rotation: Counter[int] = Counter()
        self._client: ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.emulator.observers.append(self._on_chat_change)
        self._bot_methods: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._webhook_info,
        }

    # ---- life cycle -------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application with both APIs."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        control = [
            web.get("/_control/stats", self._stats),
            web.get("/_control/calls/{method}", self._wait_call),
            web.get("/_control/idle", self._wait_idle),
            web.post("/_control/users", self._new_user),
            web.patch("/_control/users/{user_id}", self._change_user),
            web.post("/_control/users/{user_id}/messages", self._user_sends),
            web.post("/_control/users/{user_id}/press", self._user_presses),
            web.post("/_control/users/{user_id}/edit", self._user_edits),
            web.post("/_control/chats", self._open_chat),
            web.get("/_control/chats/{chat_id}", self._chat),
            web.get("/_control/chats/{chat_id}/wait", self._wait_chat),
            web.get("/_control/chats/{chat_id}/messages/{message_id}/file", self._file),
            web.put("/_control/flood", self._flood),
        ]
        app.add_routes([*control, web.route("*", "/bot{token}/{method}", self._bot_api)])
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on `host:port` (0: a free port); returns the Bot API root URL."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, sock).start()
        self._client = ClientSession(timeout=ClientTimeout(total=WEBHOOK_TIMEOUT))
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        """Stop delivering and listening."""
        await self._stop_webhook()
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def until(self, condition: Callable[[], bool], seconds: float = DEFAULT_WAIT) -> None:
        """Wait until `condition()` holds (woken by every call, update, delivery, chat change, long poll)."""
        if not await wait_until(self._activity, condition, seconds):
            raise TimeoutError(f"the emulator did not get there within {seconds} s")

    async def _wait(self, kind: str, signal: Signal, done: Callable[[], bool], seconds: float) -> bool:
        """wait_until, counted in `waiting` as a long poll of `kind`."""
        self.waiting[kind] += 1
        self._activity.fire()
        try:
            return await wait_until(signal, done, seconds)
        finally:
            self.waiting[kind] -= 1
            self._activity.fire()

    # ---- the Bot API ------------------------------------------------------------------------

    async def _bot_api(self, request: web.Request) -> web.Response:
        """`/bot{token}/{method}`: one Bot API call, answered as Telegram answers it."""
        method = request.match_info["method"]
        self.calls[method] += 1
        self._called.fire()
        self._activity.fire()
        if self.latency:
            await asyncio.sleep(self.latency)
        try:
            if request.match_info["token"] != self.emulator.token:
                raise ApiError(401, "Unauthorized")
            params, files = await self._read_parameters(request)
            if method in self._bot_methods:
                result = await self._bot_methods[method](params)
            else:
                result = self.emulator.call(method, params, files or None)
        except ApiError as error:
            return web.json_response(error.payload(), status=error.code)
        except (KeyError, ValueError, TypeError) as exc:
            refused = ApiError(400, f"Bad Request: invalid or missing parameter: {exc}")
            return web.json_response(refused.payload(), status=refused.code)
        except ConnectionResetError:
            log.info("bot_disconnected", extra={"method": method})  # the bot died mid-request
            return web.Response(status=499)
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _read_parameters(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
        """Parameters from the query string and a JSON, form or multipart body; uploads apart."""
        params: dict[str, Any] = dict(request.query)
        files: dict[str, Any] = {}
        if request.content_type == "application/json":
            body = await request.json() if request.can_read_body else {}
            params.update(body or {})
            return params, files
        if request.can_read_body:
            try:
                form = await request.post()
            except ValueError as exc:
                raise ApiError(400, f"Bad Request: {exc}") from None
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files[name] = (value.filename, value.file.read(), value.content_type)
                else:
                    params[name] = value
        try:
            return {name: _parameter(name, value) for name, value in params.items()}, files
        except json.JSONDecodeError as exc:
            raise ApiError(400, f"Bad Request: can't parse JSON: {exc}") from None

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Long polling: confirm updates below `offset`, then wait up to `timeout` for new ones."""
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(float(params.get("timeout") or 0), MAX_POLL_TIMEOUT)
        if params.get("allowed_updates") is not None:
            self.allowed_updates = frozenset(params["allowed_updates"]) or None
        while self.pending and self.pending[0]["update_id"] < offset:
            self.pending.popleft()
            self.delivered += 1
        self._poll_generation += 1
        generation = self._poll_generation
        self._arrived.fire()

        def ready() -> bool:
            return bool(self.pending) or generation != self._poll_generation

        await self._wait("getUpdates", self._arrived, ready, timeout)
        if generation != self._poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        batch = list(itertools.islice(self.pending, limit))
        if batch:
            self._hand_out(batch[-1])
        return batch

    async def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: bad webhook: invalid URL")
        secret = params.get("secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        await self._stop_webhook()
        if params.get("drop_pending_updates"):
            self._drop_pending()
        if params.get("allowed_updates") is not None:
            self.allowed_updates = frozenset(params["allowed_updates"]) or None
        self.webhook = Webhook(url, secret, int(params.get("max_connections") or 40))
        self._webhook_task = asyncio.create_task(self._deliver_webhook(self.webhook))
        return True

    async def _delete_webhook(self, params: dict[str, Any]) -> bool:
        await self._stop_webhook()
        if params.get("drop_pending_updates"):
            self._drop_pending()
        return True

    async def _webhook_info(self, _params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {"url": "", "has_custom_certificate": False}
        if self.webhook is not None:
            info |= {"url": self.webhook.url, "max_connections": self.webhook.max_connections}
        return info | {"pending_update_count": len(self.pending)}

    def _drop_pending(self) -> None:
        self.pending.clear()

    async def _stop_webhook(self) -> None:
        self.webhook = None
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._in_flight.clear()

    async def _deliver_webhook(self, webhook: Webhook) -> None:
        """POST pending updates to the webhook: several chats at once, each chat's in order.

        When delivery stops (a new setWebhook, deleteWebhook), updates whose POST was still
        unanswered go back to the queue: Telegram delivers at least once.
        """
        posts: dict[asyncio.Task[None], dict[str, Any]] = {}
        try:
            while True:
                ready: list[dict[str, Any]] = []
                for update in self.pending:
                    if len(posts) + len(ready) >= webhook.max_connections:
                        break
                    if _update_chat(update) not in self._in_flight:
                        self._in_flight.add(_update_chat(update))
                        ready.append(update)
                if not ready:
                    await self._arrived.wait(MAX_POLL_TIMEOUT)
                    continue
                for update in ready:
                    self.pending.remove(update)
                    task = asyncio.create_task(self._post_update(webhook, update))
                    posts[task] = update
                    task.add_done_callback(posts.pop)
        finally:
            unanswered = [update for task, update in posts.items() if not task.done()]
            for task in posts:
                task.cancel()
            self.pending = deque(sorted([*unanswered, *self.pending], key=lambda u: int(u["update_id"])))

    async def _post_update(self, webhook: Webhook, update: dict[str, Any]) -> None:
        """Deliver one update, retrying (as Telegram does) until the bot answers 2xx."""
        assert self._client is not None
        headers = {SECRET_HEADER: webhook.secret_token} if webhook.secret_token else {}
        self._hand_out(update)
        for attempt in itertools.count():
            url = self._target(webhook, _update_chat(update))
            try:
                async with self._client.post(url, json=update, headers=headers) as answer:
                    if answer.status < 300:
                        self.backend_deliveries[url] += 1
                        break
                    log.info("webhook_refused", extra={"status": answer.status})
            except (ClientError, TimeoutError) as exc:
                log.info("webhook_unreachable", extra={"error": type(exc).__name__})
            await asyncio.sleep(WEBHOOK_RETRY_DELAYS[min(attempt, len(WEBHOOK_RETRY_DELAYS) - 1)])
        self.delivered += 1
        self._in_flight.discard(_update_chat(update))
        self._arrived.fire()
        self._activity.fire()

    def _hand_out(self, update: dict[str, Any]) -> None:
        self.handed_out = max(self.handed_out, int(update["update_id"]))
        self._activity.fire()

    def _target(self, webhook: Webhook, chat_id: int) -> str:
        """Where one POST goes: the webhook URL, or the next backend in turn for this chat.

        With backends, the emulator plays the load balancer behind the public webhook URL: each
        chat's successive deliveries (retries included) go to the backends in turn, so two
        replicas always share one person's updates, the hardest case for keeping their order.
        """
        if not self.backends:
            return webhook.url
        turn = self._rotation[chat_id]
        self._rotation[chat_id] += 1
        return self.backends[turn % len(self.backends)]

    def enqueue(self, update: dict[str, Any]) -> None:
        """Queue an update for the bot (dropped, like Telegram, if the bot did not ask for its kind)."""
        if self.allowed_updates is None or _update_kind(update) in self.allowed_updates:
            self.pending.append(update)
            self._arrived.fire()
            self._activity.fire()

    # ---- watching chats ---------------------------------------------------------------------

    def _on_chat_change(self, chat: Chat) -> None:
        signal = self._chat_signals.get(chat.id)
        if signal is not None:
            signal.fire()
        self._activity.fire()

    def _signal(self, chat_id: int) -> Signal:
        return self._chat_signals.setdefault(chat_id, Signal())

    def _get_chat(self, chat_id: int) -> Chat:
        chat = self.emulator.chats.get(chat_id)
        if chat is None:
            raise ControlError(f"no chat {chat_id}")
        return chat

    # ---- the control API --------------------------------------------------------------------

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if not request.can_read_body:
            return {}
        try:
            body = await request.json()
        except json.JSONDecodeError as exc:
            raise ControlError(f"the body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise ControlError("the body must be a JSON object")
        return body

    def _user(self, request: web.Request) -> dict[str, Any]:
        user_id = int(request.match_info["user_id"])
        if user_id not in self.users:
            raise ControlError(f"no user {user_id}; create one with POST /_control/users")
        return self.users[user_id]

    def _statistics(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "updates_pending": len(self.pending),
            "updates_in_flight": len(self._in_flight),
            "updates_delivered": self.delivered,
            "mode": "webhook" if self.webhook else "polling",
            "users": len(self.users),
            "backend_deliveries": dict(self.backend_deliveries),
        }

    async def _stats(self, _request: web.Request) -> web.Response:
        return web.json_response(self._statistics())

    async def _wait_call(self, request: web.Request) -> web.Response:
        """Wait until the bot has called `method` at least `at_least` times (e.g. to know it is up)."""

        async def wait() -> dict[str, Any]:
            method = request.match_info["method"]
            at_least = int(request.query.get("at_least", 1))
            timeout = min(float(request.query.get("timeout", DEFAULT_WAIT)), MAX_WAIT)
            done = await wait_until(self._called, lambda: self.calls[method] >= at_least, timeout)
            return {"method": method, "calls": self.calls[method], "timed_out": not done}

        return web.json_response(await _control(wait()))

    async def _wait_idle(self, request: web.Request) -> web.Response:
        """Wait until no update is pending or being delivered (the bot answered every one); the stats then."""

        async def wait() -> dict[str, Any]:
            timeout = min(float(request.query.get("timeout", DEFAULT_WAIT)), MAX_WAIT)
            done = await wait_until(self._activity, lambda: not self.pending and not self._in_flight, timeout)
            return self._statistics() | {"timed_out": not done}

        return web.json_response(await _control(wait()))

    async def _new_user(self, request: web.Request) -> web.Response:
        body = await _control(self._body(request))
        user_id = int(body.get("id") or next(self._user_ids))
        user: dict[str, Any] = {"id": user_id, "is_bot": False}
        user["first_name"] = body.get("first_name") or "User"
        for key in ("last_name", "username", "language_code"):
            if body.get(key):
                user[key] = body[key]
        self.users[user_id] = user
        return web.json_response(user)

    async def _change_user(self, request: web.Request) -> web.Response:
        async def change() -> dict[str, Any]:
            user, body = self._user(request), await self._body(request)
            for key in ("first_name", "last_name", "username", "language_code"):
                if key in body:
                    if body[key]:
                        user[key] = body[key]
                    else:
                        user.pop(key, None)
            return user

        return web.json_response(await _control(change()))

    async def _user_sends(self, request: web.Request) -> web.Response:
        async def send() -> dict[str, Any]:
            user, body = self._user(request), await self._body(request)
            update = self.emulator.user_message(user, **_message_content(body))
            message_id = update["message"]["message_id"]
            chat = self.emulator.chats[user["id"]]
            self.enqueue(update)
            answer = {"update_id": update["update_id"], "message_id": message_id}

            def replied() -> bool:
                return any(m.from_bot and m.message_id > message_id for m in chat.messages.values())

            return answer | await self._await_reply(chat, body, replied)

        return web.json_response(await _control(send()))

    async def _user_presses(self, request: web.Request) -> web.Response:
        async def press() -> dict[str, Any]:
            user, body = self._user(request), await self._body(request)
            chat = self._get_chat(user["id"])
            if body.get("message_id") is not None:
                message = chat.messages.get(int(body["message_id"]))
            else:
                message = chat.newest_with_buttons()
            if message is None or not message.from_bot:
                raise ControlError("no message with buttons to press")
            try:
                update = self.emulator.press(user, message, str(body.get("label")))
            except LookupError as exc:
                raise ControlError(str(exc)) from None
            query_id = update["callback_query"]["id"]
            self.enqueue(update)
            answers = self.emulator.callback_answers
            answer = {"update_id": update["update_id"], "callback_query_id": query_id}
            answer |= await self._await_reply(chat, body, lambda: bool(answers.get(query_id)))
            if answers.get(query_id):
                answer["toast"] = answers[query_id].get("text")
            return answer

        return web.json_response(await _control(press()))

    async def _user_edits(self, request: web.Request) -> web.Response:
        async def edit() -> dict[str, Any]:
            user, body = self._user(request), await self._body(request)
            chat = self._get_chat(user["id"])
            message_id = int(body.get("message_id") or 0)
            message = chat.messages.get(message_id)
            if message is None or message.from_bot:
                raise ControlError(f"the user has no message {message_id}")
            newest = max(chat.messages)
            update = self.emulator.edited_message(user, message_id, str(body.get("text", "")))
            self.enqueue(update)

            def replied() -> bool:
                return any(m.from_bot and m.message_id > newest for m in chat.messages.values())

            return {"update_id": update["update_id"]} | await self._await_reply(chat, body, replied)

        return web.json_response(await _control(edit()))

    async def _await_reply(
        self, chat: Chat, body: dict[str, Any], replied: Callable[[], bool]
    ) -> dict[str, Any]:
        """Wait as the action's `wait` asks; the chat as it is then."""
        mode = body.get("wait", "reply")
        timeout = min(float(body.get("timeout") or DEFAULT_WAIT), MAX_WAIT)
        version = chat.version
        if mode == "none":
            return {"version": version}
        if mode not in ("reply", "change"):
            raise ControlError(f"wait must be reply, change or none, not {mode!r}")

        def done_waiting() -> bool:
            return chat.version > version if mode == "change" else replied()

        done = await self._wait("reply", self._signal(chat.id), done_waiting, timeout)
        limit = body.get("limit")
        return {
            "version": chat.version,
            "timed_out": not done,
            "chat": chat_json(chat, None if limit is None else int(limit)),
        }

    async def _open_chat(self, request: web.Request) -> web.Response:
        async def open_chat() -> dict[str, Any]:
            body = await self._body(request)
            chat_type = body.get("type", "channel")
            if chat_type not in ("channel", "group", "supergroup", "private"):
                raise ControlError(f"unknown chat type {chat_type!r}")
            chat = self.emulator.open_chat(
                int(body["id"]), chat_type, body.get("title"), bool(body.get("bot_can_post", True))
            )
            return chat_json(chat)

        return web.json_response(await _control(open_chat()))

    async def _chat(self, request: web.Request) -> web.Response:
        async def show() -> dict[str, Any]:
            chat = self._get_chat(int(request.match_info["chat_id"]))
            limit = request.query.get("limit")
            return chat_json(chat, None if limit is None else int(limit))

        return web.json_response(await _control(show()))

    async def _wait_chat(self, request: web.Request) -> web.Response:
        async def wait() -> dict[str, Any]:
            chat_id = int(request.match_info["chat_id"])
            after = int(request.query.get("after", -1))
            timeout = min(float(request.query.get("timeout", DEFAULT_WAIT)), MAX_WAIT)

            def changed() -> bool:
                chat = self.emulator.chats.get(chat_id)
                return chat is not None and chat.version > after

            done = await self._wait("chat", self._signal(chat_id), changed, timeout)
            limit = request.query.get("limit")
            chat = self.emulator.chats.get(chat_id)
            if chat is None:
                return {"id": chat_id, "version": 0, "messages": [], "timed_out": True}
            return chat_json(chat, None if limit is None else int(limit)) | {"timed_out": not done}

        return web.json_response(await _control(wait()))

    async def _file(self, request: web.Request) -> web.Response:
        chat_id, message_id = int(request.match_info["chat_id"]), int(request.match_info["message_id"])
        message = self.emulator.chats.get(chat_id, Chat(0, "private")).messages.get(message_id)
        if message is None or message.file is None:
            return web.json_response({"ok": False, "description": "no file"}, status=404)
        return web.Response(body=message.file, content_type="application/octet-stream")

    async def _flood(self, request: web.Request) -> web.Response:
        async def flood() -> dict[str, Any]:
            body = await self._body(request)
            limits = FloodLimits()
            for name in ("per_chat", "per_group", "bulk", "overall"):
                if body.get(name):
                    count, seconds = body[name]
                    setattr(limits, name, RateLimit(int(count), float(seconds)))
            self.emulator.limits = limits
            self.emulator.flood_after = body.get("after")
            self.emulator.flood_retry_after = int(body.get("retry_after") or 1)
            return {"ok": True}

        return web.json_response(await _control(flood()))


async def _control(work: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """Run a control request; a ControlError or a malformed value becomes a 400 answer."""
    try:
        return await work
    except (ControlError, ValueError, KeyError, TypeError) as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"ok": False, "description": str(exc)}), content_type="application/json"
        ) from None


def _message_content(body: dict[str, Any]) -> dict[str, Any]:
    """Bot API message fields for what a control client says the user sends."""
    if isinstance(body.get("text"), str):
        return {"text": body["text"]}
    if body.get("sticker"):
        emoji = body["sticker"] if isinstance(body["sticker"], str) else "👍"
        return {
            "sticker": {
                "file_id": "sticker-file",
                "file_unique_id": "sticker",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
                "emoji": emoji,
            }
        }
    if body.get("photo"):
        return {"photo": [{"file_id": "photo-file", "file_unique_id": "photo", "width": 90, "height": 90}]}
    if body.get("location"):
        latitude, longitude = body["location"]
        return {"location": {"latitude": float(latitude), "longitude": float(longitude)}}
    raise ControlError("say what the user sends: text, sticker, photo or location")


def serve(port: int, token: str | None = None) -> None:
    """Run the emulator alone until interrupted (`python -m bot emulator`)."""

    async def forever() -> None:
        server = EmulatorServer(BotApiEmulator(token) if token else None)
        server.emulator.record_calls = False
        url = await server.start(port=port)
        print(f"Bot API emulator at {url} (BOT_API_URL), token {server.emulator.token}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await server.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(forever())
