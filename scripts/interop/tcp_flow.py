#!/usr/bin/python3
"""A bulk TCP flow for the LEDBAT test.

Usage: tcp_flow.py recv PORT      listen on PORT, print {"t": UNIX_TIME, "bytes": N}
                                  every 0.25 s (N: bytes received so far)
       tcp_flow.py send HOST PORT [CC]
                                  send as fast as TCP allows until killed, with
                                  the congestion control CC (default: the system's)
"""
import json
import socket
import sys
import time


def recv(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    print(json.dumps({"event": "listening"}), flush=True)
    c, _ = ls.accept()
    c.settimeout(0.25)
    total, last = 0, 0.0
    while True:
        try:
            b = c.recv(1 << 16)
            if not b:
                break
            total += len(b)
        except socket.timeout:
            pass
        now = time.time()
        if now - last >= 0.25:
            last = now
            print(json.dumps({"t": now, "bytes": total}), flush=True)


def send(host, port, cc=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if cc:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
    s.connect((host, port))
    buf = b"x" * (1 << 16)
    while True:
        s.sendall(buf)


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(int(sys.argv[2]))
    else:
        send(sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
