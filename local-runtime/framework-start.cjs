'use strict';
/**
 * The Framework's start without baseline code. osls validates the configuration once, at start, with one
 * generated ajv function of megabytes (its schema holds every CloudFormation resource type). Sparkplug, V8's
 * baseline compiler, turns it into about 16 MB of machine code, which the Framework's cache of validators then
 * keeps for the life of the process: offline, hours (BENCHMARKS.md, "Footprint"). So baseline compilation is
 * off from the plugin's construction, before the validation, until the Framework's `initialize` hook, after
 * it. Only the start runs interpreted; everything after it, the Lambda instances included, tiers up as usual.
 */
const v8 = require('node:v8');

function withoutBaselineCode() {
  v8.setFlagsFromString('--no-sparkplug');
}

function baselineCodeAgain() {
  v8.setFlagsFromString('--sparkplug');
}

module.exports = { baselineCodeAgain, withoutBaselineCode };
