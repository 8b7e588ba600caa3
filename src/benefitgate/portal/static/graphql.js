// The portal's GraphQL: documents sent exactly as written in documents/*.graphql (so their
// SHA-256 is their trusted-document id), fragment masking, HTTP and live events.
import { createClient } from "./vendor/graphql-ws/client.js";

// A document's text, as the file holds it.
export async function loadDocument(assets, name) {
  const response = await fetch(`${assets}/documents/${name}.graphql`);
  if (!response.ok) throw new Error(`document ${name}: HTTP ${response.status}`);
  return response.text();
}

// ---- Fragment masking: each panel reads exactly the fields of its own fragment. ----

const TOKEN = /[{}():\[\]!$=@,]|\.\.\.|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[_A-Za-z][_0-9A-Za-z]*/g;

function tokens(text) {
  const stripped = text.replace(/#[^\n]*/g, "");
  return stripped.match(TOKEN) || [];
}

// The fragments of a document: name -> selection (a list of fields, each
// {key, fields?} with inline fragments and spreads kept as {spread} / {inline}).
export function fragmentsOf(text) {
  const t = tokens(text);
  let i = 0;
  const skipBalanced = (open, close) => {
    let depth = 0;
    do {
      if (t[i] === open) depth += 1;
      if (t[i] === close) depth -= 1;
      i += 1;
    } while (depth > 0 && i < t.length);
  };
  const skipDirectives = () => {
    while (t[i] === "@") {
      i += 2;
      if (t[i] === "(") skipBalanced("(", ")");
    }
  };
  const selectionSet = () => {
    const items = [];
    i += 1; // {
    while (t[i] !== "}") {
      if (t[i] === "...") {
        i += 1;
        if (t[i] === "on" || t[i] === "{" || t[i] === "@") {
          if (t[i] === "on") i += 2;
          skipDirectives();
          items.push({ inline: selectionSet() });
        } else {
          items.push({ spread: t[i] });
          i += 1;
          skipDirectives();
        }
        continue;
      }
      let key = t[i];
      i += 1;
      if (t[i] === ":") i += 2; // an alias: the response key is the alias
      if (t[i] === "(") skipBalanced("(", ")");
      skipDirectives();
      const field = { key };
      if (t[i] === "{") field.fields = selectionSet();
      items.push(field);
    }
    i += 1; // }
    return items;
  };
  const found = {};
  while (i < t.length) {
    if (t[i] === "fragment") {
      const name = t[i + 1];
      i += 4; // fragment Name on Type
      skipDirectives();
      found[name] = selectionSet();
    } else if (t[i] === "{") {
      selectionSet();
    } else {
      i += 1;
    }
  }
  return found;
}

// The fields a selection reads, with inline fragments and spreads flattened.
function flatten(selection, fragments, into = new Map()) {
  for (const item of selection) {
    if (item.spread) flatten(fragments[item.spread], fragments, into);
    else if (item.inline) flatten(item.inline, fragments, into);
    else {
      const known = into.get(item.key);
      const merged = item.fields ? [...(known || []), ...item.fields] : known;
      into.set(item.key, merged || null);
    }
  }
  return into;
}

// `value` cut down to the fields `selection` names. A field under a type condition is
// kept when the value has it: the service sent it only because the condition held.
export function mask(value, selection, fragments) {
  if (value === null || value === undefined) return value;
  if (Array.isArray(value)) return value.map((v) => mask(v, selection, fragments));
  const out = {};
  for (const [key, fields] of flatten(selection, fragments)) {
    if (!(key in value)) continue;
    out[key] = fields ? mask(value[key], fields, fragments) : value[key];
  }
  return out;
}

// ---- HTTP ----

export class GraphQLError extends Error {}

export async function execute(endpoint, token, query, variables) {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json, application/json",
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new GraphQLError(`the service answered HTTP ${response.status}`);
  }
  if (body.errors && body.errors.length) {
    throw new GraphQLError(body.errors.map((e) => e.message).join("; "));
  }
  return body.data;
}

// ---- Live events over graphql-transport-ws, resumed from the last cursor ----

export function follow(endpoint, token, query, variables, { onEvent, onState }) {
  const url = new URL(endpoint, window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  let after = null;
  let stopped = false;
  const client = createClient({
    url: url.href,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: false,
    retryAttempts: Infinity,
    shouldRetry: () => !stopped,
    on: {
      connected: () => onState("live"),
      closed: () => onState(stopped ? "stopped" : "reconnecting"),
    },
  });
  let unsubscribe = () => {};
  const start = () => {
    unsubscribe = client.subscribe(
      { query, variables: { ...variables, after } },
      {
        next: ({ data }) => {
          const result = data && data.events;
          if (!result) return;
          if (result.__typename === "Event") {
            after = result.cursor;
            onEvent(result);
          } else if (result.__typename === "StreamClosedError" && result.retryable) {
            after = result.resumeAfter;
          } else if (result.__typename === "CursorExpiredError") {
            after = result.horizon;
          } else if (result.code) {
            onState("closed", result);
          }
        },
        error: () => {},
        // A stream that ended (closed, or the socket went) resumes from its cursor.
        complete: () => {
          if (!stopped) setTimeout(start, 1000);
        },
      },
    );
  };
  start();
  return () => {
    stopped = true;
    unsubscribe();
    client.dispose();
  };
}
