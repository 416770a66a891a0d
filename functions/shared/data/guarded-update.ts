/**
 * A state change of one item keyed by `order_id`, written so that it applies only while the item's status is
 * one of `from`: every order and reservation moves this way, never by read-modify-write. The result serves an
 * UpdateCommand as it is, or a transaction's `Update`. A refused change fails its condition
 * (ConditionalCheckFailedException, or a cancelled transaction), and the caller reads what happened instead.
 *
 * Every attribute goes through a placeholder, because `status` and others are DynamoDB reserved words.
 */
export function guardedUpdate(
  table: string,
  orderId: string,
  from: readonly string[],
  set: Record<string, unknown>,
  remove: readonly string[] = [],
) {
  const setNames = Object.keys(set);
  const names = [...setNames, ...remove, 'status'];
  const fromValues = from.map((_, index) => `:from${index}`);
  const assignments = setNames.map((_, index) => `#n${index} = :v${index}`).join(', ');
  const removals = remove.map((_, index) => `#n${setNames.length + index}`).join(', ');
  return {
    TableName: table,
    Key: { order_id: orderId },
    UpdateExpression: removals ? `SET ${assignments} REMOVE ${removals}` : `SET ${assignments}`,
    ConditionExpression: `#n${names.length - 1} IN (${fromValues.join(', ')})`,
    ExpressionAttributeNames: Object.fromEntries(names.map((name, index) => [`#n${index}`, name])),
    ExpressionAttributeValues: Object.fromEntries([
      ...setNames.map((name, index) => [`:v${index}`, set[name]]),
      ...from.map((status, index) => [fromValues[index], status]),
    ]),
  };
}
