/** Injection token of the resolved, validated `RealtimeConfig`. */
export const REALTIME_CONFIG = Symbol('REALTIME_CONFIG');
/** Injection token of the raw options passed to forRoot/forRootAsync. */
export const REALTIME_OPTIONS = Symbol('REALTIME_OPTIONS');
