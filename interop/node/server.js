'use strict';
// A WebSocket server built on Node's ws or websocket-driver, for the wsd
// client to talk to:
//
//   node server.js ws|driver [port]
//
// prints "listening on ws://127.0.0.1:PORT". It accepts the subprotocols
// chat and superchat (the first the client offers), and, with ws,
// permessage-deflate. Its paths:
//
//   /close?code=C&reason=R  closes with C and R as soon as it opens
//   /ping                   pings with "peer-ping", sends "pong:peer-ping"
//                           when the pong arrives, and echoes
//   /drive[?deflate=1]      sends messages to a `wsd client -echo`, checks
//                           the echoes, and closes with 1000 if all came
//                           back (and deflate was negotiated, if asked), or
//                           with 4100-4102 and the reason otherwise
//   /fragmented             sends "hello fragmented world" in three
//                           fragments with a ping between them, and echoes
//   /badutf8                sends a text frame that is not UTF-8
//   /masked                 sends a masked frame, which a server must not
//   /big                    sends a 4 KiB binary message
//   /terminate              drops the TCP connection right after the handshake
//   /midframe               sends half a frame, then drops the connection
//   /midfragment            sends the first fragment of a message, then drops
//   /afterclose             sends a close frame, then a text frame
//   anything else           echoes every message with its type

const http = require('http');
const { WebSocketServer } = require('ws');
const websocket = require('websocket-driver');
const {
  pattern, frame, SERVER_CLOSE, AFTER_CLOSE, SERVER_PING, driveMessages, sameData, describe,
} = require('./common');

const PROTOCOLS = ['chat', 'superchat'];
const MAX = 64 << 20;

const lib = process.argv[2];
const port = Number(process.argv[3] || 0);
if (lib !== 'ws' && lib !== 'driver') {
  console.error('usage: node server.js ws|driver [port]');
  process.exit(2);
}

// Both libraries behind one small interface.
function wsConn(ws, socket) {
  ws.on('error', () => {});
  return {
    send: (d) => ws.send(d, { binary: typeof d !== 'string' }),
    ping: (p, cb) => {
      ws.on('pong', (data) => { if (data.toString() === p) cb(); });
      ws.ping(p);
    },
    close: (code, reason) => ws.close(code, reason),
    terminate: () => ws.terminate(),
    onMessage: (f) => ws.on('message', (data, isBinary) => f(isBinary ? data : data.toString())),
    socket,
    get extensions() { return ws.extensions; },
  };
}

function driverConn(d, socket) {
  return {
    send: (data) => (typeof data === 'string' ? d.text(data) : d.binary(data)),
    ping: (p, cb) => d.ping(p, cb),
    close: (code, reason) => d.close(reason, code),
    terminate: () => socket.destroy(),
    onMessage: (f) => d.on('message', (e) => f(e.data)),
    socket,
    extensions: '',
  };
}

function handle(conn, req) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const q = url.searchParams;
  const echo = () => conn.onMessage((data) => conn.send(data));
  switch (url.pathname) {
    case '/close':
      conn.close(Number(q.get('code') || SERVER_CLOSE.code), q.get('reason') ?? SERVER_CLOSE.reason);
      break;
    case '/ping':
      echo();
      conn.ping(SERVER_PING, () => conn.send('pong:' + SERVER_PING));
      break;
    case '/drive':
      drive(conn, q.get('deflate') === '1');
      break;
    case '/fragmented':
      echo();
      conn.socket.write(Buffer.concat([
        frame(1, 'hello ', { fin: false }),
        frame(9, 'between'),
        frame(0, 'fragmented ', { fin: false }),
        frame(0, 'world'),
      ]));
      break;
    case '/badutf8':
      conn.socket.write(frame(1, Buffer.from([0x68, 0x69, 0xff, 0xfe])));
      break;
    case '/masked':
      conn.socket.write(frame(1, 'masked by the server', { mask: true }));
      break;
    case '/big':
      conn.send(pattern(4096));
      break;
    case '/terminate':
      conn.terminate();
      break;
    case '/midframe':
      // A binary frame that announces 1 MiB and carries 1000 bytes.
      conn.socket.write(frame(2, pattern(1000), { length: 1 << 20 }), () => conn.socket.destroy());
      break;
    case '/midfragment':
      conn.socket.write(frame(1, 'the first part of a ', { fin: false }), () => conn.socket.destroy());
      break;
    case '/afterclose':
      conn.close(AFTER_CLOSE.code, AFTER_CLOSE.reason);
      conn.socket.write(frame(1, 'sent after the close frame'));
      break;
    default:
      echo();
  }
}

// drive sends the messages, expects them back in order, and says how it
// went with the close code.
function drive(conn, deflate) {
  const want = driveMessages(deflate);
  let i = 0;
  let done = false;
  const finish = (code, reason) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    conn.close(code, reason.slice(0, 120));
  };
  const timer = setTimeout(() => finish(4102, `timed out after ${i} of ${want.length} echoes`), 20000);
  conn.onMessage((data) => {
    if (done) return;
    const w = want[i];
    if (!sameData(data, w.binary ? w.data : String(w.data))) {
      finish(4100, `echo ${i + 1}: got ${describe(data)}, want ${describe(w.data)}`);
      return;
    }
    if (++i < want.length) return;
    if (deflate && !/permessage-deflate/.test(conn.extensions)) {
      finish(4101, `permessage-deflate not negotiated (extensions "${conn.extensions}")`);
      return;
    }
    finish(1000, 'ok');
  });
  for (const m of want) conn.send(m.data);
}

const server = http.createServer((req, res) => {
  res.writeHead(426, { 'Content-Type': 'text/plain' });
  res.end('WebSocket only\n');
});

if (lib === 'ws') {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX,
    perMessageDeflate: true,
    handleProtocols: (offered) => [...offered].find((p) => PROTOCOLS.includes(p)) ?? false,
  });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    wss.handleUpgrade(req, socket, head, (ws) => handle(wsConn(ws, socket), req));
  });
} else {
  server.on('upgrade', (req, socket, body) => {
    socket.on('error', () => {});
    if (!websocket.isWebSocket(req)) {
      socket.destroy();
      return;
    }
    const d = websocket.http(req, { protocols: PROTOCOLS, maxLength: MAX });
    d.on('error', () => {});
    d.on('close', () => socket.end());
    d.io.write(body);
    socket.pipe(d.io).pipe(socket);
    d.on('open', () => handle(driverConn(d, socket), req));
    d.start();
  });
}

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on ws://127.0.0.1:${server.address().port}`);
});
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));
