"""A client of the emulator's control API: act as Telegram users over HTTP and read their chats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector

DEFAULT_TIMEOUT = 10.0


class ControlRefused(Exception):
    """The emulator refused a control request (a button that is not there, an unknown user...)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{status}: {description}")
        self.status = status
        self.description = description


@dataclass(frozen=True)
class Shown:
    """A message as the user sees it in the chat."""

    message_id: int
    from_bot: bool
    text: str | None
    html: str | None
    buttons: tuple[tuple[str, ...], ...]
    media: str | None = None
    file_name: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Shown:
        return cls(
            data["message_id"],
            data["from_bot"],
            data.get("text"),
            data.get("html"),
            tuple(tuple(button["text"] for button in row) for row in data.get("buttons", [])),
            data.get("media"),
            data.get("file_name"),
        )

    @property
    def labels(self) -> list[str]:
        """Every button label, in reading order."""
        return [label for row in self.buttons for label in row]


@dataclass(frozen=True)
class ChatView:
    """A chat at one version: its messages, oldest first."""

    id: int
    version: int
    messages: tuple[Shown, ...]
    timed_out: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any], timed_out: bool = False) -> ChatView:
        return cls(
            data["id"],
            data["version"],
            tuple(Shown.from_json(m) for m in data["messages"]),
            timed_out or data.get("timed_out", False),
        )

    @property
    def bot_messages(self) -> list[Shown]:
        return [m for m in self.messages if m.from_bot]

    @property
    def keyboard(self) -> Shown | None:
        """The bot's newest message that has buttons: what the user can press now."""
        return next((m for m in reversed(self.messages) if m.from_bot and m.buttons), None)

    def after(self, message_id: int) -> list[Shown]:
        """The bot's messages newer than `message_id`."""
        return [m for m in self.bot_messages if m.message_id > message_id]


@dataclass(frozen=True)
class Reply:
    """What a user action led to: the chat after the bot's reply, and a press's toast."""

    chat: ChatView
    message_id: int | None = None
    toast: str | None = None
    update_id: int | None = None

    @property
    def timed_out(self) -> bool:
        return self.chat.timed_out


class ControlClient:
    """Talks to `/_control/` of an emulator at `base_url`; use as `async with ControlClient(url) as c`."""

    def __init__(self, base_url: str, connections: int = 100) -> None:
        self.base_url = base_url.rstrip("/") + "/_control"
        self._connections = connections
        self._session: ClientSession | None = None

    async def __aenter__(self) -> ControlClient:
        self._session = ClientSession(
            connector=TCPConnector(limit=self._connections), timeout=ClientTimeout(total=None)
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._session is not None
        await self._session.close()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None, **query: Any) -> Any:
        assert self._session is not None, "use ControlClient in `async with`"
        params = {k: str(v) for k, v in query.items() if v is not None}
        async with self._session.request(method, self.base_url + path, json=body, params=params) as answer:
            data = await answer.json(content_type=None)
            if answer.status >= 400:
                raise ControlRefused(answer.status, data.get("description", "") if data else "")
            return data

    # ---- users ------------------------------------------------------------------------------

    async def new_user(
        self,
        language_code: str | None = "ru",
        first_name: str = "User",
        user_id: int | None = None,
        **names: str,
    ) -> int:
        """A new Telegram user (a fresh id unless given; `last_name=`, `username=` too); chat id = user id."""
        body = {"id": user_id, "language_code": language_code, "first_name": first_name, **names}
        user = await self._call("POST", "/users", body)
        return int(user["id"])

    async def set_language(self, user_id: int, language_code: str | None) -> None:
        """Change the language of the user's Telegram app."""
        await self._call("PATCH", f"/users/{user_id}", {"language_code": language_code})

    async def send(
        self,
        user_id: int,
        text: str | None = None,
        *,
        wait: str = "reply",
        within: float = DEFAULT_TIMEOUT,
        limit: int | None = None,
        **content: Any,
    ) -> Reply:
        """The user sends `text` (or `sticker=`, `photo=`, `location=`); waits for the reply by default."""
        body = {"wait": wait, "timeout": within, "limit": limit, **content}
        if text is not None:
            body["text"] = text
        return self._reply(await self._call("POST", f"/users/{user_id}/messages", body))

    async def press(
        self,
        user_id: int,
        label: str,
        *,
        message_id: int | None = None,
        wait: str = "reply",
        within: float = DEFAULT_TIMEOUT,
        limit: int | None = None,
    ) -> Reply:
        """The user presses the button `label`; raises ControlRefused if it is not there."""
        body = {"label": label, "message_id": message_id, "wait": wait, "timeout": within, "limit": limit}
        return self._reply(await self._call("POST", f"/users/{user_id}/press", body))

    async def edit(self, user_id: int, message_id: int, text: str, *, wait: str = "reply") -> Reply:
        """The user edits their message `message_id` to read `text`."""
        body = {"message_id": message_id, "text": text, "wait": wait}
        return self._reply(await self._call("POST", f"/users/{user_id}/edit", body))

    @staticmethod
    def _reply(data: dict[str, Any]) -> Reply:
        chat = data.get("chat")
        view = (
            ChatView.from_json(chat, data.get("timed_out", False))
            if chat
            else ChatView(0, data["version"], ())
        )
        return Reply(view, data.get("message_id"), data.get("toast"), data.get("update_id"))

    # ---- chats ------------------------------------------------------------------------------

    async def chat(self, chat_id: int, limit: int | None = None) -> ChatView:
        return ChatView.from_json(await self._call("GET", f"/chats/{chat_id}", limit=limit))

    async def wait(
        self, chat_id: int, after: int, within: float = DEFAULT_TIMEOUT, limit: int | None = None
    ) -> ChatView:
        """The chat once its version passes `after` (or when `within` seconds run out: `timed_out`)."""
        data = await self._call("GET", f"/chats/{chat_id}/wait", after=after, timeout=within, limit=limit)
        return ChatView.from_json(data)

    async def settle(self, chat_id: int, after: int, first: float, quiet: float) -> ChatView:
        """Wait up to `first` seconds for a change, then until `quiet` seconds pass with none."""
        view = await self.wait(chat_id, after, first)
        while not view.timed_out:
            view = await self.wait(chat_id, view.version, quiet)
        return view

    async def file(self, chat_id: int, message_id: int) -> bytes:
        """The bytes of a photo or document the bot sent."""
        assert self._session is not None
        async with self._session.get(f"{self.base_url}/chats/{chat_id}/messages/{message_id}/file") as answer:
            answer.raise_for_status()
            return await answer.read()

    async def open_chat(self, chat_id: int, chat_type: str = "channel", title: str | None = None) -> None:
        """Make a channel or group the bot is a member of."""
        await self._call("POST", "/chats", {"id": chat_id, "type": chat_type, "title": title})

    # ---- the emulator -----------------------------------------------------------------------

    async def flood(
        self,
        per_chat: tuple[int, float] | None = None,
        overall: tuple[int, float] | None = None,
        after: int | None = None,
        retry_after: int = 1,
        per_group: tuple[int, float] | None = None,
        bulk: tuple[int, float] | None = None,
    ) -> None:
        """Simulate Telegram's flood limits (None turns one off): see FloodLimits."""
        body = {
            "per_chat": per_chat,
            "per_group": per_group,
            "bulk": bulk,
            "overall": overall,
            "after": after,
            "retry_after": retry_after,
        }
        await self._call("PUT", "/flood", body)

    async def stats(self) -> dict[str, Any]:
        """Calls by method, updates pending and delivered, mode."""
        return await self._call("GET", "/stats")

    async def idle(self, within: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """Wait until the bot has answered every update (none pending or being delivered); the stats then."""
        data: dict[str, Any] = await self._call("GET", "/idle", timeout=within)
        if data.pop("timed_out"):
            raise TimeoutError(f"updates still pending after {within} s: {data}")
        return data

    async def wait_for_call(self, method: str, at_least: int = 1, within: float = DEFAULT_TIMEOUT) -> bool:
        """Wait until the bot has called `method` `at_least` times; False on timeout."""
        data = await self._call("GET", f"/calls/{method}", at_least=at_least, timeout=within)
        return not data["timed_out"]
