#!/usr/bin/env node
// A minimal Node.js fan-out chat server: the stack a typical "build a chat
// with WebSockets" tutorial ends with (node:http plus npm `ws`, rooms in a
// Map, each message sent by a loop over the room's sockets). It is a peer
// for `scripts/perf.sh peers`, so it stays plain on purpose: no batching,
// no compression, no history, no heartbeats. profiles/node-ws.toml
// describes its wire format to `rtbench load`.
//
//   node scripts/peers/ws-server.mjs [PORT]      (default 0: any free port)
//
//   POST /rooms/{room}/messages  body {"text": …} -> 201 {"id": N}; the
//                                message {"id","room","text","ts"} goes to
//                                every subscriber of the room
//   GET  /rooms/{room}/ws        WebSocket: each message as one text frame;
//                                a frame {"text": …} from the client is
//                                published to the room (the sender included)
//   GET  /rooms/{room}/events    SSE: `id: N` and `data: {json}` per message
//   GET  /healthz                200
//
// Listens on 127.0.0.1 and prints one line when ready, as `rtbench server`
// does: {"listening":"http://127.0.0.1:PORT"}. Exits when its stdin
// closes, so the script that owns the pipe cannot leak it.
import http from 'node:http';
import { WebSocketServer, WebSocket } from 'ws';

const USAGE = 'usage: node scripts/peers/ws-server.mjs [PORT]';
const args = process.argv.slice(2);
const port = args.length === 0 ? 0 : Number(args[0]);
if (args.length > 1 || !Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(USAGE);
  process.exit(2);
}

/** Largest publish body accepted. */
const MAX_BODY = 64 * 1024;
const ROUTE = /^\/rooms\/([\w.-]{1,64})\/(messages|ws|events)$/;

/** room -> Set of WebSocket subscribers. */
const sockets = new Map();
/** room -> Set of SSE responses. */
const streams = new Map();
let lastId = 0;

function member(map, room, who) {
  if (!map.has(room)) map.set(room, new Set());
  map.get(room).add(who);
}

function part(map, room, who) {
  const set = map.get(room);
  set?.delete(who);
  if (set?.size === 0) map.delete(room);
}

/** Sends one message to everyone in the room; returns its id. */
function publish(room, text) {
  const message = { id: ++lastId, room, text, ts: Date.now() };
  const json = JSON.stringify(message);
  for (const ws of sockets.get(room) ?? []) {
    if (ws.readyState === WebSocket.OPEN) ws.send(json);
  }
  const event = `id: ${message.id}\ndata: ${json}\n\n`;
  for (const res of streams.get(room) ?? []) res.write(event);
  return message.id;
}

/** The `text` of a {"text": string} JSON document, else undefined. */
function textOf(raw) {
  try {
    const body = JSON.parse(raw);
    return typeof body?.text === 'string' ? body.text : undefined;
  } catch {
    return undefined;
  }
}

function reply(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function onPublish(req, res, room) {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      reply(res, 413, { error: 'body too large' });
      req.destroy();
    } else {
      chunks.push(chunk);
    }
  });
  req.on('end', () => {
    const text = textOf(Buffer.concat(chunks).toString('utf8'));
    if (text === undefined) return reply(res, 400, { error: 'send {"text": string}' });
    reply(res, 201, { id: publish(room, text) });
  });
}

function onEvents(req, res, room) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.flushHeaders();
  member(streams, room, res);
  res.on('close', () => part(streams, room, res));
}

const server = http.createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0];
  if (req.method === 'GET' && path === '/healthz') return reply(res, 200, { ok: true });
  const m = ROUTE.exec(path);
  if (m && m[2] === 'messages' && req.method === 'POST') return onPublish(req, res, m[1]);
  if (m && m[2] === 'events' && req.method === 'GET') return onEvents(req, res, m[1]);
  reply(res, 404, { error: 'not found' });
});

// The library's default, spelled out: no permessage-deflate.
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

server.on('upgrade', (req, socket, head) => {
  const m = ROUTE.exec((req.url ?? '').split('?')[0]);
  if (!m || m[2] !== 'ws') {
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const room = m[1];
    member(sockets, room, ws);
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? undefined : textOf(data.toString('utf8'));
      if (text !== undefined) publish(room, text);
    });
    ws.on('close', () => part(sockets, room, ws));
    ws.on('error', () => ws.terminate());
  });
});

server.listen(port, '127.0.0.1', () => {
  const { port: bound } = server.address();
  process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${bound}` })}\n`);
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
