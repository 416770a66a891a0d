'use strict';
/**
 * For the benchmark: on SIGUSR2, the memory of this process and of each Lambda instance in it is written to
 * a file as JSON (written aside, then renamed, so a reader never sees half of it).
 */
const { renameSync, writeFileSync } = require('node:fs');
const { memoryReport } = require('./instance-workers.cjs');

/** @param {string} file */
function reportMemoryOnSignal(file) {
  process.on('SIGUSR2', async () => {
    writeFileSync(`${file}.partial`, JSON.stringify(await memoryReport()));
    renameSync(`${file}.partial`, file);
  });
}

module.exports = { reportMemoryOnSignal };
