/**
 * The layout's rules (docs/architecture.md), checked in the static tier (test/static/architecture.test.ts) and
 * by `npm run depcruise`. Every rule is an error: a change that breaks one does not land.
 */
const SHARED = '^functions/shared/';
/** functions/shared's layers, lowest first: a layer imports only the layers below it (and itself). */
const LAYERS = [
  ['config', 'contracts'],
  ['runtime'],
  ['telemetry'],
  ['faults', 'data'],
  ['http', 'schedule', 'stream'],
  ['settlement'],
];

/** One rule per layer: nothing from that layer into a layer at its rank or above (other than itself). */
const layerRules = LAYERS.flatMap((rank, index) =>
  rank.map((layer) => {
    const above = LAYERS.slice(index).flat().filter((other) => other !== layer);
    return {
      name: `shared-${layer}-imports-only-lower-layers`,
      comment: `functions/shared/${layer} may import only ${LAYERS.slice(0, index).flat().join(', ') || 'nothing else in shared'}`,
      severity: 'error',
      from: { path: `${SHARED}${layer}/` },
      to: { path: `${SHARED}(${above.join('|')})/` },
    };
  }),
);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No module reaches itself again through its imports.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'functions-stay-in-their-folder',
      comment: 'A function imports its own folder and functions/shared, never another function.',
      severity: 'error',
      from: { path: '^functions/([^/]+)/', pathNot: SHARED },
      to: { path: '^functions/', pathNot: ['^functions/$1/', SHARED] },
    },
    {
      name: 'shared-serves-functions',
      comment: 'functions/shared knows no function.',
      severity: 'error',
      from: { path: SHARED },
      to: { path: '^functions/', pathNot: SHARED },
    },
    ...layerRules,
    {
      name: 'functions-are-self-contained',
      comment: 'What is deployed imports nothing from the local runtime, the scripts or the tests.',
      severity: 'error',
      from: { path: '^functions/' },
      to: { path: '^(local-runtime|scripts|test)/' },
    },
    {
      name: 'local-runtime-stands-alone',
      comment: 'The plugin loads without a build: it imports no script, no test and no compiled code.',
      severity: 'error',
      from: { path: '^local-runtime/' },
      to: { path: '^(scripts|test)/|\\.ts$' },
    },
    {
      name: 'scripts-never-import-tests',
      comment: 'What scripts and tests both need lives in scripts/lib.',
      severity: 'error',
      from: { path: '^scripts/' },
      to: { path: '^test/' },
    },
    {
      name: 'nothing-imports-dist',
      comment: 'Compiled output is run, never imported by path.',
      severity: 'error',
      from: {},
      to: { path: '^dist/' },
    },
    {
      name: 'everything-resolves',
      comment: 'An import that resolves to nothing is a typo or a missing dependency.',
      severity: 'error',
      from: {},
      // aws-lambda is @types/aws-lambda: types only, imported with `import type`.
      to: { couldNotResolve: true, pathNot: '^aws-lambda$' },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules', '^dist/'] },
    exclude: { path: '^node_modules/|^test/fixtures/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.cjs', '.mjs', '.js', '.json'],
    },
  },
};
