// What the README shows, run by the tests against a live service: a typed query, a
// mutation retried with its idempotency key, and the account's events followed from a
// cursor across drops. Prints one JSON line per step, then one per event.
import { randomUUID } from "node:crypto";

import {
  AccountUsageDocument,
  UsageConsumeDocument,
  createApolloClient,
  followEvents,
} from "./index.js";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
};
const connection = { url: env("BENEFITGATE_URL"), credential: env("BENEFITGATE_CREDENTIAL") };
const accountId = env("ACCOUNT_ID");
const print = (line: unknown): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

const client = createApolloClient(connection);
const view = await client.query({ query: AccountUsageDocument, variables: { id: accountId } });
const account = view.data?.account;
if (account?.__typename === "Account") {
  print({ step: "query", name: account.name, tier: account.tier?.key, usage: account.usage });
} else {
  print({ step: "query", refused: account?.__typename, code: account?.code });
}

// A retry after a lost answer sends the same key: the service replays the first result.
const consume = { id: accountId, metric: env("METRIC"), amount: 5, idempotencyKey: randomUUID() };
for (const attempt of [1, 2]) {
  const { data } = await client.mutate({ mutation: UsageConsumeDocument, variables: consume });
  print({ step: "mutation", attempt, result: data?.usageConsume });
}

await followEvents({
  ...connection,
  accountIds: [accountId],
  after: process.env.AFTER ?? null,
  onEvent: (event) => {
    print({ step: "event", cursor: event.cursor, type: event.type, id: event.id });
    return event.type !== (process.env.UNTIL ?? "test.end");
  },
  onInterruption: (reason) => print({ step: "interrupted", reason }),
});
