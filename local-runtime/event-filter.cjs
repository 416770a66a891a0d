'use strict';
/**
 * Lambda's event filtering (the EventBridge pattern grammar an event source mapping's FilterCriteria use), for
 * the subset the project's patterns use: nested objects whose leaves are lists of values, each a literal, or
 * `{ "anything-but": [...] }`, `{ "exists": true|false }` or `{ "prefix": "..." }`. A field a pattern names
 * must match one of its list's values; a missing field matches only `{ "exists": false }`.
 */

/**
 * @param {Record<string, unknown>} pattern
 * @param {unknown} record
 * @returns {boolean}
 */
function matchesPattern(pattern, record) {
  const fields = /** @type {Record<string, unknown>} */ (record && typeof record === 'object' ? record : {});
  return Object.entries(pattern).every(([name, expected]) => {
    const value = fields[name];
    if (Array.isArray(expected)) return expected.some((condition) => matchesCondition(condition, value));
    if (expected && typeof expected === 'object') {
      return matchesPattern(/** @type {Record<string, unknown>} */ (expected), value);
    }
    throw new Error(`a filter pattern's leaves are lists of values; ${name} is ${JSON.stringify(expected)}`);
  });
}

/**
 * @param {unknown} condition
 * @param {unknown} value
 */
function matchesCondition(condition, value) {
  if (condition && typeof condition === 'object') {
    const rule = /** @type {Record<string, unknown>} */ (condition);
    if ('exists' in rule) return (value !== undefined) === rule.exists;
    if (value === undefined) return false;
    if ('anything-but' in rule) return ![rule['anything-but']].flat().includes(value);
    if ('prefix' in rule) return typeof value === 'string' && value.startsWith(String(rule.prefix));
    throw new Error(`unsupported filter rule ${JSON.stringify(rule)}`);
  }
  return value === condition;
}

module.exports = { matchesPattern };
