/** The browser and Node client of the realtime layer (docs/client.md). */
export {
  RealtimeClient,
  type RealtimeClientOptions,
  type RequestOptions,
  type ClientState,
  type ClientEvents,
  type DisconnectedEvent,
  type RecoveryEvent,
  type EventMap,
  type EventName,
  type Handler,
  type InboundFrame,
  type Subscription,
  type WebSocketImplementation,
  type WebSocketLike,
} from './realtime-client.js';
export { RealtimeError, type RealtimeErrorCode, type ClientErrorCode } from './errors.js';
export { CLOSE_POLICY, DEFAULT_BACKOFF, backoffDelay, reconnectAction, type BackoffOptions, type ReconnectAction } from './reconnect-policy.js';
export { SUBSCRIPTION_KINDS, type SubscribeEventName } from './subscriptions.js';
export type * from './protocol-types.js';
