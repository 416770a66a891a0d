'use strict';
/**
 * The child that compile-cache.cjs runs on each Node it builds a cache for: `node compile-cache-builder.cjs
 * <taskRoot> <preload> <handler file>` (paths under the task root), with the function's environment. It loads the package's preload and handler as a cold
 * start does, with Node's portable compile cache on, and writes the cache to `<taskRoot>/compile-cache`.
 */
const path = require('node:path');
const { enableCompileCache, flushCompileCache } = require('node:module');

const [taskRoot = '', preload = '', handlerFile = ''] = process.argv.slice(2);
const result = enableCompileCache({ directory: path.join(taskRoot, 'compile-cache'), portable: true });
if (!result.directory) throw new Error(`no compile cache: ${result.message ?? result.status}`);
require(path.join(taskRoot, preload));
require(path.join(taskRoot, handlerFile));
flushCompileCache();
process.exit(0);
