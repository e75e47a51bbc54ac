#!/usr/bin/env python3
"""A TCP proxy for partition tests: forwards 127.0.0.1:listen -> 127.0.0.1:target, and can cut
the link (close every current connection and close each new one at once) and heal it again.

Put one proxy in front of each peer-link port and point the other nodes' persistent_peers at the
proxies; cutting a proxy then partitions that node from the peers that dial it.

From asyncio code:

    proxy = TcpProxy(target_port=26601)          # listen_port=0: a free port, see proxy.port
    await proxy.start()
    proxy.cut(); proxy.heal()
    await proxy.close()

From ordinary (threaded) code, e.g. a unittest: the same proxy on its own event-loop thread:

    with ThreadedProxy(target_port=26601) as proxy:   # starts; closes on exit
        proxy.port; proxy.cut(); proxy.heal(); proxy.connections()

From a shell: `tcp_proxy.py --listen 36601 --target 26601` runs until SIGINT/SIGTERM; SIGUSR1
cuts, SIGUSR2 heals. `tcp_proxy.py --self-test` checks the proxy with an echo server.

Semantics: the proxy closes a connection by aborting it (both halves, with a TCP reset: the
peers see "connection reset", as when a host vanishes). While cut, new connections are accepted
and aborted at once, so diallers keep failing and backing off until heal(). When
either end of a connection closes, the proxy closes the other. If the target refuses, the client
connection is closed. Only loopback (127.0.0.1). Python 3 standard library only (Debian 12).
"""
import argparse
import asyncio
import signal
import socket
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import Checks  # noqa: E402

HOST = "127.0.0.1"
_CHUNK = 65536


class TcpProxy:
    """An asyncio proxy. All methods must be called on the loop that runs it."""

    def __init__(self, target_port, listen_port=0, host=HOST):
        self.host = host
        self.target_port = target_port
        self.listen_port = listen_port
        self.port = None  # the bound listen port, after start()
        self._server = None
        self._cut = False
        self._conns = set()  # of _Conn
        self.accepted = 0  # connections accepted (including those closed because cut)
        self.refused = 0  # closed at once because the link was cut or the target refused

    @property
    def is_cut(self):
        return self._cut

    def connections(self):
        """Connections currently forwarded."""
        return len(self._conns)

    async def start(self):
        self._server = await asyncio.start_server(self._on_client, self.host, self.listen_port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def cut(self):
        """Close every current connection; until heal(), close each new one at once."""
        self._cut = True
        for conn in list(self._conns):
            conn.close()

    def heal(self):
        """Forward new connections again (closed ones stay closed: the peers redial)."""
        self._cut = False

    async def close(self):
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for conn in list(self._conns):
            conn.close()
        tasks = [t for conn in list(self._conns) for t in conn.tasks]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _on_client(self, reader, writer):
        self.accepted += 1
        if self._cut:
            self.refused += 1
            _abort(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            self.refused += 1
            _abort(writer)
            return
        if self._cut:  # cut while connecting
            self.refused += 1
            _abort(writer)
            _abort(up_writer)
            return
        conn = _Conn(writer, up_writer)
        self._conns.add(conn)
        conn.tasks = [
            asyncio.ensure_future(self._pump(reader, up_writer, conn)),
            asyncio.ensure_future(self._pump(up_reader, writer, conn)),
        ]
        try:
            await asyncio.gather(*conn.tasks, return_exceptions=True)
        finally:
            self._conns.discard(conn)
            conn.close()

    async def _pump(self, reader, writer, conn):
        try:
            while not conn.closed:
                data = await reader.read(_CHUNK)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            conn.close()


class _Conn:
    def __init__(self, a, b):
        self.writers = (a, b)
        self.tasks = []
        self.closed = False

    def close(self):
        if self.closed:
            return
        self.closed = True
        for w in self.writers:
            _abort(w)
        for t in self.tasks:
            t.cancel()


def _abort(writer):
    """Close a connection now, without waiting for unsent data."""
    try:
        writer.transport.abort()
    except Exception:  # already closed
        pass


class ThreadedProxy:
    """A TcpProxy on its own event-loop thread; every method is thread-safe and blocks until done."""

    def __init__(self, target_port, listen_port=0, host=HOST):
        self._proxy = TcpProxy(target_port, listen_port, host)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"tcp-proxy-{target_port}")
        self._started = False

    def _call(self, fn):
        async def run():
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    @property
    def port(self):
        return self._proxy.port

    @property
    def target_port(self):
        return self._proxy.target_port

    def start(self):
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._proxy.start(), self._loop).result(timeout=30)
        self._started = True
        return self

    def cut(self):
        self._call(self._proxy.cut)

    def heal(self):
        self._call(self._proxy.heal)

    def is_cut(self):
        return self._call(lambda: self._proxy.is_cut)

    def connections(self):
        return self._call(self._proxy.connections)

    def close(self):
        if not self._thread.is_alive():
            return
        if self._started:
            asyncio.run_coroutine_threadsafe(self._proxy.close(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


# --- self-test ------------------------------------------------------------------------------

class _SelfTest(Checks):
    def __init__(self):
        super().__init__()


async def _echo_server():
    async def echo(reader, writer):
        try:
            while data := await reader.read(_CHUNK):
                if data == b"close":  # the target ends the link
                    break
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
    server = await asyncio.start_server(echo, HOST, 0)
    return server, server.sockets[0].getsockname()[1]


async def _roundtrip(port, payload):
    """Connects, sends, returns what comes back (b"" if the link closed), then closes."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(payload)
        await writer.drain()
        got = b""
        while len(got) < len(payload):
            data = await asyncio.wait_for(reader.read(_CHUNK), 5)
            if not data:
                break
            got += data
        return got
    except (OSError, asyncio.TimeoutError):
        return b""
    finally:
        writer.close()


async def _is_closed(reader, timeout=5):
    try:
        return await asyncio.wait_for(reader.read(_CHUNK), timeout) == b""
    except (ConnectionError, OSError):
        return True
    except asyncio.TimeoutError:
        return False


async def _async_self_test(t):
    server, echo_port = await _echo_server()
    proxy = await TcpProxy(echo_port).start()
    t.check("listens on a free port", proxy.port not in (None, 0, echo_port))

    # Forwarding, also of a large payload in both directions.
    t.check("forwards", await _roundtrip(proxy.port, b"hello") == b"hello")
    big = bytes(range(256)) * 4096  # 1 MiB
    t.check("forwards 1 MiB", await _roundtrip(proxy.port, big) == big)

    # A long-lived connection, then cut: it is closed; new ones are closed at once.
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    writer.write(b"ping")
    t.check("live link works", await asyncio.wait_for(reader.readexactly(4), 5) == b"ping")
    t.check("one connection", proxy.connections() == 1, str(proxy.connections()))
    proxy.cut()
    t.check("is_cut", proxy.is_cut)
    t.check("cut closes the live link", await _is_closed(reader))
    writer.close()
    await asyncio.sleep(0.05)
    t.check("no connections after cut", proxy.connections() == 0, str(proxy.connections()))
    r2, w2 = await asyncio.open_connection(HOST, proxy.port)
    w2.write(b"x")
    t.check("a new link is closed while cut", await _is_closed(r2))
    w2.close()
    t.check("nothing forwarded while cut", await _roundtrip(proxy.port, b"data") == b"")

    # Heal: new links work again.
    proxy.heal()
    t.check("not cut after heal", not proxy.is_cut)
    t.check("forwards after heal", await _roundtrip(proxy.port, b"again") == b"again")

    # The target closing a link closes the client's side, and the proxy forgets it.
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    writer.write(b"z")
    await asyncio.wait_for(reader.readexactly(1), 5)
    writer.write(b"close")
    t.check("target close reaches the client", await _is_closed(reader))
    writer.close()
    await asyncio.sleep(0.05)
    t.check("closed link forgotten", proxy.connections() == 0, str(proxy.connections()))

    # The target gone: clients are closed at once.
    server.close()
    await server.wait_closed()
    reader, writer = await asyncio.open_connection(HOST, proxy.port)
    t.check("target down: link closed", await _is_closed(reader))
    writer.close()
    refused = proxy.refused
    t.check("refusals counted", refused >= 3, str(refused))
    await proxy.close()
    try:
        await asyncio.open_connection(HOST, proxy.port)
        t.check("closed proxy stops listening", False)
    except OSError:
        t.check("closed proxy stops listening", True)


def _blocking_roundtrip(port, payload):
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(payload)
        got = b""
        try:
            while len(got) < len(payload):
                data = s.recv(_CHUNK)
                if not data:
                    break
                got += data
        except OSError:
            pass
        return got


def _threaded_self_test(t):
    # A blocking echo server on a thread, the proxy on its own loop thread.
    listener = socket.create_server((HOST, 0))
    echo_port = listener.getsockname()[1]

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            def echo(c=conn):
                with c:
                    try:
                        while data := c.recv(_CHUNK):
                            c.sendall(data)
                    except OSError:
                        pass
            threading.Thread(target=echo, daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()

    with ThreadedProxy(echo_port) as proxy:
        t.check("threaded: forwards", _blocking_roundtrip(proxy.port, b"abc") == b"abc")
        s = socket.create_connection((HOST, proxy.port), timeout=5)
        s.sendall(b"1")
        t.check("threaded: live link", s.recv(1) == b"1")
        proxy.cut()
        t.check("threaded: is_cut", proxy.is_cut())
        try:
            closed = s.recv(1) == b""
        except OSError:
            closed = True
        t.check("threaded: cut closes the live link", closed)
        s.close()
        t.check("threaded: closed while cut", _blocking_roundtrip(proxy.port, b"abc") == b"")
        proxy.heal()
        t.check("threaded: forwards after heal", _blocking_roundtrip(proxy.port, b"def") == b"def")
    listener.close()


def self_test():
    t = _SelfTest()
    asyncio.run(_async_self_test(t))
    _threaded_self_test(t)
    print(f"tcp_proxy self-test: {t.passed} passed, {t.failed} failed")
    return 0 if t.failed == 0 else 1


async def _serve(listen, target):
    proxy = await TcpProxy(target, listen).start()
    print(f"tcp_proxy: {HOST}:{proxy.port} -> {HOST}:{target} "
          f"(SIGUSR1 cuts, SIGUSR2 heals, SIGINT/SIGTERM stops)", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_cut():
        proxy.cut()
        print("tcp_proxy: cut", flush=True)

    def on_heal():
        proxy.heal()
        print("tcp_proxy: healed", flush=True)
    loop.add_signal_handler(signal.SIGUSR1, on_cut)
    loop.add_signal_handler(signal.SIGUSR2, on_heal)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await proxy.close()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--self-test", action="store_true", help="run the self-test and exit")
    ap.add_argument("--listen", type=int, default=0, help="port to listen on (0 = a free one)")
    ap.add_argument("--target", type=int, help="port to forward to")
    args = ap.parse_args(argv)
    if args.self_test:
        return self_test()
    if args.target is None:
        ap.error("--target is required (or --self-test)")
    asyncio.run(_serve(args.listen, args.target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
