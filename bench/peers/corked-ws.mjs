// Peer (reference): the bare `ws` server with the two classic fan-out optimisations —
// each publish is serialised once, and every socket written to is corked until the end of
// the event-loop turn (setImmediate), so one turn's frames leave in one writev per socket.
// Dev-only; started by bench/run.mjs with an IPC channel.
import http from 'node:http';
import jwt from 'jsonwebtoken';
import { WebSocketServer } from 'ws';
import { publishHandler, secretKey, serveIpc, verifyBearer } from '../lib/server-ipc.mjs';

const secret = secretKey(process.env.JWT_SECRET);
const SUBSCRIBE_PREFIX = Buffer.from('{"event":"tracking.subscribe"');
const topics = new Map(); // topic -> Set<WebSocket>
let nextId = 0;

const corked = [];
let flushScheduled = false;
function flush() {
  flushScheduled = false;
  for (let i = 0; i < corked.length; i += 1) {
    const ws = corked[i];
    ws.corked = false;
    ws._socket.uncork();
  }
  corked.length = 0;
}
function send(ws, payload, isBinary = false) {
  if (ws.readyState !== 1) return;
  if (!ws.corked) {
    ws.corked = true;
    ws._socket.cork();
    corked.push(ws);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }
  ws.send(payload, { binary: isBinary });
}

function publish(topic, data) {
  const members = topics.get(topic);
  if (!members) return;
  const payload = Buffer.from(JSON.stringify({ event: 'tracking.update', data: { ...data, trackingId: topic } })); // once
  for (const ws of members) send(ws, payload);
}

const server = http.createServer(publishHandler(process.env.REALTIME_API_KEY, publish));
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 65536 });

server.on('upgrade', (req, socket, head) => {
  const user = verifyBearer(jwt, secret, req.headers.authorization);
  if (!user) {
    socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.user = user;
    ws.topics = new Set();
    ws.isAlive = true;
    ws.corked = false;
    ws.on('pong', () => (ws.isAlive = true));
    ws.on('message', (data, isBinary) => {
      if (!isBinary && data.length < 4096 && data.indexOf(SUBSCRIBE_PREFIX) === 0) return subscribe(ws, data);
      send(ws, data, isBinary); // echo
    });
    ws.on('close', () => {
      for (const topic of ws.topics) {
        const members = topics.get(topic);
        members?.delete(ws);
        if (members?.size === 0) topics.delete(topic);
      }
    });
    send(ws, JSON.stringify({ event: 'connected', data: { connectionId: String((nextId += 1)), userId: user.sub } }));
  });
});

function subscribe(ws, data) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    return;
  }
  const topic = frame?.data?.trackingId;
  if (typeof topic !== 'string') return;
  ws.topics.add(topic);
  let members = topics.get(topic);
  if (!members) topics.set(topic, (members = new Set()));
  members.add(ws);
  send(ws, JSON.stringify({ event: 'tracking.subscribed', data: { trackingId: topic }, id: frame.id }));
}

const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) ws.terminate();
    else {
      ws.isAlive = false;
      ws.ping();
    }
  }
}, 25000);
heartbeat.unref();

server.listen(0, '127.0.0.1', () => serveIpc(server.address().port, publish));
