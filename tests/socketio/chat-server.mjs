#!/usr/bin/env node
// A reference Socket.IO v4 chat server (npm `socket.io`), so that rtbench's
// own Socket.IO codec, client and server can be checked against the real
// implementation.
//
//   node tests/socketio/chat-server.mjs [PORT]      (default 0: any free port)
//
// Listens on 127.0.0.1 at /socket.io/ with the library's defaults (polling
// then WebSocket upgrade, server-sent pings) and prints one line when ready,
// the same line `rtbench server` prints: {"listening":"http://127.0.0.1:PORT"}.
// Exits when its stdin closes, so a test that owns the pipe cannot leak it.
//
// Events (a client's name is `auth.user` from its CONNECT packet, else its
// socket id; a client is in at most one room):
//   join(room[, ack])          leave the previous room, enter `room`;
//                              ack({room, users})
//   chat message(obj[, ack])   to everyone in the room, the sender included:
//                              `obj` as received plus `id`, a number that
//                              increases across the whole server; ack({id})
//   typing()                   to the others in the room: typing({room, user})
//   user list {room, users}    sent to the room on every join and leave
import http from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error('usage: node tests/socketio/chat-server.mjs [PORT]');
  process.exit(2);
}

const httpServer = http.createServer();
// No client bundle: only the protocol is under test.
const io = new Server(httpServer, { serveClient: false });

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
  io.to(room).emit('user list', { room, users: usersOf(room) });
}

io.on('connection', (socket) => {
  const auth = socket.handshake.auth ?? {};
  const user = typeof auth.user === 'string' && auth.user !== '' ? auth.user : socket.id;

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
    io.to(room).emit('user list', { room, users });
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
    io.to(room).emit('chat message', { ...payload, id });
    if (typeof ack === 'function') ack({ id });
  });

  socket.on('typing', () => {
    const room = socket.data.room;
    if (room !== undefined) socket.to(room).emit('typing', { room, user });
  });

  socket.on('disconnect', () => leave(socket));
});

httpServer.listen(port, '127.0.0.1', () => {
  const { port: bound } = httpServer.address();
  process.stdout.write(`${JSON.stringify({ listening: `http://127.0.0.1:${bound}` })}\n`);
});

// The owner of our stdin decides how long we live.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
