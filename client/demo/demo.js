// The demo page: three clients of the built browser bundle, one per namespace path.
import { RealtimeClient } from './realtime-client.browser.js';

const params = new URLSearchParams(location.search);
const url = params.get('ws') ?? document.querySelector('meta[name="realtime-url"]').content;
const trackingId = params.get('tracking') ?? 'DEMO-1';
const roomId = params.get('room') ?? 'lobby';
// `?fast` shortens the reconnect delays (used by the browser tests).
const backoff = params.has('fast') ? { initialDelayMs: 200, maxDelayMs: 1000, minDelayMs: 100 } : undefined;
const $ = (id) => document.getElementById(id);
const tokenField = $('token');
const getToken = () => tokenField.value.trim() || undefined;

/** Everything the page saw, per client, for people and for the browser tests. */
const events = { tracking: [], notifications: [], collaboration: [] };
window.demo = { events, clients: {} };

function item(list, text) {
  const li = document.createElement('li');
  li.textContent = text;
  $(list).prepend(li);
  while ($(list).children.length > 50) $(list).lastChild.remove();
}

function watch(name, client) {
  const state = $(`${name}-state`);
  const show = (text) => {
    state.textContent = text;
    state.dataset.state = client.state;
  };
  for (const event of ['connecting', 'connected', 'disconnected', 'closed', 'auth.refreshed', 'recovery']) {
    client.on(event, (data) => events[name].push({ event, data, at: Date.now() }));
  }
  client.on('connecting', ({ attempt }) => show(`connecting (attempt ${attempt + 1})`));
  client.on('connected', (s) => show(`connected ${s.authenticated ? `as ${s.userId}` : 'anonymously'} · ${s.connectionId}`));
  client.on('disconnected', (d) => show(`disconnected ${d.code}${d.reason ? ` ${d.reason}` : ''}${d.willReconnect ? `, retrying in ${d.delayMs} ms` : ''}`));
  client.on('auth.refreshed', (r) => show(`token refreshed, expires ${r.expiresAt}`));
  client.on('error', (e) => {
    events[name].push({ event: 'error', data: { code: e.code, message: e.message, httpStatus: e.httpStatus }, at: Date.now() });
    item('errors', `${name}: ${e.code} ${e.message}`);
  });
  window.demo.clients[name] = client;
  return client;
}

function connectAll() {
  for (const client of Object.values(window.demo.clients)) client.close();
  for (const list of ['tracking-updates', 'notification-list', 'room-messages', 'errors']) $(list).replaceChildren();
  const options = { url, getToken, ...(backoff ? { backoff } : {}) };

  const tracking = watch('tracking', new RealtimeClient({ ...options, path: '/ws/tracking' }));
  tracking.on('tracking.update', (u) => item('tracking-updates', `${u.status ?? 'update'} ${JSON.stringify(u)}`));
  tracking.subscribe('tracking.subscribe', { trackingId }).catch((e) => item('errors', `tracking: ${e.code}`));

  const notifications = watch('notifications', new RealtimeClient({ ...options, path: '/ws/notifications' }));
  notifications.on('notification', (n) => item('notification-list', JSON.stringify(n)));
  notifications.subscribe('notifications.subscribe').catch((e) => item('errors', `notifications: ${e.code}`));

  const members = new Map();
  const showMembers = () => ($('members').textContent = [...members.values()].join(', ') || '—');
  const collaboration = watch('collaboration', new RealtimeClient({ ...options, path: '/ws/collaboration' }));
  collaboration.on('room.presence', (p) => {
    if (p.action === 'join') members.set(p.user.userId, p.user.username);
    else members.delete(p.user.userId);
    showMembers();
  });
  collaboration.on('room.message', (m) => item('room-messages', `${m.from.username}: ${m.data.text}`));
  const setMembers = (joined) => {
    members.clear();
    for (const m of joined.members) members.set(m.userId, m.username);
    showMembers();
  };
  // Presence is rebuilt from each (re)join's member list.
  collaboration.on('resubscribed', (r) => r.event === 'room.join' && setMembers(r.answer));
  collaboration.subscribe('room.join', { roomId }).then((sub) => setMembers(sub.answer), (e) => item('errors', `collaboration: ${e.code}`));
}

$('tracking-id').textContent = trackingId;
$('room-id').textContent = roomId;
$('connect').addEventListener('click', connectAll);
$('send').addEventListener('click', () => {
  const text = $('message').value;
  if (!text) return;
  window.demo.clients.collaboration?.send('room.broadcast', { roomId, data: { text } }).catch(() => undefined);
  item('room-messages', `me: ${text}`);
  $('message').value = '';
});
if (params.has('autoconnect')) connectAll();
