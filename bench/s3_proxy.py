#!/usr/bin/env python3
"""A delaying, counting HTTP/1.1 proxy in front of an S3 gateway (stdlib asyncio only).

    s3_proxy.py --port P --upstream HOST:PORT [--delay-ms 200] [--ready FILE]

Each request a client sends is held for --delay-ms before it is forwarded (head and body), so
the store answers every call that much later: a slow object store, as seen by the registry.
Requests are forwarded byte for byte (the Host header too, so SigV4 signatures stay valid), one
upstream connection per client connection; answers flow back unparsed. `GET /__proxy/stats`
is answered by the proxy itself: {"requests": N, "by_method": {...}} since the start.
Request bodies: Content-Length or chunked; no pipelining (S3 clients wait for each answer).
"""
import argparse
import asyncio
import json
import sys

STATS = {"requests": 0, "by_method": {}}


async def read_head(reader):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    return head


async def copy_exact(reader, writer, n):
    while n > 0:
        data = await reader.read(min(n, 1 << 20))
        if not data:
            raise ConnectionError("client closed inside a body")
        writer.write(data)
        await writer.drain()
        n -= len(data)


async def copy_chunked(reader, writer):
    while True:
        line = await reader.readuntil(b"\r\n")
        writer.write(line)
        size = int(line.split(b";")[0].strip(), 16)
        if size == 0:  # trailers up to the empty line
            while True:
                t = await reader.readuntil(b"\r\n")
                writer.write(t)
                if t == b"\r\n":
                    break
            await writer.drain()
            return
        await copy_exact(reader, writer, size)
        writer.write(await reader.readexactly(2))


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(1 << 20)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(creader, cwriter, a):
    ureader = uwriter = back = None
    try:
        while True:
            head = await read_head(creader)
            if head is None:
                return
            lines = head.split(b"\r\n")
            method, target = lines[0].split(b" ")[:2]
            headers = {}
            for ln in lines[1:]:
                if b":" in ln:
                    k, v = ln.split(b":", 1)
                    headers[k.strip().lower()] = v.strip()
            if target == b"/__proxy/stats":
                body = json.dumps(STATS).encode()
                cwriter.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                await cwriter.drain()
                continue
            STATS["requests"] += 1
            m = method.decode()
            STATS["by_method"][m] = STATS["by_method"].get(m, 0) + 1
            if a.delay > 0:
                await asyncio.sleep(a.delay)
            if uwriter is None or uwriter.is_closing():
                ureader, uwriter = await asyncio.open_connection(a.host, a.uport)
                back = asyncio.ensure_future(pump(ureader, cwriter))
            uwriter.write(head)
            if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
                await copy_chunked(creader, uwriter)
            else:
                await copy_exact(creader, uwriter, int(headers.get(b"content-length", b"0")))
            await uwriter.drain()
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        if uwriter is not None:
            uwriter.close()
        if back is not None:
            back.cancel()
        cwriter.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the gateway")
    ap.add_argument("--delay-ms", type=float, default=200)
    ap.add_argument("--ready", help="file written once listening")
    a = ap.parse_args()
    a.host, p = a.upstream.rsplit(":", 1)
    a.uport = int(p)
    a.delay = a.delay_ms / 1000
    server = await asyncio.start_server(lambda r, w: handle(r, w, a), "127.0.0.1", a.port, limit=1 << 16, backlog=1024)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("%d\n" % a.port)
    print("s3_proxy on 127.0.0.1:%d -> %s, delay %g ms" % (a.port, a.upstream, a.delay_ms), file=sys.stderr)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
