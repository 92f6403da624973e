"""Model downloads that belong to the app, not to the dialog that started them.

A 5.7 GB download runs for many minutes; the user closes the Models dialog, chats with the
demo model, reopens the dialog or Settings, and expects to see the same download still
going — never a second one writing the same file. So one `DownloadManager` per window owns
every download; dialogs are views of its `Job`s and send it start/pause/cancel.

Each download runs on a plain thread of its own: never the UI thread (the window would
freeze) nor the engine thread (chat must keep answering meanwhile). A thread reports
through a `_Relay` created on the UI thread; a signal emitted from another thread to a
receiver living on the UI thread is queued, so every state change happens on the UI thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QObject, Signal

from desktop_app.core.models.catalog import CatalogEntry
from desktop_app.core.models.downloads import DownloadProgress, download
from desktop_app.core.models.pending_downloads import discard, pending

State = Literal["idle", "running", "pausing", "cancelling", "paused", "failed", "done"]
#: Progress crosses threads at most this often; a fast link delivers ~1,500 chunks a second.
_PROGRESS_INTERVAL_S = 0.1


class _Relay(QObject):
    """Carries one download thread's news to the UI thread (queued, since it lives there)."""

    progress = Signal(str, object)  # entry name, DownloadProgress
    ended = Signal(str, str, object)  # entry name, how ("done", "paused", ...), path or message


@dataclass
class Job:
    """What a view needs to draw one download; only the manager changes it."""

    entry: CatalogEntry
    state: State = "idle"
    progress: DownloadProgress | None = None
    message: str = ""  # the error, in words, when failed
    path: Path | None = None  # the file, when done
    _pause: threading.Event = field(default_factory=threading.Event, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _relay: _Relay | None = field(default=None, repr=False)  # released on the UI thread

    @property
    def busy(self) -> bool:
        """A thread still owns the part file."""
        return self.state in ("running", "pausing", "cancelling")


class DownloadManager(QObject):
    """Starts, pauses, resumes and cancels catalog downloads; one per window."""

    changed = Signal(str)  # an entry's job changed (name)
    downloaded = Signal(str, str)  # entry name, path of the verified file

    def __init__(self, parent: QObject | None = None, *, endpoint: str | None = None) -> None:
        """`endpoint` points downloads at another hub (tests, mirrors)."""
        super().__init__(parent)
        self.endpoint = endpoint
        #: A Hugging Face token typed for this session (gated repos); None uses the
        #: user's own login (HF_TOKEN or `hf auth login`), if any. Never written to disk.
        self.token: str | None = None
        self._jobs: dict[str, Job] = {}

    def job(self, entry: CatalogEntry) -> Job:
        """The entry's job; the first look reads the disk, so a restart shows "paused"."""
        job = self._jobs.get(entry.name)
        if job is None:
            job = self._jobs[entry.name] = Job(entry)
            job.path = entry.local_path()
            left = None if job.path else pending(entry.repo_id, entry.filename)
            if job.path is not None:
                job.state = "done"
            elif left is not None and left.done:
                job.state = "paused"
                job.progress = DownloadProgress(left.done, left.total, None, None)
        return job

    def jobs(self) -> list[Job]:
        return list(self._jobs.values())

    def start(self, entry: CatalogEntry) -> None:
        """Start, or resume from the part a pause, failure or earlier run left."""
        job = self.job(entry)
        if job.busy or job.state == "done":
            return
        job._pause.clear()
        job._cancel.clear()
        job.state, job.message = "running", ""
        # No parent: the thread's reference keeps the relay alive even if the window (and
        # this manager) is gone before the thread notices; Qt then drops its signals.
        relay = _Relay()
        relay.progress.connect(self._on_progress)
        relay.ended.connect(self._on_ended)
        job._relay = relay
        job._thread = threading.Thread(
            target=self._work,
            args=(job, relay, self.token),
            name=f"download {entry.name}",
            daemon=True,
        )
        job._thread.start()
        self.changed.emit(entry.name)

    def pause(self, name: str) -> None:
        job = self._jobs.get(name)
        if job is not None and job.state == "running":
            job._pause.set()  # the thread stops at the next chunk and confirms
            job.state = "pausing"
            self.changed.emit(name)

    def cancel(self, name: str) -> None:
        """Stop and delete the part; a paused download is deleted right here."""
        job = self._jobs.get(name)
        if job is None:
            return
        if job.busy:
            job._cancel.set()
            job.state = "cancelling"
        elif job.state in ("paused", "failed"):
            if discard(job.entry.repo_id, job.entry.filename):
                job.state, job.progress, job.message = "idle", None, ""
            else:
                job.state = "failed"
                job.message = (
                    "Another program or Folio window is downloading this file right now; "
                    "its download was left alone."
                )
        self.changed.emit(name)

    def shutdown(self, timeout_s: float = 2.0) -> None:
        """Pause every download (the app is closing): the parts resume on the next start."""
        running = [j for j in self._jobs.values() if j.busy]
        for job in running:
            job._pause.set()
        deadline = time.monotonic() + timeout_s
        for job in running:
            if job._thread is not None:
                job._thread.join(max(0.0, deadline - time.monotonic()))

    # -- the download threads --------------------------------------------------------

    def _work(self, job: Job, relay: _Relay, token: str | None) -> None:
        """Runs on the job's thread: only the relay may be touched here.

        What the user asked for wins over how the transfer ended: a Cancel or Pause that
        meets a network error (a stalled link is when people press them) still cancels
        or pauses, instead of leaving a "failed" download and, for Cancel, its part.
        """
        name = job.entry.name
        shown = 0.0

        def report(p: DownloadProgress) -> None:  # ≤ 10 Hz across threads, plus the last one
            nonlocal shown
            now = time.monotonic()
            if now - shown >= _PROGRESS_INTERVAL_S or p.done == p.total or p.phase != "downloading":
                shown = now
                relay.progress.emit(name, p)

        path: Path | None = None
        message = ""
        try:
            path = download(
                job.entry.repo_id,
                job.entry.filename,
                token=token,
                cancel=job._cancel,
                pause=job._pause,
                progress=report,
                endpoint=self.endpoint,
            )
        except Exception as exc:  # any failure must reach the user, not vanish with the thread
            message = str(exc) or type(exc).__name__
        if path is not None:
            relay.ended.emit(name, "done", path)
        elif job._cancel.is_set():
            discard(job.entry.repo_id, job.entry.filename)  # no-op if download() did it
            relay.ended.emit(name, "idle", None)
        elif job._pause.is_set():
            relay.ended.emit(name, "paused", None)
        else:
            relay.ended.emit(name, "failed", message)

    # -- on the UI thread ------------------------------------------------------------

    def _on_progress(self, name: str, p: DownloadProgress) -> None:
        job = self._jobs[name]
        if job.busy:  # a late report must not repaint a download that has ended
            job.progress = p
            self.changed.emit(name)

    def _on_ended(self, name: str, how: State, value: object) -> None:
        job = self._jobs[name]
        job.state = how
        job._thread = None
        if how == "failed":
            job.message = str(value)
        elif how == "idle":
            job.progress = None
        elif how == "done":
            job.path = Path(str(value))
        self.changed.emit(name)
        if how == "done":
            self.downloaded.emit(name, str(job.path))
