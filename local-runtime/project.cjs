'use strict';
/**
 * Where the project's parts are, said once: the root every script, test and plugin module resolves paths
 * from, and the compiled files the local runtime hands to Lambda instances (never imported: they are given
 * to Node as a preload or loaded inside the instance).
 */
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const PROJECT_ROOT = path.resolve(__dirname, '..');
const DIST = path.join(PROJECT_ROOT, 'dist');

/** The compiled functions, as tsc writes them (what `npm run dev` watches). */
const FUNCTIONS_BUILD = path.join(DIST, 'functions');
/** The tracing preload each instance starts with, as NODE_OPTIONS' `--require` names it deployed. */
const TRACING_PRELOAD = path.join(FUNCTIONS_BUILD, 'shared', 'telemetry', 'tracing.js');
/** The registry of first-call primers that prewarming runs inside an instance. */
const PRIMING_MODULE = path.join(FUNCTIONS_BUILD, 'shared', 'runtime', 'priming.js');

/** Compiles the TypeScript sources into dist/ (as `npm run build` does). */
function build() {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', PROJECT_ROOT], {
    stdio: 'inherit',
  });
}

module.exports = { PROJECT_ROOT, DIST, FUNCTIONS_BUILD, TRACING_PRELOAD, PRIMING_MODULE, build };
