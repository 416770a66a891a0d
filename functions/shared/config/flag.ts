/**
 * How a "true"/"false" environment variable reads, said once for the settings (settings.ts's booleanFlag)
 * and for the tracing preload, which reads OTEL_SDK_DISABLED before it may load zod. Depends on nothing.
 */
export const FLAG_VALUES = ['true', 'false', '1', '0'] as const;

/** The flag `value` names; unset or empty is `fallback`; anything else stops the instance with `name`. */
export function readFlag(name: string, value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new Error(`Invalid environment: ${name}: must be true or false, got "${value}"`);
}
