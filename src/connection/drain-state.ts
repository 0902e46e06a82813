import { Injectable } from '@nestjs/common';

/** Whether shutdown has begun: new upgrades get 503 and readiness fails (§9). */
@Injectable()
export class DrainState {
  private draining = false;

  get isDraining(): boolean {
    return this.draining;
  }

  begin(): void {
    this.draining = true;
  }
}
