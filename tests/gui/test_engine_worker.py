"""EngineWorker: one engine thread, ordered jobs, coalesced deltas, cancel and clean shutdown.

The fake answer source stands in for llama.cpp so these run in well under a second each,
except the two that must hold a job open for a while (UI responsiveness, shutdown).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QTimer

from desktop_app.core.llm.events import AnswerDelta, Done
from desktop_app.ui.engine_worker import EngineWorker
from tests.fixtures.fake_engine import failing_job, fake_answer, words

LONG_TEXT = " ".join(f"word{i}" for i in range(200))


class Recorder:
    """Every signal of a worker, in arrival order, with the thread each slot ran on."""

    TERMINAL = ("finished", "failed", "cancelled")

    def __init__(self, worker: EngineWorker) -> None:
        self.events: list[tuple[str, int, tuple[object, ...]]] = []
        self.slot_threads: set[int] = set()
        for name in ("started", "progress", "delta", "finished", "failed", "result", "cancelled"):
            getattr(worker, name).connect(lambda rid, *args, n=name: self._record(n, rid, args))

    def _record(self, name: str, rid: int, args: tuple[object, ...]) -> None:
        self.slot_threads.add(threading.get_ident())
        self.events.append((name, rid, args))

    def of(self, rid: int, name: str | None = None) -> list[tuple[str, tuple[object, ...]]]:
        return [(n, a) for n, r, a in self.events if r == rid and name in (None, n)]

    def ended(self, rid: int) -> bool:
        return any(n in self.TERMINAL for n, _ in self.of(rid))

    def text(self, rid: int) -> tuple[str, str]:
        deltas = self.of(rid, "delta")
        return "".join(a[0] for _, a in deltas), "".join(a[1] for _, a in deltas)

    def done(self, rid: int) -> Done:
        [(_, (done,))] = self.of(rid, "finished")
        assert isinstance(done, Done)
        return done


@pytest.fixture
def worker(qtbot) -> Iterator[EngineWorker]:
    w = EngineWorker()
    yield w
    assert w.shutdown(2000)


@pytest.fixture
def rec(worker: EngineWorker) -> Recorder:
    return Recorder(worker)


def test_deltas_arrive_in_order_and_concatenate(qtbot, worker, rec) -> None:
    rid = worker.submit(
        fake_answer("The answer is 42.", reasoning="Let me think.", prefill_steps=3)
    )
    qtbot.waitUntil(lambda: rec.ended(rid), timeout=5000)

    assert rec.text(rid) == ("The answer is 42.", "Let me think.")
    done = rec.done(rid)
    assert (done.finish_reason, done.answer, done.reasoning) == ("stop", *rec.text(rid))
    names = [n for n, _ in rec.of(rid)]
    assert names[0] == "started" and names[-1] == "finished"
    assert "progress" in names and names.index("progress") < names.index("delta")
    _, (done_tokens, total, rate, _eta) = rec.of(rid, "progress")[-1]
    assert total == 3 * 64 and 0 < done_tokens <= total and rate > 0
    # Plain lambdas run on the UI thread too: the signals belong to a UI-thread object.
    assert rec.slot_threads == {threading.get_ident()}


def test_deltas_are_coalesced(qtbot, worker, rec) -> None:
    rid = worker.submit(fake_answer(LONG_TEXT, delay_s=0.001))
    qtbot.waitUntil(lambda: rec.ended(rid), timeout=5000)

    assert rec.text(rid)[0] == LONG_TEXT
    assert 2 <= len(rec.of(rid, "delta")) <= 40  # 200 tokens in ~0.25 s at 20 Hz


def test_request_ids_increase_and_no_delta_follows_finished(qtbot, worker, rec) -> None:
    rids = [worker.submit(fake_answer(f"answer {i} " * 10, delay_s=0.002)) for i in range(3)]
    assert rids == sorted(rids) and len(set(rids)) == 3
    qtbot.waitUntil(lambda: all(rec.ended(r) for r in rids), timeout=5000)

    # What a view does: keep only the latest request and drop anything else; and rely on
    # the worker never sending a delta for a request after its `finished`.
    ended: set[int] = set()
    for name, rid, _ in rec.events:
        assert rid not in ended, f"{name} after finished for request {rid}"
        if name == "finished":
            ended.add(rid)
    assert [r for n, r, _ in rec.events if n == "started"] == rids
    for i, rid in enumerate(rids):
        assert rec.text(rid)[0] == f"answer {i} " * 10


def test_cancel_stops_the_running_answer_within_one_token(qtbot, worker, rec) -> None:
    rid = worker.submit(fake_answer(LONG_TEXT, delay_s=0.05))
    qtbot.waitUntil(lambda: bool(rec.of(rid, "delta")), timeout=5000)
    assert worker.current() == rid
    cancelled_at = time.monotonic()
    worker.cancel(rid)
    qtbot.waitUntil(lambda: rec.ended(rid), timeout=5000)

    assert time.monotonic() - cancelled_at < 0.5  # one 50 ms token, plus signal delivery
    done = rec.done(rid)
    assert done.finish_reason == "cancelled"
    assert LONG_TEXT.startswith(done.answer) and 0 < len(words(done.answer)) < 20
    assert rec.text(rid)[0] == done.answer  # nothing generated was lost
    assert worker.current() is None


def test_a_failing_job_reports_the_message_and_the_worker_goes_on(qtbot, worker, rec, caplog):
    bad = worker.submit(failing_job("The model file is damaged.", partial="Half an"))
    buggy = worker.call(lambda cancel: 1 / 0)
    good = worker.submit(fake_answer("Still here."))
    with caplog.at_level(logging.ERROR):
        qtbot.waitUntil(lambda: rec.ended(good), timeout=5000)

    assert rec.of(bad, "failed") == [("failed", ("The model file is damaged.",))]
    assert rec.text(bad)[0] == "Half an"  # flushed before `failed`
    [(_, (message,))] = rec.of(buggy, "failed")
    assert message == "Unexpected error: division by zero; details are in the log"
    assert "ZeroDivisionError" in caplog.text
    assert rec.done(good).answer == "Still here."


def test_call_returns_its_value_through_result(qtbot, worker, rec) -> None:
    rid = worker.call(lambda cancel: {"model": "tiny", "cancelled": cancel.is_set()})
    qtbot.waitUntil(lambda: rec.ended(rid), timeout=5000)

    value = {"model": "tiny", "cancelled": False}
    assert rec.of(rid) == [("started", ()), ("result", (value,)), ("finished", (value,))]


def test_jobs_run_one_at_a_time_in_order_on_one_engine_thread(qtbot, worker, rec) -> None:
    runs: list[tuple[int, int, float, float]] = []

    def job(i: int):
        def run(cancel: threading.Event) -> None:
            begin = time.monotonic()
            time.sleep(0.02)
            runs.append((i, threading.get_ident(), begin, time.monotonic()))

        return run

    rids = [worker.call(job(i)) for i in range(5)]
    qtbot.waitUntil(lambda: all(rec.ended(r) for r in rids), timeout=5000)

    assert [i for i, *_ in runs] == list(range(5))
    threads = {t for _, t, *_ in runs}
    assert len(threads) == 1 and threading.get_ident() not in threads
    for (_, _, _, end), (_, _, begin, _) in zip(runs, runs[1:], strict=False):
        assert end <= begin


def test_a_cancelled_queued_job_never_runs(qtbot, worker, rec) -> None:
    ran: list[int] = []
    first = worker.submit(fake_answer("one two three four", delay_s=0.05))
    queued = worker.call(lambda cancel: ran.append(1))
    also_queued = worker.call(lambda cancel: ran.append(2))
    worker.cancel(queued)
    qtbot.waitUntil(lambda: rec.ended(also_queued), timeout=5000)

    assert rec.done(first).finish_reason == "stop"  # cancelling another id left it alone
    assert rec.of(queued) == [("cancelled", ())]
    assert ran == [2]


def test_cancel_of_no_request_cancels_nothing(qtbot, worker, rec) -> None:
    """A window passing an unset id (None) once stopped every answer and queued job."""
    running = worker.submit(fake_answer("one two three four", delay_s=0.02))
    queued = worker.call(lambda cancel: "ran")
    qtbot.waitUntil(lambda: worker.current() == running, timeout=5000)
    worker.cancel(None)
    qtbot.waitUntil(lambda: rec.ended(queued), timeout=5000)
    assert rec.done(running).finish_reason == "stop"
    assert rec.done(running).answer == "one two three four"
    assert rec.of(queued, "result") == [("result", ("ran",))]


def test_cancel_all_stops_the_running_job_and_drops_the_queue(qtbot, worker, rec) -> None:
    ran: list[int] = []
    running = worker.submit(fake_answer(LONG_TEXT, delay_s=0.05))
    queued = [worker.call(lambda cancel: ran.append(1)) for _ in range(3)]
    qtbot.waitUntil(lambda: worker.current() == running, timeout=5000)
    worker.cancel_all()
    qtbot.waitUntil(lambda: all(rec.ended(r) for r in queued), timeout=5000)

    assert rec.done(running).finish_reason == "cancelled"
    assert all(rec.of(r) == [("cancelled", ())] for r in queued)
    assert ran == []


def test_shutdown_mid_answer_is_quick_and_keeps_the_text(qtbot, rec, worker) -> None:
    rid = worker.submit(fake_answer(LONG_TEXT, delay_s=0.05))
    queued = worker.submit(fake_answer("never"))
    qtbot.waitUntil(lambda: bool(rec.of(rid, "delta")), timeout=5000)

    begin = time.monotonic()
    assert worker.shutdown(2000)
    assert time.monotonic() - begin < 2
    # Delivered before shutdown returned: a closing window can still save the partial answer.
    done = rec.done(rid)
    assert done.finish_reason == "cancelled" and rec.text(rid)[0] == done.answer
    assert rec.of(queued) == [("cancelled", ())]
    assert worker.shutdown(100)  # idempotent
    with pytest.raises(RuntimeError):
        worker.submit(fake_answer("too late"))


def _busy_answer(cancel: threading.Event):
    """About 2 s of pure-Python work that holds the GIL (a sleeping job would release it and
    prove nothing about a job that computes), yielding a token every 20 ms."""
    for _ in range(100):
        end = time.perf_counter() + 0.02
        while time.perf_counter() < end and not cancel.is_set():
            sum(range(200))
        yield AnswerDelta("tok ")
    return


def test_the_ui_thread_is_never_blocked(qtbot, worker, rec) -> None:
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    begin = time.monotonic()
    rid = worker.submit(_busy_answer)
    qtbot.waitUntil(lambda: rec.ended(rid), timeout=10000)
    elapsed = time.monotonic() - begin
    timer.stop()

    assert rec.text(rid)[0] == "tok " * 100
    # The chat view redraws at up to 20 Hz, so the UI thread must get at least that often;
    # the GIL's 5 ms switch interval shared with the job (and a loaded CI machine) keeps it
    # below the timer's 100 Hz (57 ticks in about 2 s was seen in CI).
    assert len(ticks) >= 20 * elapsed
    # A UI thread that waited for the job would miss ticks for its whole 2 s; 0.5 s leaves
    # room for a loaded 2-core machine (0.25 s was exceeded once while CI ran beside it).
    assert max(b - a for a, b in zip(ticks, ticks[1:], strict=False)) < 0.5
