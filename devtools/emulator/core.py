"""The emulator's state: chats, messages and the Bot API methods the bot calls.

It reproduces Telegram's behaviour where bots usually trip: per-chat message ids,
"message is not modified", "message to edit not found", length limits, malformed HTML,
callback data over 64 bytes, a press on a button that is not (or no longer) there, and
flood limits (429 with retry_after) on request: once after N messages (`flood_after`), or
as Telegram's rates (`limits`): per private chat, per group or channel, for unsolicited
messages over all chats (bulk), and over every message; and deletion only within 48 hours of a
message's date (`clock` gives the emulator's time; every deletion is kept in `deleted`).

Everything here is synchronous and in memory; `devtools.emulator.server` puts it on HTTP.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
DELETABLE_FOR = 48 * 3600
"""Seconds after which Telegram no longer lets a bot delete a message (in private chats too)."""
MAX_DELETE_IDS = 100
HTML_TAGS = frozenset(
    [
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "blockquote",
    ]
)


class ApiError(Exception):
    """A Bot API error, returned to the caller as Telegram would."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram answers with."""
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(frozen=True)
class Button:
    """An inline keyboard button as the user sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass
class Message:
    """A message in a chat, from the user or from the bot."""

    message_id: int
    chat_id: int
    from_bot: bool
    text: str | None = None
    caption: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    media: str | None = None
    file: bytes | None = None
    file_name: str | None = None
    date: int = field(default_factory=lambda: int(time.time()))

    @property
    def buttons(self) -> list[list[Button]]:
        """The inline keyboard, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[Button(b["text"], b.get("callback_data"), b.get("url")) for b in row] for row in rows]

    @property
    def button_labels(self) -> list[str]:
        """Every button's label, in reading order."""
        return [button.text for row in self.buttons for button in row]

    @property
    def plain_text(self) -> str:
        """The text or caption as the user reads it, markup removed."""
        body = self.text if self.text is not None else (self.caption or "")
        return visible_text(body, self.parse_mode)


@dataclass
class Chat:
    """A chat with its own message-id counter, as in Telegram.

    `version` grows with every change in the chat (a message sent, edited or deleted, a
    button press answered), so a client can wait for "anything after version V".
    """

    id: int
    type: str
    title: str | None = None
    bot_can_post: bool = True
    started: bool = False
    messages: dict[int, Message] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    version: int = 0
    acted_at: float | None = None
    """When (monotonic) the person last wrote or pressed a button in this chat."""

    def add(self, message: Message) -> Message:
        self.messages[message.message_id] = message
        return message

    def newest_with_buttons(self) -> Message | None:
        """The bot's newest message that still has an inline keyboard."""
        for message in reversed(self.messages.values()):
            if message.from_bot and message.buttons:
                return message
        return None


@dataclass
class RateLimit:
    """At most `count` messages in any `seconds`-long window; more is a 429 with retry_after."""

    count: int
    seconds: float
    sent: dict[int | None, deque[float]] = field(default_factory=dict)

    def check(self, key: int | None, now: float) -> None:
        """Raise ApiError(429) if `key`'s window is full; forget what has left the window."""
        window = self.sent.setdefault(key, deque())
        while window and window[0] <= now - self.seconds:
            window.popleft()
        if not window:
            del self.sent[key]
        elif len(window) >= self.count:
            wait = max(1, math.ceil(window[0] + self.seconds - now))
            raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)

    def record(self, key: int | None, now: float) -> None:
        """Count one message sent under `key`."""
        self.sent.setdefault(key, deque()).append(now)


REPLY_WINDOW = 60.0
"""A message to a private chat within this many seconds of the person's last action is a reply."""


@dataclass
class FloodLimits:
    """Telegram's sending limits, each off unless set.

    `per_chat`: each private chat; `per_group`: each group or channel; `bulk`: messages the bot
    sends on its own (to a channel or group, or to a person who has not acted within
    REPLY_WINDOW), over all chats together; `overall`: every message over all chats.
    """

    per_chat: RateLimit | None = None
    per_group: RateLimit | None = None
    bulk: RateLimit | None = None
    overall: RateLimit | None = None

    def check(self, chat: Chat, now: float) -> None:
        """Count one message to `chat`, or raise ApiError(429) (counting nothing) if a limit is hit."""
        private = chat.type == "private"
        unsolicited = not private or chat.acted_at is None or now - chat.acted_at > REPLY_WINDOW
        applying = [
            (self.per_chat if private else self.per_group, chat.id),
            (self.bulk if unsolicited else None, None),
            (self.overall, None),
        ]
        limits = [(limit, key) for limit, key in applying if limit is not None]
        for limit, key in limits:
            limit.check(key, now)
        for limit, key in limits:
            limit.record(key, now)


@dataclass(frozen=True)
class Deletion:
    """A message the bot deleted, with what it showed then."""

    chat_id: int
    message_id: int
    from_bot: bool
    text: str


@dataclass(frozen=True)
class ApiCall:
    """One Bot API call the bot made, with its parameters."""

    method: str
    params: dict[str, Any]


class _HtmlChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in HTML_TAGS:
            self.error = self.error or f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f'Unexpected end tag "{tag}"'
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible_text(body: str, parse_mode: str | None) -> str:
    """The text a user sees; raises ApiError on markup Telegram would refuse."""
    if (parse_mode or "").upper() != "HTML":
        return body
    checker = _HtmlChecker()
    checker.feed(body)
    checker.close()
    if checker.error is None and checker.stack:
        checker.error = f'Can\'t find end tag corresponding to start tag "{checker.stack[-1]}"'
    if checker.error:
        raise ApiError(400, f"Bad Request: can't parse entities: {checker.error}")
    return "".join(checker.text)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class BotApiEmulator:
    """In-memory Telegram: the bot's calls go to `call`, users act through the update helpers."""

    def __init__(self, token: str = "123456789:TEST-token", username: str = "survey_test_bot"):
        self.token = token
        self.bot_user = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "Survey",
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.calls: list[ApiCall] = []
        self.call_counts: Counter[str] = Counter()
        self.record_calls = True
        self.chats: dict[int, Chat] = {}
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.callback_owner: dict[str, int] = {}
        self.callback_chat: dict[str, int] = {}
        self.flood_after: int | None = None
        self.flood_retry_after = 1
        self.failing_calls = 0
        """The next this many calls fail as Telegram does when its servers are in trouble (502)."""
        self.refusals: dict[str, str] = {}
        """Methods whose next call Telegram refuses (400 Bad Request) with the description given."""
        self.limits = FloodLimits()
        self.monotonic: Callable[[], float] = time.monotonic
        self.clock: Callable[[], float] = time.time
        """Telegram's wall clock: message dates and the 48-hour limit on deletion."""
        self.deleted: list[Deletion] = []
        self._sent_since_flood = 0
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self.listeners: list[Callable[[ApiCall], None]] = []
        self.observers: list[Callable[[Chat], None]] = []
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": lambda _p: self.bot_user,
            "logOut": lambda _p: True,
            "close": lambda _p: True,
            "setMyCommands": lambda _p: True,
            "deleteMyCommands": lambda _p: True,
            "setWebhook": lambda _p: True,
            "deleteWebhook": lambda _p: True,
            "sendChatAction": self._chat_action,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "editMessageText": self._edit_text,
            "editMessageReplyMarkup": self._edit_markup,
            "editMessageCaption": self._edit_caption,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "answerCallbackQuery": self._answer_callback,
        }

    # ---- the bot's side -------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any], files: dict[str, Any] | None = None) -> Any:
        """Run one Bot API method; returns its result or raises ApiError."""
        record = ApiCall(method, dict(params))
        self.call_counts[method] += 1
        if self.record_calls:
            self.calls.append(record)
        for listener in self.listeners:
            listener(record)
        handler = self._methods.get(method)
        if handler is None:
            raise ApiError(404, "Not Found")
        if self.failing_calls > 0:
            self.failing_calls -= 1
            raise ApiError(502, "Bad Gateway")
        if method in self.refusals:
            raise ApiError(400, f"Bad Request: {self.refusals.pop(method)}")
        if files:
            params = {**params, "_files": files}
        return handler(params)

    def _chat(self, chat_id: Any) -> Chat:
        try:
            chat = self.chats[int(chat_id)]
        except (KeyError, ValueError, TypeError):
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat.type == "private" and not chat.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat.type == "channel" and not chat.bot_can_post:
            raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
        return chat

    def _changed(self, chat: Chat) -> None:
        """Count a change in `chat` and tell the observers (the HTTP server's waiters)."""
        chat.version += 1
        for observer in self.observers:
            observer(chat)

    def _flood_check(self, chat: Chat) -> None:
        self.limits.check(chat, self.monotonic())
        if self.flood_after is None:
            return
        if self._sent_since_flood >= self.flood_after:
            self._sent_since_flood = 0
            self.flood_after = None
            raise ApiError(
                429,
                f"Too Many Requests: retry after {self.flood_retry_after}",
                retry_after=self.flood_retry_after,
            )
        self._sent_since_flood += 1

    @staticmethod
    def _check_markup(markup: Any) -> dict[str, Any] | None:
        if markup is None:
            return None
        if isinstance(markup, str):
            markup = json.loads(markup)
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if not button.get("text"):
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        return markup

    @staticmethod
    def _check_text(text: Any, parse_mode: str | None, limit: int, what: str) -> str:
        body = str(text)
        visible = visible_text(body, parse_mode)
        if not visible.strip():
            raise ApiError(400, f"Bad Request: {what} must be non-empty")
        if _utf16_len(visible) > limit:
            raise ApiError(400, f"Bad Request: {what} is too long")
        return body

    def _message_dict(self, message: Message) -> dict[str, Any]:
        chat = self.chats[message.chat_id]
        chat_dict: dict[str, Any] = {"id": chat.id, "type": chat.type}
        if chat.title:
            chat_dict["title"] = chat.title
        result: dict[str, Any] = {"message_id": message.message_id, "date": message.date, "chat": chat_dict}
        if message.from_bot:
            result["from"] = {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        if message.text is not None:
            result["text"] = message.plain_text
        if message.caption is not None:
            result["caption"] = message.plain_text
        if message.reply_markup:
            result["reply_markup"] = message.reply_markup
        if message.media == "photo":
            result["photo"] = [
                {
                    "file_id": f"photo-{chat.id}-{message.message_id}",
                    "file_unique_id": f"p{message.message_id}",
                    "width": 800,
                    "height": 600,
                }
            ]
        elif message.media == "document":
            result["document"] = {
                "file_id": f"doc-{chat.id}-{message.message_id}",
                "file_unique_id": f"d{message.message_id}",
                "file_name": message.file_name,
            }
        return result

    def _chat_action(self, params: dict[str, Any]) -> bool:
        self._chat(params["chat_id"])
        return True

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat(params["chat_id"])
        parse_mode = params.get("parse_mode")
        text = self._check_text(params.get("text", ""), parse_mode, MAX_TEXT, "message text")
        markup = self._check_markup(params.get("reply_markup"))
        self._flood_check(chat)
        message = self._new_message(chat, True, text=text, parse_mode=parse_mode, reply_markup=markup)
        self._changed(chat)
        return self._message_dict(message)

    def _send_media(self, params: dict[str, Any], kind: str) -> dict[str, Any]:
        chat = self._chat(params["chat_id"])
        parse_mode = params.get("parse_mode")
        caption = params.get("caption")
        if caption is not None:
            caption = self._check_text(caption, parse_mode, MAX_CAPTION, "message caption")
        markup = self._check_markup(params.get("reply_markup"))
        content, name = None, None
        files = params.get("_files") or {}
        attached = str(params.get(kind, ""))
        # An upload arrives as a multipart field named after the media, or referenced by attach://.
        part = files.get(attached[9:]) if attached.startswith("attach://") else files.get(kind)
        if part is not None:
            name, content = part[0], part[1]
        self._flood_check(chat)
        message = self._new_message(
            chat,
            True,
            caption=caption,
            parse_mode=parse_mode,
            reply_markup=markup,
            media=kind,
            file=content,
            file_name=name,
        )
        self._changed(chat)
        return self._message_dict(message)

    def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_media(params, "photo")

    def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_media(params, "document")

    def _target(self, params: dict[str, Any]) -> Message:
        chat = self._chat(params.get("chat_id"))
        message = chat.messages.get(int(params.get("message_id", 0)))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not message.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _edit(self, message: Message, **changes: Any) -> dict[str, Any]:
        if all(getattr(message, key) == value for key, value in changes.items()):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        for key, value in changes.items():
            setattr(message, key, value)
        self._changed(self.chats[message.chat_id])
        return self._message_dict(message)

    def _edit_text(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._target(params)
        if message.text is None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        parse_mode = params.get("parse_mode")
        text = self._check_text(params.get("text", ""), parse_mode, MAX_TEXT, "message text")
        markup = self._check_markup(params.get("reply_markup"))
        return self._edit(message, text=text, parse_mode=parse_mode, reply_markup=markup)

    def _edit_caption(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._target(params)
        parse_mode = params.get("parse_mode")
        caption = self._check_text(params.get("caption", ""), parse_mode, MAX_CAPTION, "message caption")
        markup = self._check_markup(params.get("reply_markup"))
        return self._edit(message, caption=caption, parse_mode=parse_mode, reply_markup=markup)

    def _edit_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._target(params)
        return self._edit(message, reply_markup=self._check_markup(params.get("reply_markup")))

    def _now(self) -> int:
        return int(self.clock())

    def _new_message(self, chat: Chat, from_bot: bool, **fields: Any) -> Message:
        """A new message in `chat`: the chat's next id, dated now."""
        return chat.add(Message(next(chat.ids), chat.id, from_bot, date=self._now(), **fields))

    def _deletable(self, message: Message) -> bool:
        """Within 48 hours of its date; a bot may delete its own and, in private chats, the user's."""
        chat = self.chats[message.chat_id]
        recent = self._now() - message.date < DELETABLE_FOR
        return recent and (message.from_bot or chat.type == "private")

    def _remove(self, chat: Chat, message: Message) -> None:
        del chat.messages[message.message_id]
        self.deleted.append(Deletion(chat.id, message.message_id, message.from_bot, message.plain_text))

    def _delete_message(self, params: dict[str, Any]) -> bool:
        chat = self._chat(params.get("chat_id"))
        message = chat.messages.get(int(params.get("message_id", 0)))
        if message is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        if not self._deletable(message):
            raise ApiError(400, "Bad Request: message can't be deleted for everyone")
        self._remove(chat, message)
        self._changed(chat)
        return True

    def _delete_messages(self, params: dict[str, Any]) -> bool:
        """Delete up to 100 messages; ones not found or no longer deletable are skipped."""
        chat = self._chat(params.get("chat_id"))
        ids = params.get("message_ids")
        if isinstance(ids, str):
            ids = json.loads(ids)
        if not isinstance(ids, list) or not ids:
            raise ApiError(400, "Bad Request: message identifiers are not specified")
        if len(ids) > MAX_DELETE_IDS:
            raise ApiError(400, "Bad Request: too many message identifiers specified")
        found = [chat.messages.get(int(message_id)) for message_id in ids]
        deletable = [m for m in found if m is not None and self._deletable(m)]
        for message in deletable:
            self._remove(chat, message)
        if deletable:
            self._changed(chat)
        return True

    def _answer_callback(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id not in self.callback_answers:
            raise ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        if self.callback_answers[query_id]:
            raise ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        self.callback_answers[query_id] = {
            "text": params.get("text"),
            "show_alert": params.get("show_alert", False),
        }
        chat = self.chats.get(self.callback_chat.get(query_id, 0))
        if chat is not None:
            self._changed(chat)
        return True

    # ---- the users' side ------------------------------------------------------------------

    def open_chat(
        self, chat_id: int, chat_type: str = "private", title: str | None = None, bot_can_post: bool = True
    ) -> Chat:
        """Make a chat known (a channel or group the bot was added to, or a private chat)."""
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = self.chats[chat_id] = Chat(chat_id, chat_type, title, bot_can_post)
        return chat

    def user_message(
        self, user: dict[str, Any], chat_id: int | None = None, chat_type: str = "private", **content: Any
    ) -> dict[str, Any]:
        """An update for a message the user sends; `content` holds Bot API message fields."""
        chat = self.open_chat(user["id"] if chat_id is None else chat_id, chat_type)
        chat.started = True
        chat.acted_at = self.monotonic()
        message = self._new_message(chat, False, text=content.get("text"))
        data = self._message_dict(message) | {"from": user} | content
        if isinstance(data.get("text"), str) and data["text"].startswith("/"):
            command = data["text"].split()[0]
            data["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        self._changed(chat)
        return {"update_id": next(self._update_ids), "message": data}

    def edited_message(self, user: dict[str, Any], message_id: int, text: str) -> dict[str, Any]:
        """An update for the user editing one of their earlier messages."""
        chat = self.chats[user["id"]]
        message = chat.messages[message_id]
        message.text = text
        data = self._message_dict(message) | {"from": user, "text": text, "edit_date": int(time.time())}
        return {"update_id": next(self._update_ids), "edited_message": data}

    def callback(self, user: dict[str, Any], message: Message, data: str) -> dict[str, Any]:
        """An update for the user pressing an inline button carrying `data` under `message`."""
        query_id = str(next(self._callback_ids))
        self.chats[message.chat_id].acted_at = self.monotonic()
        self.callback_answers[query_id] = {}
        self.callback_owner[query_id] = int(user["id"])
        self.callback_chat[query_id] = message.chat_id
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": query_id,
                "from": user,
                "chat_instance": str(message.chat_id),
                "message": self._message_dict(message),
                "data": data,
            },
        }

    def raw_update(self, body: dict[str, Any]) -> dict[str, Any]:
        """Wrap any update body with a fresh update id."""
        return {"update_id": next(self._update_ids), **body}

    def press(self, user: dict[str, Any], message: Message, label: str) -> dict[str, Any]:
        """An update for pressing the button labelled `label`; a missing label is an error."""
        for row in message.buttons:
            for button in row:
                if button.text == label and button.callback_data is not None:
                    return self.callback(user, message, button.callback_data)
        raise LookupError(f"no button {label!r} under message {message.message_id}: {message.button_labels}")

    def bot_messages(self, chat_id: int) -> list[Message]:
        """The bot's messages in a chat, oldest first (as they are now, after edits)."""
        chat = self.chats.get(chat_id)
        return [m for m in chat.messages.values() if m.from_bot] if chat else []
