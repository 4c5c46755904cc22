"""Update processing: concurrent across people, in order for each person; flood limits waited out."""

from __future__ import annotations

import asyncio
import random

from telegram import Update
from telegram.ext import Application, SimpleUpdateProcessor

from bot.concurrency import Admission, PerPersonOrder
from devtools.emulator import BotApiEmulator
from tests.harness import BotHarness


async def test_one_persons_updates_run_in_order_while_others_overlap() -> None:
    processor, order = SimpleUpdateProcessor(max_concurrent_updates=8), PerPersonOrder()
    emulator = BotApiEmulator()
    users = [{"id": 100 + n, "is_bot": False, "first_name": "U"} for n in range(4)]
    log: list[tuple[int, int, str]] = []
    rng = random.Random(5)
    running = 0
    overlap = 0

    async def handle(user_id: int, sequence: int) -> None:
        nonlocal running, overlap
        running += 1
        overlap = max(overlap, running)
        log.append((user_id, sequence, "start"))
        await asyncio.sleep(rng.random() / 100)
        log.append((user_id, sequence, "end"))
        running -= 1

    def receive(update: Update, user_id: int, sequence: int) -> asyncio.Task[None]:
        assert order.admit(update) is Admission.RUN
        return asyncio.create_task(
            order.run(update, lambda: processor.process_update(update, handle(user_id, sequence)))
        )

    tasks = []
    async with processor:
        for sequence in range(10):
            for user in users:
                update = Update.de_json(emulator.user_message(user, text=str(sequence)), None)
                tasks.append(receive(update, user["id"], sequence))
        await asyncio.gather(*tasks)
    for user in users:
        mine = [(sequence, what) for who, sequence, what in log if who == user["id"]]
        assert mine == [(s, w) for s in range(10) for w in ("start", "end")], "in order, one at a time"
    assert overlap > 1, "different people are served concurrently"
    assert order.people_in_flight == 0, "no lock is kept once a person has nothing in flight"


async def test_one_person_flooding_the_bot_holds_one_slot_not_all() -> None:
    """An attacker sends 20 updates while the first is stuck: someone else is still served at once."""
    processor, order = SimpleUpdateProcessor(max_concurrent_updates=2), PerPersonOrder()
    emulator = BotApiEmulator()
    attacker, other = ({"id": n, "is_bot": False, "first_name": "U"} for n in (1, 2))
    stuck = asyncio.Event()

    async def handle(user: dict[str, object]) -> None:
        if user is attacker:
            await stuck.wait()

    def receive(user: dict[str, object]) -> asyncio.Task[None]:
        update = Update.de_json(emulator.user_message(user, text="x"), None)
        assert order.admit(update) is Admission.RUN
        return asyncio.create_task(order.run(update, lambda: processor.process_update(update, handle(user))))

    async with processor:
        flood = [receive(attacker) for _ in range(order.backlog)]
        await asyncio.wait_for(receive(other), timeout=5)
        assert processor.current_concurrent_updates == 1, "the attacker's queue waits outside the slots"
        stuck.set()
        await asyncio.gather(*flood)
    assert order.people_in_flight == 0


async def test_a_persons_backlog_is_bounded_and_the_surplus_warned_once_per_burst() -> None:
    """Past the backlog a person's updates are dropped, the first of each burst with a warning, the
    rest until the backlog has drained; other people are admitted meanwhile."""
    order, emulator = PerPersonOrder(backlog=3), BotApiEmulator()
    flooder, other = ({"id": n, "is_bot": False, "first_name": "U"} for n in (1, 2))

    def update(user: dict[str, object]) -> Update:
        return Update.de_json(emulator.user_message(user, text="x"), None)

    done: list[str] = []

    async def work(what: str) -> None:
        done.append(what)

    flood = [update(flooder) for _ in range(7)]
    assert [order.admit(u) for u in flood[:3]] == [Admission.RUN] * 3 and not order.overflowed(flood[0])
    assert [order.admit(u) for u in flood[3:]] == [Admission.WARN] + [Admission.DROP] * 3
    assert order.admit(update(other)) is Admission.RUN
    assert order.overflowed(flood[0]) and order.people_in_flight == 2
    await order.run(flood[0], lambda: work("flood 0"))
    assert order.admit(update(flooder)) is Admission.DROP, "dropped until the backlog has drained"
    await asyncio.gather(*(order.run(u, lambda n=n: work(f"flood {n}")) for n, u in enumerate(flood[1:3], 1)))
    assert done == ["flood 0", "flood 1", "flood 2"]
    assert not order.overflowed(flood[0]) and order.people_in_flight == 1, "a drained backlog ends the burst"
    burst = [update(flooder) for _ in range(5)]
    assert [order.admit(u) for u in burst] == [Admission.RUN] * 3 + [Admission.WARN, Admission.DROP]


async def test_the_application_bounds_concurrency_with_ptbs_processor(harness: BotHarness) -> None:
    application: Application = harness.application
    assert isinstance(application.update_processor, SimpleUpdateProcessor)
    assert application.update_processor.max_concurrent_updates > 1


async def test_flood_limits_are_waited_out_without_losing_a_reply(harness: BotHarness) -> None:
    """Telegram answers 429 "retry after 1": the reply still arrives, once."""
    _ = harness.services.i18n.translator("ru")
    user = harness.user(language_code="ru")
    await user.send("/start")
    await user.press(_("I agree"))
    harness.emulator.flood_after = 0
    await user.send("45")
    assert user.last.plain_text == _("What is your gender?")
    assert [m.plain_text for m in user.messages].count(_("What is your gender?")) == 1
