/** A dependency readiness depends on (e.g. Redis when REDIS_URL is set). */
export interface ReadinessIndicator {
  readonly name: string;
  isHealthy(): boolean | Promise<boolean>;
}

export const READINESS_INDICATORS = Symbol('READINESS_INDICATORS');
