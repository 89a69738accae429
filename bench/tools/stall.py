# Holds N stalled connections against 127.0.0.1:PORT — each sends half a request head and then
# nothing — and opens a new one for each the server closes, until killed. Prints how many it
# holds and how many the server closed, every 10 s. Loopback only.
# Usage: python3 bench/tools/stall.py PORT N
import resource, selectors, socket, sys, time

resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
port, count = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
held, closed, report = 0, 0, time.monotonic() + 10


def open_one():
    global held
    s = socket.socket()
    s.setblocking(True)
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        s.send(b"GET / HTTP/1.1\r\nHost:")
    except OSError:
        s.close()
        return
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    held += 1


while True:
    while held < count:
        open_one()
    for key, _ in sel.select(timeout=0.2):
        s = key.fileobj
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:
            sel.unregister(s)
            s.close()
            held -= 1
            closed += 1
    if time.monotonic() > report:
        print(f"stall: holding {held}, {closed} closed by the server so far", flush=True)
        report += 10
