"""The python websockets peer of the interop suite.

    python3 peer.py server [PORT]
    python3 peer.py client CASE URL

The server prints "listening on ws://127.0.0.1:PORT" and behaves like
interop/node/server.js on the paths /close, /ping, /drive and /fragmented
(without the ping between fragments); anything else echoes. The client runs one check against a wsd server and prints "ok", or
"fail: REASON" and exits 1.

Only the standard library and websockets (Debian's python3-websockets).
"""

import asyncio
import random
import sys
import urllib.parse

import websockets

PROTOCOLS = ["chat", "superchat"]
MAX = 64 << 20
UNICODE = "héllo wörld ✓ Ωμέγα 日本語 🎉🚀"
SERVER_CLOSE = (4000, "bye from peer")
SERVER_PING = b"peer-ping"


def pattern(n):
    """n bytes that are not all alike."""
    return random.Random(n).randbytes(n)


def compressible(n):
    line = "the quick brown fox jumps over the lazy dog 0123456789\n"
    return (line * (n // len(line) + 1))[:n]


def describe(data):
    if isinstance(data, str):
        return f"text of {len(data.encode())} bytes {data[:24]!r}"
    return f"binary of {len(data)} bytes"


def has_deflate(ws):
    return any(e.name == "permessage-deflate" for e in ws.extensions)


# The server.


async def echo(ws):
    async for msg in ws:
        await ws.send(msg)


def drive_messages(deflate):
    msgs = ["hello, wsd", pattern(256), "", UNICODE, pattern(1 << 20)]
    if deflate:
        msgs.append(compressible(1 << 20))
    return msgs


async def drive(ws, deflate):
    """Sends messages to a `wsd client -echo`, checks the echoes, and says
    how it went with the close code."""
    want = drive_messages(deflate)
    for m in want:
        await ws.send(m)
    try:
        for i, w in enumerate(want):
            got = await asyncio.wait_for(ws.recv(), 20)
            if type(got) is not type(w) or got != w:
                await ws.close(4100, f"echo {i + 1}: got {describe(got)}, want {describe(w)}"[:120])
                return
    except asyncio.TimeoutError:
        await ws.close(4102, f"timed out after {i} of {len(want)} echoes")
        return
    if deflate and not has_deflate(ws):
        await ws.close(4101, "permessage-deflate not negotiated")
        return
    await ws.close(1000, "ok")


async def handler(ws):
    url = urllib.parse.urlsplit(ws.path)
    q = urllib.parse.parse_qs(url.query)
    if url.path == "/close":
        code = int(q.get("code", [SERVER_CLOSE[0]])[0])
        reason = q.get("reason", [SERVER_CLOSE[1]])[0]
        await ws.close(code, reason)
    elif url.path == "/ping":
        pong = await ws.ping(SERVER_PING)
        await pong
        await ws.send("pong:" + SERVER_PING.decode())
        await echo(ws)
    elif url.path == "/fragmented":
        await ws.send(["hello ", "fragmented ", "world"])
        await echo(ws)
    elif url.path == "/drive":
        await drive(ws, q.get("deflate") == ["1"])
    else:
        await echo(ws)


async def serve(port):
    async with websockets.serve(
        handler, "127.0.0.1", port, subprotocols=PROTOCOLS, max_size=MAX, close_timeout=3
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


# The client.


async def roundtrip(ws, *msgs):
    for m in msgs:
        await ws.send(m)
    for i, m in enumerate(msgs):
        got = await ws.recv()
        if type(got) is not type(m) or got != m:
            raise Check(f"message {i + 1}: got {describe(got)}, want {describe(m)}")


class Check(Exception):
    pass


async def case_ordered(ws):
    for i in range(1000):
        await ws.send(f"message {i}")
    for i in range(1000):
        got = await ws.recv()
        if got != f"message {i}":
            raise Check(f"message {i + 1} of 1000: got {describe(got)}")


async def case_fragmented(ws):
    await ws.send(["hello ", "fragmented ", "world"])
    got = await ws.recv()
    if got != "hello fragmented world":
        raise Check(f"got {describe(got)}, want 'hello fragmented world'")


async def case_ping(ws):
    pong = await ws.ping(b"python-ping")
    await pong


async def case_serverping(ws):
    got = await ws.recv()
    if got != "pong:wsd-ping":
        raise Check(f"got {describe(got)}, want 'pong:wsd-ping'")


async def case_subprotocol(ws):
    if ws.subprotocol != "chat":
        raise Check(f"protocol {ws.subprotocol!r}, want 'chat'")
    await roundtrip(ws, "chat")


async def case_deflate(ws):
    if not has_deflate(ws):
        raise Check(f"permessage-deflate not negotiated: {ws.response_headers.get('Sec-WebSocket-Extensions')!r}")
    await roundtrip(ws, compressible(1 << 20), pattern(1 << 20), "hello, deflate")


async def expect_close(ws, code, reason):
    await ws.wait_closed()
    if ws.close_code != code or (reason is not None and ws.close_reason != reason):
        raise Check(f"closed with {ws.close_code} {ws.close_reason!r}, want {code} {reason!r}")


async def case_closeclient(ws):
    await ws.close(4001, "bye from python")
    await expect_close(ws, 4001, "bye from python")


async def case_closeserver(ws):
    await expect_close(ws, 4000, "bye from wsd")


CASES = {
    "text": lambda ws: roundtrip(ws, "hello, wsd"),
    "binary": lambda ws: roundtrip(ws, pattern(256)),
    "empty": lambda ws: roundtrip(ws, "", b""),
    "unicode": lambda ws: roundtrip(ws, UNICODE),
    "1mib": lambda ws: roundtrip(ws, pattern(1 << 20)),
    "16mib": lambda ws: roundtrip(ws, pattern(16 << 20)),
    "ordered": case_ordered,
    "fragmented": case_fragmented,
    "ping": case_ping,
    "serverping": case_serverping,
    "subprotocol": case_subprotocol,
    "deflate": case_deflate,
    "closeclient": case_closeclient,
    "closeserver": case_closeserver,
}
CLOSES = {"closeclient", "closeserver"}


async def client(case, url):
    run = CASES[case]
    compression = "deflate" if case == "deflate" else None
    protocols = ["nope", "chat"] if case == "subprotocol" else None
    async with websockets.connect(
        url,
        subprotocols=protocols,
        max_size=MAX,
        compression=compression,
        open_timeout=10,
        close_timeout=5,
    ) as ws:
        await run(ws)
        if case not in CLOSES:
            await ws.close(1000, "done")
            await expect_close(ws, 1000, None)


def main():
    args = sys.argv[1:]
    if args[:1] == ["server"] and len(args) <= 2:
        port = int(args[1]) if len(args) == 2 else 0
        try:
            asyncio.run(serve(port))
        except KeyboardInterrupt:
            pass
        return 0
    if args[:1] == ["client"] and len(args) == 3 and args[1] in CASES:
        try:
            asyncio.run(asyncio.wait_for(client(args[1], args[2]), 30))
        except asyncio.TimeoutError:
            print("fail: timed out")
            return 1
        except Exception as e:  # any failure of the peer is the check's failure
            print(f"fail: {type(e).__name__}: {e}")
            return 1
        print("ok")
        return 0
    print(__doc__, file=sys.stderr)
    print("cases: " + ", ".join(CASES), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
