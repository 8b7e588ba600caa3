// Apollo Client's persisted query link against the service, as a frontend team would set
// it up, printing the result and what each request sent and got as JSON.
// Usage: node persisted.mjs URL CREDENTIAL apq
//        node persisted.mjs URL CREDENTIAL manifest MANIFEST.json
// apq: automatic persisted queries (the hash first, the text after PERSISTED_QUERY_NOT_FOUND).
// manifest: the ids of a trusted documents' manifest, looked up by operation name, by GET.
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { generatePersistedQueryIdsFromManifest } from "@apollo/persisted-query-lists";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const [url, credential, mode, manifestPath] = process.argv.slice(2);
const exchanges = [];
const loggingFetch = async (input, init) => {
  const response = await fetch(input, init);
  const request = init.method === "GET" ? Object.fromEntries(new URL(input).searchParams) : JSON.parse(init.body);
  exchanges.push({ method: init.method, request, status: response.status, response: await response.clone().json() });
  return response;
};

const persisted =
  mode === "apq"
    ? createPersistedQueryLink({ sha256: (text) => createHash("sha256").update(text).digest("hex") })
    : createPersistedQueryLink({
        ...generatePersistedQueryIdsFromManifest({
          loadManifest: () => JSON.parse(readFileSync(manifestPath, "utf8")),
        }),
        useGETForHashedQueries: true,
      });
const client = new ApolloClient({
  link: persisted.concat(
    new HttpLink({ uri: url, headers: { authorization: `Bearer ${credential}` }, fetch: loggingFetch })
  ),
  cache: new InMemoryCache(),
});
const { data } = await client.query({ query: gql`query Tiers { tiers { key } }` });
console.log(JSON.stringify({ data, exchanges }));
