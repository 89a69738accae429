#!/usr/bin/env python3
"""Sends GET / over one keep-alive connection, N times, one request at a time, and reads each
answer whole: the client of bench/instructions.sh, where the server's instruction count is what
is measured and the client's speed does not matter.

Usage: keepalive.py PORT N SCENARIO [COOKIES_FILE]
  returning: every request carries the first cookie of COOKIES_FILE
  rotation:  the cookies of COOKIES_FILE in turn
  new:       no cookie (a new session each time)
  collect:   no cookie; prints each answer's session cookie ("name=value"), one per line
"""
import socket
import sys


def read_answer(sock, buffer):
    """Reads one HTTP/1.1 answer with a Content-Length; returns (head, rest of the buffer)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("the server closed the connection")
        buffer += chunk
    head, _, buffer = buffer.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buffer) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise SystemExit("the server closed the connection mid-body")
        buffer += chunk
    return head, buffer[length:]


def main():
    port, count, scenario = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    cookies = []
    if scenario in ("returning", "rotation"):
        with open(sys.argv[4]) as f:
            cookies = [line.strip() for line in f if line.strip()]
        if scenario == "returning":
            cookies = cookies[:1]
    sock = socket.create_connection(("127.0.0.1", port))
    buffer = b""
    for i in range(count):
        cookie = f"Cookie: {cookies[i % len(cookies)]}\r\n" if cookies else ""
        sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}\r\n".encode())
        head, buffer = read_answer(sock, buffer)
        status = head.split(b" ", 2)[1]
        if status != b"200":
            raise SystemExit(f"answered {status.decode()}: {head.decode(errors='replace')}")
        if scenario == "collect":
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.lower() == b"set-cookie":
                    print(value.decode().strip().split(";")[0])
    sock.close()


if __name__ == "__main__":
    main()
