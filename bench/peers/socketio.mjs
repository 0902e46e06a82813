// Peer: Socket.IO 4 with rooms. JWT checked at the handshake (allowRequest), websocket
// transport only, `tracking.subscribe` joins a room, publishes go to io.to(room).emit,
// and `echo` answers the inbound scenario. Dev-only; started by bench/run.mjs with IPC.
import http from 'node:http';
import jwt from 'jsonwebtoken';
import { Server } from 'socket.io';
import { publishHandler, secretKey, serveIpc, verifyBearer } from '../lib/server-ipc.mjs';

const secret = secretKey(process.env.JWT_SECRET);

let io;
const publish = (topic, data) => io.to(topic).emit('tracking.update', { ...data, trackingId: topic });
const server = http.createServer(publishHandler(process.env.REALTIME_API_KEY, publish));
io = new Server(server, {
  serveClient: false,
  transports: ['websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  maxHttpBufferSize: 65536,
  allowRequest: (req, callback) => {
    const user = verifyBearer(jwt, secret, req.headers.authorization);
    if (!user) return callback('unauthorized', false);
    req.user = user;
    callback(null, true);
  },
});

io.on('connection', (socket) => {
  socket.data.user = socket.request.user;
  socket.on('tracking.subscribe', (data) => {
    const topic = data?.trackingId;
    if (typeof topic !== 'string') return;
    socket.join(topic);
    socket.emit('tracking.subscribed', { trackingId: topic });
  });
  socket.on('echo', (data) => socket.emit('echo', data));
});

server.listen(0, '127.0.0.1', () => serveIpc(server.address().port, publish));
