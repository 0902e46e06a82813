/**
 * A namespace that exists only in tests, declared the way a host application adds one:
 * its descriptor, its DTOs and its gateway, all in this one file, served with
 * `RealtimeModule.forRoot(options, { gateways: [EchoGateway] })`. Nothing in src/ names it.
 */
import { Inject } from '@nestjs/common';
import { MessageBody } from '@nestjs/websockets';
import { IsString, Length, Matches } from 'class-validator';
import { type Observable, of, delay } from 'rxjs';
import {
  type Connection,
  CurrentConnection,
  defineNamespace,
  MessageRate,
  OnClientEvent,
  payload,
  RealtimeGateway,
  RealtimeNamespace,
  replyTo,
  SessionAuthService,
  SkipMessageRate,
  TopicSubscriptions,
} from '../../src/index.js';
import { EmptyDto } from '../../src/gateways/dto/session.dto.js';

export class EchoIdDto {
  @IsString()
  @Matches(/^[a-z0-9-]{1,32}$/)
  echoId!: string;
}

export class EchoTextDto {
  @IsString()
  @Length(1, 200)
  text!: string;
}

/** Role that may watch echo topics (the namespace's own authorisation rule). */
export const ECHO_ROLE = 'echo';
export const ECHO_FRAME_CAP = 512;

const unwatched = { event: 'echo.unwatched', data: payload<{ readonly echoId: string }>() } as const;
const text = { event: 'echo.text', data: payload<{ readonly text: string; readonly via: string }>() } as const;
const ok = { event: 'echo.ok', data: payload<Record<string, never>>() } as const;
const update = { event: 'echo.update', data: payload<Readonly<Record<string, unknown>> & { readonly echoId: string }>() } as const;

export const ECHO = defineNamespace({
  name: 'echo-test',
  path: '/ws/echo-test',
  authRequired: true,
  client: {
    watch: { event: 'echo.watch', dto: EchoIdDto, maxBytes: ECHO_FRAME_CAP, reply: { event: 'echo.watching', data: payload<{ readonly echoId: string }>() } },
    unwatch: { event: 'echo.unwatch', dto: EchoIdDto, maxBytes: ECHO_FRAME_CAP, reply: unwatched },
    promised: { event: 'echo.promised', dto: EchoTextDto, maxBytes: ECHO_FRAME_CAP, reply: text },
    observed: { event: 'echo.observed', dto: EchoTextDto, maxBytes: ECHO_FRAME_CAP, reply: text },
    limited: { event: 'echo.limited', dto: EmptyDto, maxBytes: ECHO_FRAME_CAP, reply: ok },
    unlimited: { event: 'echo.unlimited', dto: EmptyDto, maxBytes: ECHO_FRAME_CAP, reply: ok },
  },
  push: { update },
  topic: { key: 'echoId', type: 'string', dropped: unwatched },
  authorize: (identity) => identity?.roles.includes(ECHO_ROLE) ?? false,
  publish: { to: 'topic', push: update },
  recoverable: false,
});

/** `echo.limited`: 2 frames, then one per 10 s, whatever the connection's own rate. */
export const ECHO_LIMITED_RATE = { perSec: 0.1, burst: 2 } as const;

const { watch, unwatch, promised, observed, limited, unlimited } = ECHO.client;

@RealtimeNamespace(ECHO)
export class EchoGateway extends RealtimeGateway {
  constructor(
    @Inject(SessionAuthService) sessionAuth: SessionAuthService,
    @Inject(TopicSubscriptions) private readonly topics: TopicSubscriptions,
  ) {
    super(sessionAuth);
  }

  @OnClientEvent(watch)
  async watch(@CurrentConnection() client: Connection, @MessageBody() body: EchoIdDto) {
    await this.topics.subscribe(client, body.echoId);
    return replyTo(watch, { echoId: body.echoId });
  }

  @OnClientEvent(unwatch)
  unwatch(@CurrentConnection() client: Connection, @MessageBody() body: EchoIdDto) {
    this.topics.unsubscribe(client, body.echoId);
    return replyTo(unwatch, { echoId: body.echoId });
  }

  /** Answers with a Promise that settles later. */
  @OnClientEvent(promised)
  promised(@MessageBody() body: EchoTextDto): Promise<ReturnType<typeof replyTo<typeof promised>>> {
    return new Promise((resolve) => setTimeout(() => resolve(replyTo(promised, { text: body.text, via: 'promise' })), 10));
  }

  /** Answers with an Observable of two replies. */
  @OnClientEvent(observed)
  observed(@MessageBody() body: EchoTextDto): Observable<ReturnType<typeof replyTo<typeof observed>>> {
    return of(replyTo(observed, { text: body.text, via: 'observable-1' }), replyTo(observed, { text: body.text, via: 'observable-2' })).pipe(delay(5));
  }

  @MessageRate(ECHO_LIMITED_RATE)
  @OnClientEvent(limited)
  limited(@MessageBody() _body: EmptyDto) {
    return replyTo(limited, {});
  }

  @SkipMessageRate()
  @OnClientEvent(unlimited)
  unlimited(@MessageBody() _body: EmptyDto) {
    return replyTo(unlimited, {});
  }
}
