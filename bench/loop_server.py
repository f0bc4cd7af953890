"""A TCP server on 127.0.0.1 with its own asyncio loop in a thread, so that synchronous code
(httpx clients, subprocesses, the bench's polling) can use it: the base of bench/relay.py's
delay relay and bench/remote_lrs.py's stand-in LRS. A subclass gives `_connection`, which
serves one accepted connection; `close()` stops listening, cancels every open connection and
ends the thread. Standard library only.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType
from typing import Self

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 10.0


class LoopServer:
    """Listens on 127.0.0.1 (a free port) once started; a context manager."""

    thread_name = "loop-server"
    read_limit = 2**16  # asyncio's StreamReader limit (readline, readuntil)

    def __init__(self) -> None:
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._failed: BaseException | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"the {self.thread_name} is not running")
        return self._port

    def start(self) -> Self:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT) or self._failed is not None:
            self.close()
            raise RuntimeError(f"the {self.thread_name} did not start: {self._failed!r}")
        return self

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop ended already
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(START_TIMEOUT)
        if thread is not None:
            thread.join(START_TIMEOUT)
        self._thread = None
        self._port = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    # --- the loop's side --------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._listen())
            self._ready.set()
            loop.run_forever()
        except BaseException as exc:  # noqa: BLE001 - handed to start(), which raises it
            self._failed = exc
            self._ready.set()
        finally:
            loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, LOOPBACK, 0, limit=self.read_limit)
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        asyncio.get_running_loop().call_soon(asyncio.get_running_loop().stop)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._connection(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
