/** Reads `--name value` pairs and `--flag` switches from a bench script's argv. */
export function optionsOf(argv: readonly string[]) {
  const value = (name: string): string | undefined => {
    const index = argv.indexOf(`--${name}`);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  return {
    value,
    flag(name: string): boolean {
      return argv.includes(`--${name}`);
    },
    /** A count or size: a typo fails here, naming the option, rather than running a bench on NaN. */
    number(name: string, fallback: number): number {
      const given = value(name);
      return given === undefined ? fallback : numberOf(name, given);
    },
    /** A comma-separated list of counts (`--clients 4,8,32`), read as strictly as one. */
    numbers(name: string, fallback: readonly number[]): number[] {
      const given = value(name);
      if (given === undefined) return [...fallback];
      return given === '' ? [] : given.split(',').map((item) => numberOf(name, item));
    },
  };
}

function numberOf(name: string, given: string): number {
  const parsed = Number(given);
  if (given.trim() === '' || !Number.isFinite(parsed)) {
    throw new Error(`--${name} must be a number, got ${JSON.stringify(given)}`);
  }
  return parsed;
}
