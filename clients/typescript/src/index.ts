export { createApolloClient, type Connection } from "./apollo.js";
export { followEvents, StreamRefused, type Follow, type LiveEvent } from "./events.js";
export * from "./generated/graphql.js";
