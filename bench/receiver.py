#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A loopback HTTP receiver for the benchmark: one process, one thread, epoll. For every
request it appends "<CLOCK_MONOTONIC ns> <method> <path>" to LOG, stamped when the request's
header is complete, and answers 200 "OK" (keep-alive unless the client asks to close).

The integration tests' receiver (a thread per connection in the test process) is fine for
correctness but shares the GIL with the test driver; here the arrival time must not depend
on what the driver is doing, so the receiver runs on its own.

usage: receiver.py LOG PORTFILE [PORT]"""

import os
import selectors
import socket
import sys
import time

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK"


def main():
    log_path, port_file = sys.argv[1], sys.argv[2]
    log = open(log_path, "a", buffering=1)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(sys.argv[3]) if len(sys.argv) > 3 else 0))
    srv.listen(4096)
    srv.setblocking(False)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)

    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ, None)
    bufs = {}

    def close(conn):
        sel.unregister(conn)
        bufs.pop(conn, None)
        conn.close()

    while True:
        for key, _ in sel.select():
            if key.data is None:
                while True:
                    try:
                        conn, _ = srv.accept()
                    except BlockingIOError:
                        break
                    conn.setblocking(False)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    sel.register(conn, selectors.EVENT_READ, True)
                    bufs[conn] = b""
                continue
            conn = key.fileobj
            try:
                data = conn.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                close(conn)
                continue
            now = time.monotonic_ns()
            if not data:
                close(conn)
                continue
            buf = bufs[conn] + data
            keep = True
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[:end].decode("latin-1").split("\r\n")
                length = 0
                for line in head[1:]:
                    k, _, v = line.partition(":")
                    k = k.strip().lower()
                    if k == "content-length":
                        length = int(v.strip() or 0)
                    elif k == "connection" and v.strip().lower() == "close":
                        keep = False
                if len(buf) < end + 4 + length:
                    break
                buf = buf[end + 4 + length:]
                parts = head[0].split(" ")
                if len(parts) < 3 or parts[2] == "HTTP/1.0":
                    keep = False
                log.write(f"{now} {parts[0]} {parts[1] if len(parts) > 1 else '?'}\n")
                try:
                    conn.sendall(RESPONSE)
                except OSError:
                    keep = False
            if not keep:
                close(conn)
            else:
                bufs[conn] = buf


if __name__ == "__main__":
    main()
