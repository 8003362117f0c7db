#!/usr/bin/env python3
"""Sends one raw HTTP/1.1 request and prints everything the server sends back (python3 stdlib).

    raw_http.py HOST PORT METHOD PATH [--tls] [--cafile CRT] [--sni NAME] [--header 'K: V' ...]
                [--timeout S] [--head-split]

Connects to HOST:PORT (over TLS verified against CRT and NAME with --tls), sends
`METHOD PATH HTTP/1.1` with Host, Connection: close and the given headers, and reads until the
server closes (or the timeout). Prints the raw bytes; with --head-split prints a JSON object
{"status": N, "headers": {...}, "body_bytes": N} instead, where body_bytes counts every byte
after the header block (for HEAD it must be 0: anything else would corrupt a keep-alive stream).
"""
import argparse
import json
import socket
import ssl
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("method")
    ap.add_argument("path")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--cafile")
    ap.add_argument("--sni")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--head-split", action="store_true")
    args = ap.parse_args()

    sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
    host = args.sni or args.host
    if args.tls:
        ctx = ssl.create_default_context(cafile=args.cafile)
        sock = ctx.wrap_socket(sock, server_hostname=host)
    lines = ["%s %s HTTP/1.1" % (args.method, args.path), "Host: %s:%d" % (host, args.port),
             "Connection: close"] + args.header
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ssl.SSLError, ConnectionResetError):
        pass
    sock.close()

    if not args.head_split:
        sys.stdout.buffer.write(data)
        return 0
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        print(json.dumps({"status": 0, "headers": {}, "body_bytes": 0, "raw": data.decode("latin-1")}))
        return 1
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1]) if len(lines[0].split(" ")) > 1 else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    print(json.dumps({"status": status, "headers": headers, "body_bytes": len(body)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
