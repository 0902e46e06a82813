import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC_KEY = 'realtime:public';

/** The handler may be called before authentication (anonymous or pending connections). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC_KEY, true);
