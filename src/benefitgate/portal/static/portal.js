// The portal: one document (documents/PortalView.graphql) per view; each panel renders
// exactly its own fragment of the answer; live events redraw it without a reload.
import { GraphQLError, execute, follow, fragmentsOf, loadDocument, mask } from "./graphql.js";
import { fill, h } from "./dom.js";
import * as panels from "./panels.js";

const RENDER = {
  LadderPanel: panels.ladder,
  UsagePanel: panels.usage,
  TargetsPanel: panels.targets,
  MilestonesPanel: panels.milestones,
  SuggestionPanel: panels.suggestion,
  RenewalPanel: panels.renewal,
  SeatsPanel: panels.seats,
  PlanPanel: panels.plan,
};
// The self-serve mutations by action, each a document of its own (a trusted document).
const SELF_SERVE = {
  START_TRIAL: "SelfServeStartTrial",
  SCHEDULE_DOWNGRADE: "SelfServeScheduleDowngrade",
  SCHEDULE_TERM_CHANGE: "SelfServeScheduleTermChange",
  CANCEL_SCHEDULED_CHANGE: "SelfServeCancelScheduledChange",
  CANCEL_AT_PERIOD_END: "SelfServeCancel",
  UNDO_CANCEL: "SelfServeUndoCancel",
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

// The focused button, as a selector of its data attributes, so that a redraw (a live
// event's) gives the focus back to the same control instead of dropping it.
function focusedControl() {
  const el = document.activeElement;
  const panel = el && el.closest ? el.closest("[data-fragment]") : null;
  if (!panel || el.tagName !== "BUTTON") return null;
  const kebab = (key) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  const marks = Object.entries(el.dataset).map(([k, v]) => `[data-${kebab(k)}="${CSS.escape(v)}"]`);
  return marks.length ? `#${panel.id} button${marks.join("")}` : null;
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
  fill(summary,
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
  const [view, accept, dismiss, events, previewDocument, ...changes] = await Promise.all(
    ["PortalView", "SuggestionAccept", "SuggestionDismiss", "AccountEvents", "SelfServePreview",
      ...Object.values(SELF_SERVE)].map((n) => loadDocument(assets, n)),
  );
  const change = Object.fromEntries(Object.keys(SELF_SERVE).map((a, i) => [a, changes[i]]));
  const fragments = fragmentsOf(view);
  const vars = variables(accountOf(token));
  state.vars = vars;

  const actions = {
    accept: (s) => decide(accept, { id: s.id, key: crypto.randomUUID() }, "suggestionAccept"),
    dismiss: (s) => decide(dismiss, { id: s.id, key: crypto.randomUUID(), reason: "Not now" }, "suggestionDismiss"),
    // A self-serve action: previewed first, then confirmed (or not) by the customer.
    pending: () => offered,
    preview: (offer) => previewOffer(offer),
    confirm: () => confirmOffer(),
    back: () => {
      offered = null;
      redraw("PlanPanel", "[data-action]");
    },
  };
  let offered = null; // {offer, preview, key}: kept across redraws until confirmed or dropped

  async function previewOffer(offer) {
    const asked = { id: vars.id, action: offer.action, tier: offer.tier ?? null, term: offer.term ?? null };
    try {
      const result = (await execute(endpoint, token, previewDocument, asked)).selfServePreview;
      if (result.code) return problem(`${result.message} (${result.code})`);
      problem(null);
      // One idempotency key per confirmed preview: a retried confirmation changes nothing twice.
      offered = { offer, preview: result, key: crypto.randomUUID() };
    } catch (e) {
      return problem(e.message);
    }
    redraw("PlanPanel", "[data-confirm]");
  }

  async function confirmOffer() {
    const { offer, preview, key } = offered;
    // The preview shows the subscription at its next version: confirm against the one it
    // was made from, so a change made meanwhile answers VERSION_CONFLICT, not a surprise.
    const args = { id: vars.id, key, version: preview.subscription.version - 1 };
    if (offer.tier) args.tier = offer.tier;
    if (offer.term) args.term = offer.term;
    for (const b of document.querySelectorAll("#panel-plan button")) b.disabled = true;
    try {
      const data = await execute(endpoint, token, change[offer.action], args);
      const result = Object.values(data)[0];
      problem(result.code ? `${result.message} (${result.code})` : null);
    } catch (e) {
      problem(e.message);
    }
    offered = null;
    await refresh();
    document.querySelector("#panel-plan button")?.focus();
  }

  function redraw(name, focus) {
    const section = document.querySelector(`[data-fragment="${name}"]`);
    RENDER[name](section.querySelector(".body"), state.panels[name], actions);
    section.querySelector(focus)?.focus();
  }
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
    const focused = focusedControl();
    for (const section of document.querySelectorAll("[data-fragment]")) {
      const name = section.dataset.fragment;
      const own = mask(data, fragments[name], fragments);
      state.panels[name] = own;
      RENDER[name](section.querySelector(".body"), own, actions);
    }
    if (focused) document.querySelector(focused)?.focus();
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
