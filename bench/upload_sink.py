"""The floor of the browser upload benchmark: an HTTP server that reads a request body and throws
it away, as fast as asyncio can (``python -m bench.upload_sink PORT``). It answers every POST with
204 (and ``Access-Control-Allow-Origin: *``), and a GET with a page holding a file input, from which
the benchmark times a single same-origin fetch() (the platform's pages may not connect elsewhere)."""

from __future__ import annotations

import asyncio
import sys


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            if lines[0].startswith("GET "):
                # A page of its own with a file input: the floor's fetch() runs here, same-origin,
                # outside the platform's Content-Security-Policy (connect-src 'self').
                page = b"<!doctype html><title>sink</title><input type=file id=files>"
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n"
                             % len(page) + page)
                await writer.drain()
                continue
            left = int(headers.get("content-length", "0"))
            while left:
                data = await reader.read(min(left, 1 << 20))
                if not data:
                    return
                left -= len(data)
            writer.write(b"HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\n"
                         b"Access-Control-Allow-Methods: POST, PUT\r\nAccess-Control-Allow-Headers: *\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
