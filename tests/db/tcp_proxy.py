#!/usr/bin/env python3
"""A TCP proxy on loopback for partition tests: forwards 127.0.0.1:PORT to a target,
and on SIGUSR1 stops forwarding without closing anything (it stops reading, so the
kernel still acknowledges what fits in the buffers and answers keepalives, as a
stuck proxy or balancer does, while nothing reaches the other side); SIGUSR2 resumes.
Connections that arrive meanwhile wait in the listen backlog. Prints the port it
listens on, then runs until SIGTERM.

    tcp_proxy.py TARGET_HOST TARGET_PORT [LISTEN_PORT]
"""
import selectors
import signal
import socket
import sys
import time

paused = False


def on_pause(_sig, _frame):
    global paused
    paused = True


def on_resume(_sig, _frame):
    global paused
    paused = False


def main():
    target = (sys.argv[1], int(sys.argv[2]))
    lport = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    signal.signal(signal.SIGUSR1, on_pause)
    signal.signal(signal.SIGUSR2, on_resume)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", lport))
    ls.listen(128)
    ls.setblocking(False)
    print(ls.getsockname()[1], flush=True)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    peer = {}  # socket -> the other end
    outbuf = {}  # socket -> bytes waiting to be written to it

    def close_pair(s):
        for x in (s, peer.get(s)):
            if x is None or x not in peer:
                continue
            try:
                sel.unregister(x)
            except (KeyError, ValueError):
                pass
            x.close()
            peer.pop(x, None)
            outbuf.pop(x, None)

    def interest(s):
        ev = selectors.EVENT_READ if len(outbuf.get(peer.get(s), b"")) < (1 << 20) else 0
        if outbuf.get(s):
            ev |= selectors.EVENT_WRITE
        try:
            if ev:
                sel.modify(s, ev, None)
            else:
                sel.unregister(s)
        except KeyError:
            if ev:
                sel.register(s, ev, None)

    while True:
        if paused:
            time.sleep(0.05)
            continue
        for key, ev in sel.select(timeout=0.05):
            s = key.fileobj
            if paused:
                break
            if s is ls:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    continue
                u = socket.socket()
                try:
                    u.connect(target)
                except OSError:
                    c.close()
                    u.close()
                    continue
                c.setblocking(False)
                u.setblocking(False)
                peer[c], peer[u] = u, c
                outbuf[c], outbuf[u] = b"", b""
                sel.register(c, selectors.EVENT_READ, None)
                sel.register(u, selectors.EVENT_READ, None)
                continue
            if s not in peer:
                continue
            if ev & selectors.EVENT_READ:
                try:
                    data = s.recv(65536)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    data = b""
                if data == b"":
                    o = peer[s]
                    if outbuf.get(o):
                        try:
                            o.setblocking(True)
                            o.sendall(outbuf[o])
                        except OSError:
                            pass
                    close_pair(s)
                    continue
                if data:
                    outbuf[peer[s]] += data
                    interest(peer[s])
            if ev & selectors.EVENT_WRITE and s in peer and outbuf.get(s):
                try:
                    n = s.send(outbuf[s])
                    outbuf[s] = outbuf[s][n:]
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    close_pair(s)
                    continue
            if s in peer:
                interest(s)
                interest(peer[s])


if __name__ == "__main__":
    main()
