import { Injectable } from '@nestjs/common';

/** Which gateway paths have a live ws server (readiness: "the ws servers are up"). */
@Injectable()
export class GatewayServers {
  private readonly paths = new Set<string>();

  register(path: string): void {
    this.paths.add(path);
  }

  unregister(path: string): void {
    this.paths.delete(path);
  }

  get count(): number {
    return this.paths.size;
  }
}
