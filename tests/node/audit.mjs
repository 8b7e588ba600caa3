// Runs the GraphQL over HTTP spec's audit (graphql-http's auditServer) against a running
// service and prints every result as one JSON array: id, name, status (ok, notice, warn,
// error) and, for those not ok, the reason and the response's status and body.
// Usage: node audit.mjs URL [CREDENTIAL]
import { auditServer } from "graphql-http";

const [url, credential] = process.argv.slice(2);
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  if (credential) headers.set("authorization", `Bearer ${credential}`);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn });
const report = [];
for (const result of results) {
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== "ok") {
    entry.reason = result.reason;
    entry.httpStatus = result.response.status;
    entry.body = (await result.response.text()).slice(0, 500);
  }
  report.push(entry);
}
console.log(JSON.stringify(report));
