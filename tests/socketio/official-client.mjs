// The official Socket.IO client (npm socket.io-client) against rtbench's
// server: node official-client.mjs URL ROOM [polling]. Default options
// (polling, then the upgrade to WebSocket), or transports: ["polling"].
// Prints one JSON line per step for server/tests/socketio.rs; bounded at 10 s.
import { io } from "socket.io-client";

const [url, room, mode] = process.argv.slice(2);
const out = (o) => console.log(JSON.stringify(o));
const opts = { query: { room, history: "0" }, reconnection: false };
if (mode === "polling") opts.transports = ["polling"];
const socket = io(url, opts);
const timer = setTimeout(() => {
  out({ event: "timeout" });
  process.exit(2);
}, 10000);

const transport = () => socket.io.engine.transport.name;
socket.on("connect_error", (e) => {
  out({ event: "connect_error", message: e.message });
  process.exit(1);
});
socket.on("connect", () => {
  const ready = () => out({ event: "ready", transport: transport() });
  if (mode === "polling" || transport() === "websocket") ready();
  else socket.io.engine.once("upgrade", ready);
});
let got = 0;
socket.on("message", (m) => {
  out({ event: "message", message: m, transport: transport() });
  got += 1;
  if (got === 2) {
    socket.emit("message", { user: "node", text: "from node" }, (ack) => {
      out({ event: "ack", ack, transport: transport() });
      clearTimeout(timer);
      socket.close();
    });
  }
});
