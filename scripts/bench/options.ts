/** Reads `--name value` pairs and `--flag` switches from a bench script's argv. */
export function optionsOf(argv: readonly string[]) {
  return {
    value(name: string): string | undefined {
      const index = argv.indexOf(`--${name}`);
      return index >= 0 ? argv[index + 1] : undefined;
    },
    flag(name: string): boolean {
      return argv.includes(`--${name}`);
    },
  };
}
