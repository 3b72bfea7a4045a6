#!/usr/bin/env node
// A reference Socket.IO v4 chat server (npm `socket.io`), so that rtbench's
// own Socket.IO codec, client and server can be checked against the real
// implementation.
//
//   node tests/socketio/chat-server.mjs [PORT] [--ping-interval MS]
//        [--ping-timeout MS] [--kick-after MS] [--kick-users REGEX]
//
// Listens on 127.0.0.1 at /socket.io/ with the library's defaults (polling
// then WebSocket upgrade, server-sent pings; --ping-interval and
// --ping-timeout shorten them for tests) and prints one line when ready,
// the same line `rtbench server` prints: {"listening":"http://127.0.0.1:PORT"}.
// Exits when its stdin closes, so a test that owns the pipe cannot leak it.
//
// Events (a client's name is `auth.user` from its CONNECT packet, else its
// socket id; a client is in at most one room):
//   join(room[, ack])          leave the previous room, enter `room`;
//                              ack({room, users}). The joiner also gets
//                              `user list` {room, users}; the others get
//                              `user joined` {room, user} (never the whole
//                              list: that is O(n²) traffic per join wave).
//                              With `since=ID` in the handshake query, the
//                              room's kept messages after ID are replayed
//                              to the joiner first (resume after a drop).
//   chat message(obj[, ack])   to everyone in the room, the sender included:
//                              `obj` as received plus `id`, a number that
//                              increases across the whole server; ack({id})
//   typing()                   to the others in the room: typing({room, user})
//   kick()                     the server disconnects this socket (`41`)
//   (leaving)                  the others get `user left` {room, user}
//
// --kick-after MS: every client whose name matches --kick-users (default:
// any) is disconnected by the server once, MS after its first connect, so
// tests can check that clients survive a server-closed session and resume.
import http from 'node:http';
import { Server } from 'socket.io';

const USAGE = 'usage: node tests/socketio/chat-server.mjs [PORT] [--ping-interval MS] '
  + '[--ping-timeout MS] [--kick-after MS] [--kick-users REGEX]';
const args = process.argv.slice(2);
const opts = { port: 0, pingInterval: 25000, pingTimeout: 20000, kickAfter: 0, kickUsers: '' };
for (let i = 0; i < args.length; i++) {
  const num = (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) { console.error(USAGE); process.exit(2); }
    return n;
  };
  switch (args[i]) {
    case '--ping-interval': opts.pingInterval = num(args[++i]); break;
    case '--ping-timeout': opts.pingTimeout = num(args[++i]); break;
    case '--kick-after': opts.kickAfter = num(args[++i]); break;
    case '--kick-users': opts.kickUsers = args[++i] ?? ''; break;
    default: opts.port = num(args[i]);
  }
}
if (opts.port > 65535) { console.error(USAGE); process.exit(2); }
const kickUsers = new RegExp(opts.kickUsers);

const httpServer = http.createServer();
// No client bundle: only the protocol is under test.
const io = new Server(httpServer, {
  serveClient: false,
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
});

/** Messages kept per room for resuming (`since`). */
const KEPT = 1024;
/** room -> [{ id, message }], oldest first. */
const history = new Map();
/** Users already kicked once (--kick-after). */
const kicked = new Set();

/** room -> Map(socket id -> user name), in join order. */
const rooms = new Map();
let lastId = 0;

const usersOf = (room) => [...(rooms.get(room)?.values() ?? [])];

function leave(socket) {
  const room = socket.data.room;
  if (room === undefined) return;
  socket.data.room = undefined;
  socket.leave(room);
  const members = rooms.get(room);
  members?.delete(socket.id);
  if (members?.size === 0) rooms.delete(room);
  io.to(room).emit('user left', { room, user: socket.data.user });
}

function replay(socket, room) {
  const since = Number(socket.handshake.query.since);
  if (!Number.isFinite(since)) return;
  for (const m of history.get(room) ?? []) {
    if (m.id > since) socket.emit('chat message', m);
  }
}

io.on('connection', (socket) => {
  const auth = socket.handshake.auth ?? {};
  const user = typeof auth.user === 'string' && auth.user !== '' ? auth.user : socket.id;
  socket.data.user = user;
  if (opts.kickAfter > 0 && !kicked.has(user) && kickUsers.test(user)) {
    kicked.add(user);
    setTimeout(() => socket.disconnect(true), opts.kickAfter);
  }

  socket.on('join', (room, ack) => {
    if (typeof room !== 'string' || room === '') {
      if (typeof ack === 'function') ack({ error: 'room must be a non-empty string' });
      return;
    }
    leave(socket);
    socket.data.room = room;
    socket.join(room);
    if (!rooms.has(room)) rooms.set(room, new Map());
    rooms.get(room).set(socket.id, user);
    const users = usersOf(room);
    replay(socket, room);
    socket.emit('user list', { room, users });
    socket.to(room).emit('user joined', { room, user });
    if (typeof ack === 'function') ack({ room, users });
  });

  socket.on('chat message', (payload, ack) => {
    const room = socket.data.room;
    const ok = room !== undefined && payload !== null && typeof payload === 'object'
      && !Array.isArray(payload);
    if (!ok) {
      if (typeof ack === 'function') ack({ error: 'join a room, then send an object' });
      return;
    }
    const id = ++lastId;
    const message = { ...payload, id };
    if (!history.has(room)) history.set(room, []);
    const kept = history.get(room);
    kept.push(message);
    if (kept.length > KEPT) kept.shift();
    io.to(room).emit('chat message', message);
    if (typeof ack === 'function') ack({ id });
  });

  socket.on('typing', () => {
    const room = socket.data.room;
    if (room !== undefined) socket.to(room).emit('typing', { room, user });
  });

  socket.on('kick', () => socket.disconnect(true));

  socket.on('disconnect', () => leave(socket));
});

httpServer.listen(opts.port, '127.0.0.1', () => {
  const { port: bound } = httpServer.address();
  process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${bound}` })}\n`);
});

// The owner of our stdin decides how long we live.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
