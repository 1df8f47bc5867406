"""Run ASGI apps on loopback with uvicorn, in a background thread, each on its own (possibly free) port."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import uvicorn

__all__ = ["Listener", "ServerGroup"]


class _QuietSimulatedDrops(logging.Filter):
    """uvicorn logs a traceback for every connection the fault middleware cuts on purpose: leave those out."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionAbortedError))


logging.getLogger("uvicorn.error").addFilter(_QuietSimulatedDrops())


@dataclass
class Listener:
    name: str
    app: Any
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    servers: list[uvicorn.Server] = field(default_factory=list)
    sock: socket.socket | None = None

    @property
    def bound_port(self) -> int:
        assert self.sock is not None, "not started"
        return self.sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.bound_port}"


class ServerGroup:
    """Several uvicorn servers in one event loop on one thread; ``start()`` returns once all listen."""

    def __init__(self, listeners: list[Listener]) -> None:
        self.listeners = {listener.name: listener for listener in listeners}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._servers: list[uvicorn.Server] = []
        self._error: BaseException | None = None

    def start(self) -> "ServerGroup":
        for listener in self.listeners.values():
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((listener.host, listener.port))
            listener.sock = sock
            # No Date header from uvicorn: the platforms date their answers by their own clock (faults.py).
            config = uvicorn.Config(listener.app, lifespan="off", log_level="warning", access_log=False,
                                    timeout_graceful_shutdown=1, date_header=False, server_header=False)
            self._servers.append(uvicorn.Server(config))
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def main() -> None:
                tasks = [asyncio.create_task(server.serve(sockets=[listener.sock]))
                         for server, listener in zip(self._servers, self.listeners.values())]
                while not all(server.started for server in self._servers):
                    if any(task.done() for task in tasks):
                        break
                    await asyncio.sleep(0.01)
                ready.set()
                await asyncio.gather(*tasks)

            try:
                loop.run_until_complete(main())
            except BaseException as err:  # reported by start() / stop()
                self._error = err
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="gridlake-sim-http", daemon=True)
        self._thread.start()
        ready.wait(timeout=30)
        if self._error is not None or not all(server.started for server in self._servers):
            raise RuntimeError(f"the simulators' HTTP servers did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        for listener in self.listeners.values():
            if listener.sock is not None:
                listener.sock.close()

    def __enter__(self) -> "ServerGroup":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
