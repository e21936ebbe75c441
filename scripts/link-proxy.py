#!/usr/bin/env python3
"""A TCP proxy that stands for a network link a test can pause and cut (python3 stdlib).

    link-proxy.py serve LISTEN_PORT TARGET_PORT CONTROL_PORT
    link-proxy.py ctl CONTROL_PORT pause|resume|cut|status

`serve` accepts on 127.0.0.1:LISTEN_PORT and forwards every connection to
127.0.0.1:TARGET_PORT, both ways. Commands arrive on 127.0.0.1:CONTROL_PORT, one line
each, and are answered once they are in force, so a script knows the link state when
`ctl` returns:
  pause   stop forwarding in both directions without closing anything: the proxy reads
          and writes nothing, so the peers' kernel buffers fill and no byte sent after the
          answer reaches the other side (a replica behind it falls behind while its
          master still sees a live connection).
  resume  forward again, what was held included.
  cut     close every connection and stop accepting: what the link held is lost, as
          when a network partition outlives the peers' connections.
  status  "state=… connections=… up=… down=…" (bytes forwarded to and from the target).

Why not SIGSTOP the far end instead: a stopped process's kernel still receives the
stream for it (and acknowledges it at TCP level), so it catches up on SIGCONT; a paused
link followed by a cut really loses the bytes in flight.
"""

import selectors
import socket
import sys

# Most bytes one direction may hold in the proxy before it stops reading that side.
HIGH_WATER = 1 << 20


class Link:
    """One proxied connection: the accepted client side and the side to the target."""

    def __init__(self, client, target):
        self.client = client
        self.target = target
        # Bytes read from one side, waiting to be written to the other.
        self.pending = {client: bytearray(), target: bytearray()}

    def peer(self, sock):
        return self.target if sock is self.client else self.client


class Proxy:
    def __init__(self, listen_port, target_port, control_port):
        self.target_port = target_port
        self.selector = selectors.DefaultSelector()
        self.state = "forwarding"
        self.links = {}  # socket -> Link, both sides
        self.registered = set()  # the sockets of links the selector watches
        self.up = 0
        self.down = 0
        self.listener = self._listen(listen_port)
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self.control = self._listen(control_port)
        self.selector.register(self.control, selectors.EVENT_READ, "control")

    @staticmethod
    def _listen(port):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(16)
        sock.setblocking(False)
        return sock

    def run(self):
        while True:
            for key, mask in self.selector.select():
                if key.data == "accept":
                    self._accept()
                elif key.data == "control":
                    self._control()
                elif key.fileobj in self.links and self.state == "forwarding":
                    # A link closed earlier in this batch is no longer in links.
                    self._transfer(key.fileobj, mask)
            self._update_interest()

    def _accept(self):
        try:
            client, _ = self.listener.accept()
        except BlockingIOError:
            return
        try:
            # Loopback: a blocking connect is immediate (or refused at once).
            target = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
        except OSError:
            client.close()
            return
        link = Link(client, target)
        for sock in (client, target):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.links[sock] = link

    def _transfer(self, sock, mask):
        link = self.links[sock]
        if mask & selectors.EVENT_READ:
            try:
                data = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                data = b""
            if data == b"":
                self._close(link)
                return
            if data:
                link.pending[sock] += data
        if mask & selectors.EVENT_WRITE:
            source = link.peer(sock)
            buffer = link.pending[source]
            try:
                sent = sock.send(buffer)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self._close(link)
                return
            del buffer[:sent]
            if source is link.client:
                self.up += sent
            else:
                self.down += sent

    def _update_interest(self):
        for sock, link in list(self.links.items()):
            events = 0
            if self.state == "forwarding":
                if len(link.pending[sock]) < HIGH_WATER:
                    events |= selectors.EVENT_READ
                if link.pending[link.peer(sock)]:
                    events |= selectors.EVENT_WRITE
            # A paused socket leaves the selector: neither read nor written, and
            # select() must not wake up for it again and again.
            registered = sock in self.registered
            if events and registered:
                self.selector.modify(sock, events, "data")
            elif events:
                self.selector.register(sock, events, "data")
                self.registered.add(sock)
            elif registered:
                self.selector.unregister(sock)
                self.registered.discard(sock)

    def _close(self, link):
        for sock in (link.client, link.target):
            if sock in self.links:
                del self.links[sock]
                if sock in self.registered:
                    self.selector.unregister(sock)
                    self.registered.discard(sock)
                sock.close()

    def _control(self):
        try:
            conn, _ = self.control.accept()
        except BlockingIOError:
            return
        # Commands are one short line from a local script: a blocking read is fine.
        conn.setblocking(True)
        conn.settimeout(2)
        try:
            command = conn.recv(64).decode("ascii", "replace").strip()
            conn.sendall((self._apply(command) + "\n").encode())
        except OSError:
            pass
        finally:
            conn.close()

    def _apply(self, command):
        if command == "pause" and self.state == "forwarding":
            self.state = "paused"
        elif command == "resume" and self.state == "paused":
            self.state = "forwarding"
        elif command == "cut" and self.state != "cut":
            for link in list(set(self.links.values())):
                self._close(link)
            self.selector.unregister(self.listener)
            self.listener.close()
            self.state = "cut"
        elif command != "status" and command not in ("pause", "resume", "cut"):
            return "error unknown command " + repr(command)
        elif command in ("pause", "resume") and self.state == "cut":
            return "error the link is cut"
        connections = len(self.links) // 2
        return f"state={self.state} connections={connections} up={self.up} down={self.down}"


def ctl(control_port, command):
    with socket.create_connection(("127.0.0.1", control_port), timeout=5) as sock:
        sock.sendall((command + "\n").encode())
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = sock.recv(256)
            if not chunk:
                break
            reply += chunk
    text = reply.decode().strip()
    print(text)
    return 1 if not text or text.startswith("error") else 0


def main(argv):
    if len(argv) == 5 and argv[1] == "serve":
        Proxy(int(argv[2]), int(argv[3]), int(argv[4])).run()
        return 0
    if len(argv) == 4 and argv[1] == "ctl":
        return ctl(int(argv[2]), argv[3])
    print(__doc__.strip().splitlines()[2], file=sys.stderr)
    print(__doc__.strip().splitlines()[3], file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
