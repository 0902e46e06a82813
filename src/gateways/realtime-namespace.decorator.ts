import { applyDecorators } from '@nestjs/common';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { MaxMessageSize } from '../decorators/max-message-size.decorator.js';
import { Public } from '../decorators/public.decorator.js';
import type { ClientEventSpec, NamespaceDescriptor, RealtimeGatewayOptions } from '../protocol/namespace-descriptor.js';

/**
 * Declares the gateway of a namespace from its descriptor (docs/protocol.md §1). The
 * adapter serves its path and makes the namespace known to the handshake, the authoriser
 * and the publisher when the gateway is created.
 */
export const RealtimeNamespace = (descriptor: NamespaceDescriptor): ClassDecorator =>
  WebSocketGateway({ path: descriptor.path, descriptor } satisfies RealtimeGatewayOptions);

/** Handles a client event as its declaration says: the event name, its frame cap, and whether it is public. */
export const OnClientEvent = (spec: ClientEventSpec): MethodDecorator =>
  spec.public
    ? applyDecorators(Public(), MaxMessageSize(spec.maxBytes), SubscribeMessage(spec.event))
    : applyDecorators(MaxMessageSize(spec.maxBytes), SubscribeMessage(spec.event));
