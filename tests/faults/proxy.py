"""A TCP proxy on 127.0.0.1 that breaks one write on its way to an S3 endpoint.

Armed with a fault and a number n, it lets the first n-1 writes (HTTP ``PUT``/``POST``
requests: uploads, the server-side copies that publish a file, multipart parts) through,
and breaks the n-th after forwarding half of its first packet:

- ``cut``: both connections are closed (the client sees the connection end mid-request);
- ``reset``: the client's connection is reset (RST), the server's closed;
- ``stall``: nothing is forwarded either way for ``stall`` seconds, then traffic resumes.

Then it disarms itself: what follows goes through, as after a short outage.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

WRITES = (b"PUT ", b"POST ")


class FaultProxy:
    def __init__(self, upstream: str):
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.server = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.fault: str | None = None
        self.at = 0
        self.stall = 0.0
        self.writes = 0
        self.fired = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, fault: str, at: int, stall: float = 3.0) -> None:
        with self._lock:
            self.fault, self.at, self.stall, self.writes = fault, at, stall, 0

    def disarm(self) -> None:
        with self._lock:
            self.fault = None

    def close(self) -> None:
        self.server.close()
        for sock in list(self._open):
            _close(sock)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                _close(client)
                continue
            self._open.update((client, server))
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _breaks(self, data: bytes) -> str | None:
        """The fault to apply to this packet, if it starts the armed write."""
        with self._lock:
            if self.fault is None or not data.startswith(WRITES):
                return None
            self.writes += 1
            if self.writes < self.at:
                return None
            fault, self.fault = self.fault, None
            self.fired += 1
            return fault

    def _pump(self, source: socket.socket, target: socket.socket, upstream: bool) -> None:
        try:
            while data := source.recv(65536):
                fault = self._breaks(data) if upstream else None
                if fault is None:
                    target.sendall(data)
                    continue
                target.sendall(data[: len(data) // 2])
                if fault == "stall":
                    time.sleep(self.stall)
                    target.sendall(data[len(data) // 2 :])
                    continue
                if fault == "reset":
                    source.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                break
        except OSError:
            pass
        finally:
            _close(source)
            _close(target)
            self._open.discard(source)
            self._open.discard(target)


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
