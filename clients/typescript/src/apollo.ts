// Apollo Client for Benefitgate: results are unions of a payload and typed errors, so the
// cache is given the schema's possibleTypes (generated); without them it drops the fields
// of `... on Error` and a NotFoundError arrives with no code.
import { ApolloClient, HttpLink, InMemoryCache } from "@apollo/client";

import introspection from "./generated/possible-types.json" with { type: "json" };

export interface Connection {
  /** The service's GraphQL endpoint, e.g. https://benefits.example.com/graphql */
  url: string;
  /** A frontend token or an API key, sent as `Authorization: Bearer ...`. */
  credential: string;
}

export function createApolloClient({ url, credential }: Connection): ApolloClient {
  return new ApolloClient({
    link: new HttpLink({ uri: url, headers: { authorization: `Bearer ${credential}` } }),
    cache: new InMemoryCache({ possibleTypes: introspection.possibleTypes }),
  });
}
