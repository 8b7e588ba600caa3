// The account's events over graphql-transport-ws, resumed from the last cursor received.
//
// graphql-ws can retry a dropped socket by itself, but it re-sends the subscription as it
// was first sent, from the first cursor; so its own retries are off, and every
// (re)subscription here carries the cursor of the last event handed over: after a drop, a
// restart of the replica, or a stream the server closed (SHUTTING_DOWN, a slow consumer),
// nothing is missed and nothing is handed over twice.
import { print } from "graphql";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

import {
  AccountEventsDocument,
  type AccountEventsSubscription,
  type AccountEventsSubscriptionVariables,
} from "./generated/graphql.js";
import type { Connection } from "./apollo.js";

type Member = AccountEventsSubscription["events"];
export type LiveEvent = Extract<Member, { __typename: "Event" }>;

export interface Follow extends Connection {
  accountIds?: string[];
  /** Resume after this cursor. Omitted: from now on, and a drop before the first event
   * resumes from the moment it reconnects; keep a cursor to miss nothing. */
  after?: string | null;
  /** Called once per event, in cursor order; return false to stop following. */
  onEvent: (event: LiveEvent) => boolean | void | Promise<boolean | void>;
  /** Called on each interruption before resuming (for logs). */
  onInterruption?: (reason: string) => void;
  /** Stop following when this aborts. */
  signal?: AbortSignal;
}

export class StreamRefused extends Error {
  constructor(readonly code: string, message: string) {
    super(`${code}: ${message}`);
  }
}

/** Follow events until `onEvent` returns false or `signal` aborts. Resolves with the last
 * cursor handed over (pass it as `after` to continue later); rejects on a refusal that no
 * retry can mend (a bad account id, a revoked credential). */
export async function followEvents(options: Follow): Promise<string | null> {
  let after = options.after ?? null;
  let pause = 100;
  const query = print(AccountEventsDocument);
  while (!options.signal?.aborted) {
    const client = connect(options);
    try {
      const variables: AccountEventsSubscriptionVariables = { ids: options.accountIds, after };
      for await (const result of client.iterate<AccountEventsSubscription>({ query, variables })) {
        const member = result.data?.events;
        if (member === undefined) throw new StreamRefused("ERROR", JSON.stringify(result.errors));
        pause = 100;
        switch (member.__typename) {
          case "Event":
            after = member.cursor;
            if ((await options.onEvent(member)) === false) return after;
            break;
          case "StreamClosedError":
            if (!member.retryable) throw new StreamRefused(member.code, member.message);
            after = member.resumeAfter;
            options.onInterruption?.(member.code);
            break;
          case "CursorExpiredError":
            after = member.horizon; // what was pruned cannot be had; carry on from the oldest
            options.onInterruption?.(member.code);
            break;
          default:
            throw new StreamRefused(member.code, member.message);
        }
      }
    } catch (error) {
      if (error instanceof StreamRefused) throw error;
      // GraphQL errors (an operation the service refuses): no retry can mend them.
      if (Array.isArray(error)) throw new StreamRefused("GRAPHQL_ERROR", JSON.stringify(error));
      options.onInterruption?.(describe(error));
    } finally {
      await client.dispose();
    }
    await sleep(pause, options.signal);
    pause = Math.min(pause * 2, 5_000);
  }
  return after;
}

function connect({ url, credential }: Connection): Client {
  return createClient({
    url: url.replace(/^http/, "ws"),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${credential}` },
    retryAttempts: 0, // resumed above, from the last cursor
  });
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  const closed = error as { code?: number; reason?: string };
  return closed.code === undefined ? String(error) : `closed ${closed.code} ${closed.reason ?? ""}`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}
