"""`folio serve`: the OpenAI-compatible API on this machine, without the window.

A script written for Ollama or OpenAI (`openai.OpenAI(base_url=…, api_key=…)`) runs against
it by changing only `base_url`. It binds 127.0.0.1 by default; another interface needs an
API key, since anyone who can reach the port could otherwise use the model.
"""

from __future__ import annotations

import argparse
import sys
import threading
from types import FrameType

from desktop_app.cli_interrupt import exit_now
from desktop_app.errors import FolioError
from desktop_app.server.requests import DEFAULT_MAX_REQUEST_MB

DEFAULT_PORT = 8765
#: Context for API requests when neither --ctx nor the settings say (capped by the machine).
DEFAULT_CONTEXT = 32768
#: After Ctrl+C, how long requests in flight get to end (their jobs are cancelled at once:
#: a 9B decode is aborted within about half a second) before they are cut.
GRACE_S = 0.6
#: Then how long the engine's last job gets to end before the process does.
SHUTDOWN_S = 0.3


def add_serve_command(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="an OpenAI-compatible API for scripts (/v1/…)")
    serve.add_argument("--model", help="GGUF model file (default: the configured one)")
    serve.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    serve.add_argument("--api-key", help="require this key (Authorization: Bearer KEY)")
    serve.add_argument("--ctx", type=int, help="context length in tokens")
    serve.add_argument("--cors-origin", metavar="ORIGIN",
                       help="let web pages from ORIGIN (e.g. http://localhost:3000, or * for any) "
                       "call the API; other pages are refused")  # fmt: skip
    serve.add_argument(
        "--max-request-mb",
        type=_positive,
        default=DEFAULT_MAX_REQUEST_MB,
        metavar="MB",
        help="refuse larger request bodies (default %(default)s)",
    )
    serve.set_defaults(handler=cmd_serve)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number of MB: {text!r}")
    return value


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from desktop_app.server.app import LOCAL_HOSTS, create_app

    if args.host not in LOCAL_HOSTS and not args.api_key:
        raise FolioError(
            f"Serving on {args.host} would let anyone who can reach it use the model: "
            "pass --api-key KEY too (or serve on 127.0.0.1)."
        )
    try:
        state = load_state(args)
    except KeyboardInterrupt:  # llama.cpp's load cannot be interrupted: the process ends
        exit_now()
    engine = state.engine_for()
    assert engine is not None
    print(f"Folio API at http://{args.host}:{args.port}/v1 · {state.models()[0]} · "
          f"{engine.placement} · {engine.n_ctx:,}-token context", file=sys.stderr)  # fmt: skip
    config = uvicorn.Config(create_app(state), host=args.host, port=args.port,
                            log_level="warning", timeout_graceful_shutdown=GRACE_S)  # fmt: skip
    server = uvicorn.Server(config)
    uvicorn_exit = server.handle_exit

    def handle_exit(sig: int, frame: FrameType | None) -> None:
        """Ctrl+C also stops the engine's jobs at once: a streaming answer then ends by
        itself (finish_reason "cancelled") within the grace period, instead of uvicorn
        waiting for it to finish (minutes) or cutting it off after the grace."""
        state.queue.cancel_all()
        uvicorn_exit(sig, frame)

    server.handle_exit = handle_exit  # type: ignore[method-assign]
    try:
        server.run()
    except KeyboardInterrupt:  # Ctrl+C, raised again by uvicorn once it has stopped
        # The engine's job has ended; freeing a 9B model's buffers one by one would take
        # another half second, which the process exit does at once.
        state.queue.shutdown(SHUTDOWN_S)
        exit_now()
    finally:
        state.queue.shutdown(last=engine.close)
    return 0


def load_state(args: argparse.Namespace):
    """Load the model on a new engine queue's thread (the one that will serve it)."""
    from desktop_app import settings as settings_mod
    from desktop_app.core import hardware
    from desktop_app.core.chat.engine_queue import EngineQueue, Failed, Finished
    from desktop_app.core.llm.engine import Engine, EngineConfig
    from desktop_app.core.llm.placement import max_context
    from desktop_app.core.models.gguf_header import read_model_info
    from desktop_app.core.models.locator import resolve_model
    from desktop_app.server.app import LOCAL_HOSTS, ServerState, model_ids

    settings = settings_mod.load()
    model_path = resolve_model(args.model, settings.model_path)
    hw = hardware.detect()
    info = read_model_info(model_path)
    fits = max_context(info, hw, settings.kv_cache_type)
    n_ctx = args.ctx or settings.n_ctx or min(DEFAULT_CONTEXT, fits)
    config = EngineConfig(model_path=model_path, n_ctx=n_ctx, gpu_layers=settings.gpu_layers,
                          n_threads=settings.n_threads, flash_attn=settings.flash_attn,
                          kv_cache_type=settings.kv_cache_type,
                          checkpoint_ram_bytes=settings.checkpoint_ram_mb * 1024**2)  # fmt: skip
    queue = EngineQueue("folio-engine")
    outcome: list[object] = []
    ended = threading.Event()

    def sink(event: object) -> None:
        if isinstance(event, Finished | Failed):
            outcome.append(event)
            ended.set()

    queue.call(lambda cancel: Engine.load(config, hardware=hw), sink)
    ended.wait()
    [event] = outcome
    if isinstance(event, Failed):
        queue.shutdown()
        raise FolioError(event.message)
    assert isinstance(event, Finished)
    engine, names = event.value, model_ids(model_path, info.name)
    return ServerState(lambda: engine, queue, lambda: names, api_key=args.api_key,
                       loopback=args.host in LOCAL_HOSTS, cors_origin=args.cors_origin,
                       max_request_bytes=args.max_request_mb * 1024**2)  # fmt: skip
