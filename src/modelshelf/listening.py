"""Listening sockets for the local servers (``modelshelf ui`` and ``modelshelf serve``).

Both bind before they print their URL, so ``--port 0`` works (the OS picks a
free port and the printed URL names it) and a port already in use fails
before anything is printed.
"""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["WILDCARDS", "bind", "url_for"]

#: Hosts that mean "every interface"; a client on this machine calls 127.0.0.1.
WILDCARDS = ("0.0.0.0", "::", "")


def bind(host: str, port: int, *, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0``: any free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle's algorithm off only on
    # sockets that say they are TCP, and with it on, a keep-alive client waits ~40 ms
    # for each response's body (the headers' ACK is delayed).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listening now: a client calling as soon as the URL is printed waits in
        # the backlog instead of being refused while uvicorn starts.
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int) -> str:
    """The address a client on this machine should call."""
    shown = "127.0.0.1" if host in WILDCARDS else host
    try:
        if ipaddress.ip_address(shown).version == 6:
            shown = f"[{shown}]"
    except ValueError:
        pass  # a host name
    return f"http://{shown}:{port}/"
