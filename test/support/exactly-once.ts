/**
 * What "delivered exactly once" checks: of the accepted ids, those never sent (lost), and the
 * ids sent more than once (twice), from the sent messages' ids in any order.
 */
export function exactlyOnce(
  sentIds: string[],
  acceptedIds: string[],
): { lost: string[]; twice: string[] } {
  const counts = new Map<string, number>();
  for (const id of sentIds) counts.set(id, (counts.get(id) ?? 0) + 1);
  return {
    lost: acceptedIds.filter((id) => !counts.has(id)),
    twice: [...counts.entries()].filter(([, n]) => n > 1).map(([id]) => id),
  };
}
