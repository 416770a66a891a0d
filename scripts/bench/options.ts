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
      if (given === undefined) return fallback;
      const parsed = Number(given);
      if (given.trim() === '' || !Number.isFinite(parsed)) {
        throw new Error(`--${name} must be a number, got ${JSON.stringify(given)}`);
      }
      return parsed;
    },
  };
}
