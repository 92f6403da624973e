"""EngineQueue: one engine thread, ordered jobs, coalesced deltas, cancel and clean shutdown.

The fake answer source stands in for llama.cpp so these run in well under a second each.
Qt-free: the sink records each event with the thread it arrived on (the engine's).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from desktop_app.core.chat.engine_queue import (
    Cancelled,
    Delta,
    EngineQueue,
    Failed,
    Finished,
    Progress,
    RequestEvent,
    Started,
)
from desktop_app.core.llm.events import Done
from tests.fixtures.fake_engine import failing_job, fake_answer, words

LONG_TEXT = " ".join(f"word{i}" for i in range(200))


def wait_until(predicate, timeout_s: float = 5.0) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.002)


class Recorder:
    """Every event of the requests it is the sink of, in arrival order, with the thread
    each arrived on."""

    TERMINAL = ("finished", "failed", "cancelled")

    def __init__(self) -> None:
        self.events: list[tuple[str, int, tuple[object, ...]]] = []
        self.sink_threads: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self, event: RequestEvent) -> None:
        if isinstance(event, Progress):
            p = event.progress
            name, args = "progress", (p.done, p.total, p.tokens_per_s, p.eta_s)
        elif isinstance(event, Delta):
            name, args = "delta", (event.answer, event.reasoning)
        elif isinstance(event, Finished):
            name, args = "finished", (event.value,)
        elif isinstance(event, Failed):
            name, args = "failed", (event.message,)
        else:
            name, args = {Started: "started", Cancelled: "cancelled"}[type(event)], ()
        with self._lock:
            self.sink_threads.add(threading.get_ident())
            self.events.append((name, event.request_id, args))

    def of(self, rid: int, name: str | None = None) -> list[tuple[str, tuple[object, ...]]]:
        with self._lock:
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


class Worker:
    """An engine queue whose every request has the recorder as its sink."""

    def __init__(self, rec: Recorder) -> None:
        self.queue = EngineQueue("folio-engine-test")
        self._rec = rec

    def submit(self, job):
        return self.queue.submit(job, self._rec)

    def call(self, fn):
        return self.queue.call(fn, self._rec)

    def __getattr__(self, name: str):
        return getattr(self.queue, name)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def worker(rec: Recorder) -> Iterator[Worker]:
    w = Worker(rec)
    yield w
    assert w.shutdown(2)


def test_deltas_arrive_in_order_and_concatenate(worker, rec) -> None:
    rid = worker.submit(
        fake_answer("The answer is 42.", reasoning="Let me think.", prefill_steps=3)
    )
    wait_until(lambda: rec.ended(rid), 5)

    assert rec.text(rid) == ("The answer is 42.", "Let me think.")
    done = rec.done(rid)
    assert (done.finish_reason, done.answer, done.reasoning) == ("stop", *rec.text(rid))
    names = [n for n, _ in rec.of(rid)]
    assert names[0] == "started" and names[-1] == "finished"
    assert "progress" in names and names.index("progress") < names.index("delta")
    _, (done_tokens, total, rate, _eta) = rec.of(rid, "progress")[-1]
    assert total == 3 * 64 and 0 < done_tokens <= total and rate > 0
    # Every event arrives on the engine thread: the caller hops to its own (dispatch.py).
    assert len(rec.sink_threads) == 1 and threading.get_ident() not in rec.sink_threads


def test_deltas_are_coalesced(worker, rec) -> None:
    rid = worker.submit(fake_answer(LONG_TEXT, delay_s=0.001))
    wait_until(lambda: rec.ended(rid), 5)

    assert rec.text(rid)[0] == LONG_TEXT
    assert 2 <= len(rec.of(rid, "delta")) <= 40  # 200 tokens in ~0.25 s at 20 Hz


def test_request_ids_increase_and_no_delta_follows_finished(worker, rec) -> None:
    rids = [worker.submit(fake_answer(f"answer {i} " * 10, delay_s=0.002)) for i in range(3)]
    assert rids == sorted(rids) and len(set(rids)) == 3
    wait_until(lambda: all(rec.ended(r) for r in rids), 5)

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


def test_cancel_stops_the_running_answer_within_one_token(worker, rec) -> None:
    rid = worker.submit(fake_answer(LONG_TEXT, delay_s=0.05))
    wait_until(lambda: bool(rec.of(rid, "delta")), 5)
    assert worker.current() == rid
    cancelled_at = time.monotonic()
    worker.cancel(rid)
    wait_until(lambda: rec.ended(rid), 5)

    assert time.monotonic() - cancelled_at < 0.5  # one 50 ms token, plus delivery
    done = rec.done(rid)
    assert done.finish_reason == "cancelled"
    assert LONG_TEXT.startswith(done.answer) and 0 < len(words(done.answer)) < 20
    assert rec.text(rid)[0] == done.answer  # nothing generated was lost
    assert worker.current() is None


def test_a_failing_job_reports_the_message_and_the_worker_goes_on(worker, rec, caplog):
    bad = worker.submit(failing_job("The model file is damaged.", partial="Half an"))
    buggy = worker.call(lambda cancel: 1 / 0)
    good = worker.submit(fake_answer("Still here."))
    with caplog.at_level(logging.ERROR):
        wait_until(lambda: rec.ended(good), 5)

    assert rec.of(bad, "failed") == [("failed", ("The model file is damaged.",))]
    assert rec.text(bad)[0] == "Half an"  # flushed before `failed`
    [(_, (message,))] = rec.of(buggy, "failed")
    assert message == "Unexpected error: division by zero; details are in the log"
    assert "ZeroDivisionError" in caplog.text
    assert rec.done(good).answer == "Still here."


def test_call_returns_its_value_in_finished(worker, rec) -> None:
    rid = worker.call(lambda cancel: {"model": "tiny", "cancelled": cancel.is_set()})
    wait_until(lambda: rec.ended(rid), 5)

    value = {"model": "tiny", "cancelled": False}
    assert rec.of(rid) == [("started", ()), ("finished", (value,))]


def test_jobs_run_one_at_a_time_in_order_on_one_engine_thread(worker, rec) -> None:
    runs: list[tuple[int, int, float, float]] = []

    def job(i: int):
        def run(cancel: threading.Event) -> None:
            begin = time.monotonic()
            time.sleep(0.02)
            runs.append((i, threading.get_ident(), begin, time.monotonic()))

        return run

    rids = [worker.call(job(i)) for i in range(5)]
    wait_until(lambda: all(rec.ended(r) for r in rids), 5)

    assert [i for i, *_ in runs] == list(range(5))
    threads = {t for _, t, *_ in runs}
    assert len(threads) == 1 and threading.get_ident() not in threads
    for (_, _, _, end), (_, _, begin, _) in zip(runs, runs[1:], strict=False):
        assert end <= begin


def test_a_cancelled_queued_job_never_runs(worker, rec) -> None:
    ran: list[int] = []
    first = worker.submit(fake_answer("one two three four", delay_s=0.05))
    queued = worker.call(lambda cancel: ran.append(1))
    also_queued = worker.call(lambda cancel: ran.append(2))
    worker.cancel(queued)
    wait_until(lambda: rec.ended(also_queued), 5)

    assert rec.done(first).finish_reason == "stop"  # cancelling another id left it alone
    assert rec.of(queued) == [("cancelled", ())]
    assert ran == [2]


def test_cancel_of_no_request_cancels_nothing(worker, rec) -> None:
    """A window passing an unset id (None) once stopped every answer and queued job."""
    running = worker.submit(fake_answer("one two three four", delay_s=0.02))
    queued = worker.call(lambda cancel: "ran")
    wait_until(lambda: worker.current() == running, 5)
    worker.cancel(None)
    wait_until(lambda: rec.ended(queued), 5)
    assert rec.done(running).finish_reason == "stop"
    assert rec.done(running).answer == "one two three four"
    assert rec.of(queued, "finished") == [("finished", ("ran",))]


def test_cancel_all_stops_the_running_job_and_drops_the_queue(worker, rec) -> None:
    ran: list[int] = []
    running = worker.submit(fake_answer(LONG_TEXT, delay_s=0.05))
    queued = [worker.call(lambda cancel: ran.append(1)) for _ in range(3)]
    wait_until(lambda: worker.current() == running, 5)
    worker.cancel_all()
    wait_until(lambda: all(rec.ended(r) for r in queued), 5)

    assert rec.done(running).finish_reason == "cancelled"
    assert all(rec.of(r) == [("cancelled", ())] for r in queued)
    assert ran == []


def test_shutdown_mid_answer_is_quick_and_keeps_the_text(rec, worker) -> None:
    rid = worker.submit(fake_answer(LONG_TEXT, delay_s=0.05))
    queued = worker.submit(fake_answer("never"))
    wait_until(lambda: bool(rec.of(rid, "delta")), 5)

    begin = time.monotonic()
    assert worker.shutdown(2)
    assert time.monotonic() - begin < 2
    # Sent before shutdown returned: a closing window can still save the partial answer.
    done = rec.done(rid)
    assert done.finish_reason == "cancelled" and rec.text(rid)[0] == done.answer
    assert rec.of(queued) == [("cancelled", ())]
    assert worker.shutdown(0.1)  # idempotent
    with pytest.raises(RuntimeError):
        worker.submit(fake_answer("too late"))
