# Stalled clients against a server of the lab: N connections each send "GET / HTTP/1.1\r\n" and
# then nothing. Prints, at +2, +30, +65 and +70 s, how many connections the server side still
# holds (ss) and whether a new visitor is answered (curl, 3 s limit). Loopback only.
# Usage: session-lab serve --quiet --port 3602 & python3 bench/tools/slowloris.py 3602 3000
import resource, socket, subprocess, sys, time

resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
port, count = int(sys.argv[1]), int(sys.argv[2])
held = []
for i in range(count):
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect(("127.0.0.1", port))
        s.send(b"GET / HTTP/1.1\r\n")
        held.append(s)
    except OSError as e:
        print(f"connection {i} failed: {e}")
        break
print(f"{len(held)} half-sent connections open")
start = time.monotonic()


def established():
    out = subprocess.run(["ss", "-tn", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True).stdout
    return max(0, len(out.strip().splitlines()) - 1)


for at in (2, 30, 65, 70):
    while time.monotonic() - start < at:
        time.sleep(0.2)
    t0 = time.monotonic()
    code = subprocess.run(["curl", "-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}",
                           f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    print(f"+{time.monotonic() - start:5.1f} s: the server holds {established()} connections; "
          f"a new visitor: HTTP {code or 'none'} in {time.monotonic() - t0:.2f} s")
