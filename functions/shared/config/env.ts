import * as z from 'zod';

/**
 * Reads and validates environment variables once, at cold start. A missing or malformed variable stops the
 * function with the variable's name, rather than failing later on the first request that needs it.
 */
export function loadEnv<Shape extends z.ZodRawShape>(
  shape: Shape,
  source: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<Shape>> {
  const result = z.object(shape).safeParse(source);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`Invalid environment: ${problems.join('; ')}`);
  }
  return result.data;
}

/** Environment variables that "true"/"false" strings switch on and off. */
export const booleanFlag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', ''])
    .optional()
    .transform((value) =>
      value === undefined || value === '' ? fallback : value === 'true' || value === '1',
    );

/** An integer from `min` to `max` (0 and up unless told), given as a string in the environment; empty means `fallback`. */
export const integerSetting = (fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === '') return fallback;
      const parsed = Number(value);
      if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}, got "${value}"` });
        return z.NEVER;
      }
      return parsed;
    });

/** Settings every function shares: who it is, where it runs, and how much it logs. */
export const commonEnv = loadEnv({
  OTEL_SERVICE_NAME: z.string().min(1).default('unknown-service'),
  STAGE: z.string().min(1).default('local'),
  IS_OFFLINE: booleanFlag(false),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  // Read by the tracing preload, which sends the log records there; validated here, once, like the rest.
  LOKI_URL: z.union([z.literal(''), z.url()]).default(''),
  /**
   * What an invocation does with its caller's trace context. `continue` (the internal routes): the call is part
   * of the caller's trace. `link` (the public routes, unless a trusted front end is configured): a new trace
   * starts here and the caller's context, when valid, is only a span link; its sampled flag and its baggage
   * decide nothing (W3C Trace Context, "security considerations"). Set per function from its manifest.
   */
  INBOUND_TRACE_CONTEXT: z.enum(['continue', 'link']).default('continue'),
});
