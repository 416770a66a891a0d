'use strict';
/**
 * The lines the plugin prints that `npm start` and the tests wait for: said once, here, for both sides.
 */
const { TELEMETRY_STATUS } = require('./telemetry-probe.cjs');

/** Printed once the instances are set up: `npm start` waits for it before it says the API is ready. */
const LAMBDA_INSTANCES_READY = 'Lambda instances ready:';

module.exports = { LAMBDA_INSTANCES_READY, TELEMETRY_STATUS };
