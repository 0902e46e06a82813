import { WebSocketGateway } from '@nestjs/websockets';
import { NAMESPACES, type NamespaceName } from '../protocol/namespaces.js';

/** Declares a gateway for one namespace of the contract's table (docs/protocol.md §1). */
export const RealtimeNamespace = (name: NamespaceName): ClassDecorator => WebSocketGateway({ path: NAMESPACES[name].path });
