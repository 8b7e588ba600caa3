// The portal: one document (documents/PortalView.graphql) per view; each panel renders
// exactly its own fragment of the answer; live events redraw it without a reload.
import { GraphQLError, execute, follow, fragmentsOf, loadDocument, mask } from "./graphql.js";
import { h } from "./dom.js";
import * as panels from "./panels.js";

const RENDER = {
  LadderPanel: panels.ladder,
  UsagePanel: panels.usage,
  TargetsPanel: panels.targets,
  MilestonesPanel: panels.milestones,
  SuggestionPanel: panels.suggestion,
  RenewalPanel: panels.renewal,
  SeatsPanel: panels.seats,
};
const CHART_DAYS = 30;

const { endpoint, assets, today } = document.body.dataset;
const state = { refreshes: 0, panels: {}, events: [], live: "connecting", vars: null };
window.portal = state; // what the page shows, for tests and for a curious developer

function takeToken() {
  // The token arrives in the fragment (never sent to a server) and stays for the session.
  const fromHash = new URLSearchParams(window.location.hash.slice(1)).get("token");
  if (fromHash) {
    sessionStorage.setItem("benefitgate-token", fromHash);
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem("benefitgate-token");
}

function accountOf(token) {
  const part = token.split(".")[1] || "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(json).account_id;
}

function problem(message) {
  const box = document.getElementById("problem");
  box.hidden = !message;
  box.textContent = message || "";
}

function variables(accountId) {
  const to = new Date(`${today}T00:00:00Z`);
  const from = new Date(to.getTime() - (CHART_DAYS - 1) * 86_400_000);
  const iso = (d) => d.toISOString().slice(0, 10);
  return { id: accountId, from: iso(from), to: iso(to) };
}

function header(data) {
  const a = data.account;
  const summary = document.getElementById("account-summary");
  if (a.__typename !== "Account") {
    problem(`${a.message} (${a.code})`);
    return false;
  }
  document.getElementById("account-name").textContent = a.name;
  const sub = a.subscription;
  summary.replaceChildren(
    a.tier ? h("span", { "data-current-tier": a.tier.key }, `${a.tier.name} tier`) : "No tier",
    sub ? ` · ${sub.status.toLowerCase()} · billed ${sub.term.toLowerCase()}` : "",
    sub && sub.cancelAtPeriodEnd ? " · ends at the period's end" : "",
  );
  return true;
}

async function main() {
  const token = takeToken();
  if (!token) {
    problem("Open this page with a frontend token: /portal#token=…");
    document.getElementById("live").textContent = "";
    return;
  }
  const [view, accept, dismiss, events] = await Promise.all(
    ["PortalView", "SuggestionAccept", "SuggestionDismiss", "AccountEvents"].map((n) => loadDocument(assets, n)),
  );
  const fragments = fragmentsOf(view);
  const vars = variables(accountOf(token));
  state.vars = vars;

  const actions = {
    accept: (s) => decide(accept, { id: s.id, key: crypto.randomUUID() }, "suggestionAccept"),
    dismiss: (s) => decide(dismiss, { id: s.id, key: crypto.randomUUID(), reason: "Not now" }, "suggestionDismiss"),
  };
  async function decide(document_, variables_, field) {
    for (const b of document.querySelectorAll("#panel-suggestion button")) b.disabled = true;
    try {
      const result = (await execute(endpoint, token, document_, variables_))[field];
      problem(result.code ? `${result.message} (${result.code})` : null);
    } catch (e) {
      problem(e.message);
    }
    await refresh();
  }

  async function refresh() {
    let data;
    try {
      data = await execute(endpoint, token, view, vars);
    } catch (e) {
      problem(e instanceof GraphQLError ? e.message : `The service is unreachable: ${e.message}`);
      return;
    }
    state.data = data;
    if (!header(data)) return;
    for (const section of document.querySelectorAll("[data-fragment]")) {
      const name = section.dataset.fragment;
      const own = mask(data, fragments[name], fragments);
      state.panels[name] = own;
      RENDER[name](section.querySelector(".body"), own, actions);
    }
    state.refreshes += 1;
    document.body.dataset.refreshes = String(state.refreshes);
  }

  let pending = null;
  const soon = () => {
    clearTimeout(pending);
    pending = setTimeout(refresh, 100); // a burst of events is one redraw
  };
  await refresh();
  const live = document.getElementById("live");
  follow(endpoint, token, events, { id: vars.id }, {
    onEvent: (event) => {
      state.events.push(event.type);
      soon();
    },
    onState: (s, error) => {
      state.live = s;
      document.body.dataset.live = s;
      live.textContent = s === "live" ? "Live: updates as they happen"
        : s === "closed" ? `Live updates stopped: ${error.message}` : "Reconnecting…";
      // Catch up on anything committed while the stream was being (re)opened.
      if (s === "live") setTimeout(refresh, 500);
    },
  });
}

main().catch((e) => problem(`The portal failed to start: ${e.message}`));
