"""The emulator over HTTP: Telegram's answers and quirks, long polling, webhooks, the control API."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, FormData, web

from devtools.emulator import BotApiEmulator
from devtools.emulator.client import ControlClient, ControlRefused
from devtools.emulator.server import SECRET_HEADER, EmulatorServer

TOKEN = "123456789:HTTP-test-token"


@pytest.fixture
async def server() -> AsyncIterator[EmulatorServer]:
    server = EmulatorServer(BotApiEmulator(TOKEN))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session


@pytest.fixture
async def control(server: EmulatorServer) -> AsyncIterator[ControlClient]:
    async with ControlClient(server.url) as client:
        yield client


async def api(
    http: ClientSession, server: EmulatorServer, method: str, token: str = TOKEN, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    """POST one Bot API call; the HTTP status and the JSON body."""
    async with http.post(f"{server.url}/bot{token}/{method}", **kwargs) as answer:
        return answer.status, await answer.json()


async def started_user(control: ControlClient) -> int:
    """A user who has opened the private chat with the bot (sent /start)."""
    user_id = await control.new_user("ru")
    await control.send(user_id, "/start", wait="none")
    return user_id


async def test_answers_are_telegrams_envelope(server: EmulatorServer, http: ClientSession) -> None:
    """Results come as {"ok": true, "result"}, errors with error_code, description and the same status."""
    async with http.get(f"{server.url}/bot{TOKEN}/getMe") as answer:
        assert answer.status == 200
        body = await answer.json()
    assert body["ok"] is True and body["result"]["is_bot"] is True and body["result"]["id"] == 123456789
    assert await api(http, server, "getMe", token="1:wrong") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    status, body = await api(http, server, "noSuchMethod")
    assert (status, body["ok"], body["error_code"]) == (404, False, 404)
    status, body = await api(http, server, "sendMessage", data={"text": "no chat"})
    assert (status, body["ok"], body["error_code"]) == (400, False, 400)


async def test_message_ids_are_per_chat_and_edits_fail_as_in_telegram(
    server: EmulatorServer, http: ClientSession, control: ControlClient
) -> None:
    """Each chat counts its own message ids; unchanged and missing edits are Telegram's 400s."""
    alice, bob = await started_user(control), await started_user(control)
    ids = []
    for chat_id in (alice, alice, bob):
        status, body = await api(http, server, "sendMessage", data={"chat_id": str(chat_id), "text": "hi"})
        assert status == 200
        ids.append(body["result"]["message_id"])
    assert ids == [2, 3, 2]

    edit = {"chat_id": alice, "message_id": 2, "text": "hi"}
    status, body = await api(http, server, "editMessageText", json=edit)
    assert status == 400 and body["description"].startswith("Bad Request: message is not modified")
    status, body = await api(http, server, "editMessageText", json=edit | {"message_id": 99})
    assert body["description"] == "Bad Request: message to edit not found"
    status, body = await api(
        http, server, "editMessageText", json=edit | {"text": "<b>bye</b>", "parse_mode": "HTML"}
    )
    assert status == 200 and body["result"]["text"] == "bye"


async def test_deleting_messages_as_telegram_allows(
    server: EmulatorServer, http: ClientSession, control: ControlClient
) -> None:
    """Both sides of a private chat within 48 hours; up to 100 ids per call; unknown ids skipped."""
    user = await started_user(control)
    for _ in range(3):
        await api(http, server, "sendMessage", data={"chat_id": str(user), "text": "answer"})
    status, body = await api(
        http, server, "deleteMessages", data={"chat_id": str(user), "message_ids": "[1, 2, 404]"}
    )
    assert (status, body["result"]) == (200, True)
    assert [m.message_id for m in (await control.chat(user)).messages] == [3, 4]
    emulator = server.emulator
    assert [(d.message_id, d.from_bot, d.text) for d in emulator.deleted] == [
        (1, False, "/start"),
        (2, True, "answer"),
    ]
    for ids, description in (([], "are not specified"), (list(range(1, 102)), "too many")):
        status, body = await api(http, server, "deleteMessages", json={"chat_id": user, "message_ids": ids})
        assert status == 400 and description in body["description"]
    status, body = await api(http, server, "deleteMessage", json={"chat_id": user, "message_id": 2})
    assert body["description"] == "Bad Request: message to delete not found"
    moment = time.time()
    emulator.clock = lambda: moment + 48 * 3600
    status, body = await api(http, server, "deleteMessage", json={"chat_id": user, "message_id": 3})
    assert body["description"] == "Bad Request: message can't be deleted for everyone"
    await api(http, server, "deleteMessages", json={"chat_id": user, "message_ids": [3, 4]})
    assert len((await control.chat(user)).messages) == 2 and len(emulator.deleted) == 2


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"text": "x" * 4097}, "Bad Request: message text is too long"),
        ({"text": "<b>open", "parse_mode": "HTML"}, "Bad Request: can't parse entities"),
        ({"text": "<blink>no</blink>", "parse_mode": "HTML"}, "Bad Request: can't parse entities"),
        (
            {
                "text": "ok",
                "reply_markup": json.dumps({"inline_keyboard": [[{"text": "b", "callback_data": "x" * 65}]]}),
            },
            "Bad Request: BUTTON_DATA_INVALID",
        ),
    ],
)
async def test_refused_messages(
    server: EmulatorServer,
    http: ClientSession,
    control: ControlClient,
    params: dict[str, str],
    description: str,
) -> None:
    """Texts over 4,096 characters, bad HTML and callback data over 64 bytes are refused."""
    user = await started_user(control)
    status, body = await api(http, server, "sendMessage", data={"chat_id": str(user), **params})
    assert status == 400 and body["description"].startswith(description)
    assert (await control.chat(user)).bot_messages == []


async def test_uploads_and_captions(
    server: EmulatorServer, http: ClientSession, control: ControlClient
) -> None:
    """Multipart uploads are kept (and readable through the control API); captions over 1,024 fail."""
    user = await started_user(control)
    form = FormData({"chat_id": str(user), "caption": "the data", "document": "attach://file"})
    form.add_field("file", b"a,b\n1,2\n", filename="export.csv", content_type="text/csv")
    status, body = await api(http, server, "sendDocument", data=form)
    assert status == 200 and body["result"]["document"]["file_name"] == "export.csv"
    assert await control.file(user, body["result"]["message_id"]) == b"a,b\n1,2\n"

    form = FormData({"chat_id": str(user), "caption": "c" * 1025, "photo": "attach://file"})
    form.add_field("file", b"\x89PNG", filename="chart.png", content_type="image/png")
    status, body = await api(http, server, "sendPhoto", data=form)
    assert status == 400 and body["description"] == "Bad Request: message caption is too long"


async def test_a_user_who_never_wrote_cannot_be_messaged(
    server: EmulatorServer, http: ClientSession, control: ControlClient
) -> None:
    user = await control.new_user()
    server.emulator.open_chat(user)
    status, body = await api(http, server, "sendMessage", data={"chat_id": str(user), "text": "hello"})
    assert status == 403 and "can't initiate conversation" in body["description"]


async def test_flood_limits(server: EmulatorServer, http: ClientSession, control: ControlClient) -> None:
    """Per-chat and overall rates, and a one-off 429, answer with retry_after as Telegram does."""
    alice, bob, carol = [await started_user(control) for _ in range(3)]

    async def send(chat_id: int) -> tuple[int, dict[str, Any]]:
        return await api(http, server, "sendMessage", data={"chat_id": str(chat_id), "text": "x"})

    await control.flood(per_chat=(1, 60.0))
    assert (await send(alice))[0] == 200
    status, body = await send(alice)
    assert status == 429 and body["error_code"] == 429 and 1 <= body["parameters"]["retry_after"] <= 60
    assert (await send(bob))[0] == 200

    await control.flood(overall=(2, 60.0))
    assert [(await send(c))[0] for c in (alice, bob, carol)] == [200, 200, 429]

    await control.flood(after=1, retry_after=3)
    assert [(await send(alice))[0] for _ in range(3)] == [200, 429, 200]
    await control.flood()
    assert (await send(alice))[0] == 200


async def test_get_updates_long_polls_and_offset_confirms(
    server: EmulatorServer, http: ClientSession, control: ControlClient
) -> None:
    """getUpdates waits for an update (not its whole timeout); an offset confirms what came before."""
    started = time.monotonic()
    assert await api(http, server, "getUpdates", data={"timeout": "0.3"}) == (200, {"ok": True, "result": []})
    assert time.monotonic() - started >= 0.3

    poll = asyncio.create_task(api(http, server, "getUpdates", data={"timeout": "20"}))
    await server.until(lambda: server.waiting["getUpdates"] == 1)
    user = await control.new_user()
    started = time.monotonic()
    await control.send(user, "hello", wait="none")
    _, body = await poll
    assert time.monotonic() - started < 2
    [update] = body["result"]
    assert update["message"]["text"] == "hello" and update["message"]["from"]["id"] == user

    _, again = await api(http, server, "getUpdates", data={"timeout": "0"})
    assert again["result"] == [update], "unconfirmed updates are delivered again"
    _, confirmed = await api(http, server, "getUpdates", data={"offset": str(update["update_id"] + 1)})
    assert confirmed["result"] == []


async def test_a_second_poller_ends_the_first(server: EmulatorServer, http: ClientSession) -> None:
    first = asyncio.create_task(api(http, server, "getUpdates", data={"timeout": "20"}))
    await server.until(lambda: server.waiting["getUpdates"] == 1)
    second = asyncio.create_task(api(http, server, "getUpdates", data={"timeout": "0.2"}))
    status, body = await first
    assert status == 409 and "terminated by other getUpdates request" in body["description"]
    assert (await second)[0] == 200


async def test_webhook_gets_updates_with_the_secret_and_retries(
    server: EmulatorServer, http: ClientSession, control: ControlClient
) -> None:
    """After setWebhook, updates are POSTed with the secret header, again until answered 2xx."""
    received: list[tuple[str | None, dict[str, Any]]] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get(SECRET_HEADER), await request.json()))
        if len(received) == 1:
            return web.Response(status=500)
        arrived.set()
        return web.Response()

    app = web.Application()
    app.add_routes([web.post("/hook", hook)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        url = f"http://127.0.0.1:{port}/hook"
        assert (await api(http, server, "setWebhook", data={"url": url, "secret_token": "s3cret_-x"}))[
            0
        ] == 200
        status, body = await api(http, server, "getUpdates")
        assert status == 409 and "webhook is active" in body["description"]
        _, info = await api(http, server, "getWebhookInfo")
        assert info["result"]["url"] == url

        user = await control.new_user()
        await control.send(user, "/start", wait="none")
        await asyncio.wait_for(arrived.wait(), 10)
        assert [secret for secret, _ in received] == ["s3cret_-x", "s3cret_-x"]
        assert received[0][1] == received[1][1] and received[0][1]["message"]["text"] == "/start"
        assert (await control.stats())["mode"] == "webhook"

        status, body = await api(http, server, "setWebhook", data={"url": url, "secret_token": "bad token!"})
        assert status == 400
        assert (await api(http, server, "deleteWebhook"))[0] == 200
        assert (await api(http, server, "getUpdates"))[0] == 200
    finally:
        await runner.cleanup()


async def test_pressing_a_button_that_is_not_there_is_refused(
    server: EmulatorServer, http: ClientSession, control: ControlClient
) -> None:
    """A label that is not on the message reaches nobody; a real press waits for its answer and toast."""
    user = await started_user(control)
    keyboard = {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}
    await api(http, server, "sendMessage", json={"chat_id": user, "text": "Sure?", "reply_markup": keyboard})
    pending = len(server.pending)
    with pytest.raises(ControlRefused) as refused:
        await control.press(user, "No")
    assert refused.value.status == 400 and "no button 'No'" in refused.value.description
    assert len(server.pending) == pending

    press = asyncio.create_task(control.press(user, "Yes", within=10))
    await server.until(lambda: server.waiting["reply"] == 1)
    query = server.pending[-1]["callback_query"]
    assert query["data"] == "y" and query["message"]["text"] == "Sure?"
    status, _ = await api(
        http, server, "answerCallbackQuery", data={"callback_query_id": query["id"], "text": "Done!"}
    )
    assert status == 200
    reply = await press
    assert reply.toast == "Done!" and not reply.timed_out
    status, body = await api(http, server, "answerCallbackQuery", data={"callback_query_id": query["id"]})
    assert status == 400 and "query is too old" in body["description"]


async def test_waiting_for_a_chat_returns_on_its_next_change(
    server: EmulatorServer, http: ClientSession, control: ControlClient
) -> None:
    user = await started_user(control)
    version = (await control.chat(user)).version
    quiet = await control.wait(user, version, within=0.2)
    assert quiet.timed_out and quiet.version == version

    waiting = asyncio.create_task(control.wait(user, version, within=20))
    await server.until(lambda: server.waiting["chat"] == 1)
    started = time.monotonic()
    await api(http, server, "sendMessage", data={"chat_id": str(user), "text": "news"})
    changed = await waiting
    assert time.monotonic() - started < 2
    assert not changed.timed_out and changed.bot_messages[-1].text == "news"

    sent = asyncio.create_task(control.send(user, "question?"))
    await server.until(lambda: server.waiting["reply"] == 1)
    await api(http, server, "sendMessage", data={"chat_id": str(user), "text": "answer"})
    reply = await sent
    assert [m.text for m in reply.chat.after(reply.message_id or 0)] == ["answer"]
    assert (await control.stats())["calls"]["sendMessage"] == 2
