// One renderer per panel; each receives only its own fragment of the view (see portal.js).
import uPlot from "./vendor/uPlot.esm.js";
import { applyWidths, day, fill, h, meter, money, num } from "./dom.js";

const account = (data) => (data.account && data.account.__typename === "Account" ? data.account : null);

export function ladder(body, data) {
  const current = account(data)?.tier;
  const cards = data.tiers.map((tier) => {
    const mine = current && tier.key === current.key;
    return h(
      "li",
      { className: `tier${mine ? " current" : ""}`, "data-tier": tier.key, "aria-current": mine ? "true" : null },
      h("h3", {}, tier.name, mine ? h("span", { className: "badge" }, "Your tier") : null),
      h("p", { className: "price" }, `${money(tier.monthlyPrice)} a month · ${money(tier.annualPrice)} a year`),
      h("p", {}, tier.valueNarrative),
      h("h4", {}, "Outcomes"),
      h("ul", {}, tier.outcomes.map((o) => h("li", {}, o.outcome.name,
        o.targetAmount !== null ? ` (target ${num(o.targetAmount)} ${o.outcome.unit})` : ""))),
      h("h4", {}, "Limits"),
      h("ul", {}, tier.limits.map((l) => h("li", { "data-limit": l.metric.key },
        `${l.metric.name}: `, l.unlimited ? "unlimited" : `${num(l.included)} ${l.metric.unit}`,
        l.enforcement === "SOFT" ? " (soft)" : ""))),
      h("h4", {}, "Included"),
      h("ul", {}, tier.benefits.map((b) => h("li", {}, b.benefit.name))),
      tier.exclusions.length ? h("h4", {}, "Not included") : null,
      tier.exclusions.length ? h("ul", { className: "exclusions" }, tier.exclusions.map((x) =>
        h("li", { "data-excluded": x.benefit.key }, x.benefit.name,
          x.includedIn ? ` — included from ${x.includedIn.name}` : x.note ? ` (${x.note})` : ""))) : null,
      h("p", { className: "support" }, `Support: ${tier.support.name}, first response within ${tier.support.firstResponseHours} h`),
    );
  });
  fill(body, h("ol", { className: "ladder" }, cards));
}

const charts = new Map(); // metric key -> uPlot, redrawn in place on live updates

export function usage(body, data) {
  const view = account(data);
  if (!view) return fill(body);
  const list = view.usageSeries.__typename === "UsageSeriesList" ? view.usageSeries.series : [];
  const seriesOf = new Map(list.map((s) => [s.metric.key, s.points]));
  const rows = view.usage.map((u) => {
    const figure = u.unlimited
      ? `${num(u.used)} ${u.metric.unit} used (unlimited)`
      : `${num(u.used)} of ${num(u.limit)} ${u.metric.unit}`;
    const projection = u.projected === null ? null : h("p", { className: "projection", "data-projected": u.projected },
      `Projected by ${day(u.periodEnd)}: ${num(u.projected)} ${u.metric.unit}`,
      u.limitReachedAt ? ` — reaches the limit on ${day(u.limitReachedAt)}` : "");
    const points = seriesOf.get(u.metric.key) || [];
    return h(
      "article",
      { className: "metric", "data-metric": u.metric.key },
      h("h3", {}, u.metric.name),
      h("p", { className: "figure" }, h("span", { className: "used", "data-used": u.used }, num(u.used)),
        u.unlimited ? ` ${u.metric.unit} used (unlimited)` : ` of ${num(u.limit)} ${u.metric.unit}`,
        u.remaining !== null ? ` · ${num(u.remaining)} left` : ""),
      u.unlimited ? null : meter(`${u.metric.name}: ${figure}`, u.percent),
      projection,
      chartFigure(u, points),
    );
  });
  fill(body, ...rows);
  applyWidths(body);
  for (const u of view.usage) drawChart(body, u, seriesOf.get(u.metric.key) || []);
}

function chartFigure(u, points) {
  const caption = `${u.metric.name} per day, last ${points.length} days`;
  return h(
    "figure",
    { className: "chart" },
    h("div", { className: "plot", "data-chart": u.metric.key, role: "img", "aria-label": caption }),
    h("figcaption", {}, caption),
    h("details", {}, h("summary", {}, "Show as a table"),
      h("table", { "data-series": u.metric.key },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Day"), h("th", { scope: "col" }, u.metric.unit))),
        h("tbody", {}, points.map((p) => h("tr", {}, h("th", { scope: "row" }, p.start),
          h("td", { "data-value": p.value ?? "" }, num(p.value))))))),
  );
}

function drawChart(body, u, points) {
  const target = body.querySelector(`[data-chart="${CSS.escape(u.metric.key)}"]`);
  const xs = points.map((p) => Date.parse(`${p.start}T00:00:00Z`) / 1000);
  const ys = points.map((p) => p.value);
  const width = Math.max(240, Math.min(target.parentElement.clientWidth || 600, 900));
  const old = charts.get(u.metric.key);
  if (old) old.destroy();
  const plot = new uPlot(
    {
      width,
      height: 180,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
      legend: { show: false },
      series: [{}, { label: u.metric.name, stroke: "#1d4ed8", fill: "rgba(29,78,216,0.12)", width: 2 }],
      axes: [{}, { size: 60 }],
    },
    [xs, ys],
    target,
  );
  charts.set(u.metric.key, plot);
  target.dataset.points = String(ys.length);
  target.dataset.total = String(ys.reduce((a, b) => a + (b ?? 0), 0));
}

export function targets(body, data) {
  const view = account(data);
  if (!view) return fill(body);
  if (!view.outcomeTargets.length) return fill(body, h("p", {}, "No outcome targets are set."));
  fill(body, h("ul", { className: "plain" }, view.outcomeTargets.map((t) =>
    h("li", { "data-outcome": t.outcome.key },
      h("h3", {}, t.outcome.name, t.met ? h("span", { className: "badge ok" }, "Met") : null),
      h("p", {}, `${num(t.actual)} of ${num(t.target)} ${t.outcome.unit}`,
        ` (${day(t.start)} to ${day(t.end)})`),
      meter(`${t.outcome.name}: ${num(t.percent)} % of the target`, t.percent)))));
  applyWidths(body);
}

export function milestones(body, data) {
  const view = account(data);
  if (!view) return fill(body);
  const { achieved, next } = view.milestones;
  fill(body,
    h("h3", {}, "Reached"),
    achieved.length ? h("ul", { className: "plain" }, achieved.map((a) =>
      h("li", { "data-achieved": a.milestone.key }, `🏆 ${a.milestone.name} — ${day(a.achievedAt)}`)))
      : h("p", {}, "None yet."),
    h("h3", {}, "Next"),
    next.length ? h("ul", { className: "plain" }, next.map((n) =>
      h("li", { "data-next": n.milestone.key },
        h("p", {}, `${n.milestone.name}: ${num(n.current)} of ${num(n.target)}`,
          n.expectedAt ? ` — expected ${day(n.expectedAt)}` : ""),
        meter(`${n.milestone.name}: ${num(n.percent)} %`, n.percent))))
      : h("p", {}, "Every milestone is reached."),
  );
  applyWidths(body);
}

export function suggestion(body, data, actions) {
  const s = account(data)?.suggestion;
  if (!s) return fill(body, h("p", {}, "Your usage suggests no upgrade right now."));
  const open = s.status === "OPEN";
  fill(body,
    h("p", { className: "lead", "data-suggested": s.tier.key },
      `${s.tier.name} fits how you use ${s.fromTier.name} (confidence ${num(s.confidence * 100)} %).`),
    h("h3", {}, "Why"),
    h("ul", {}, s.reasons.map((r) => h("li", { "data-signal": r.signal }, r.message,
      r.observed !== null && r.limit !== null ? ` (${num(r.observed)} against ${num(r.limit)})` : ""))),
    s.gains.length ? h("h3", {}, "What you gain") : null,
    s.gains.length ? h("ul", {}, s.gains.map((g) => h("li", {}, g.benefit.name,
      g.expectedImpact !== null ? ` — ${num(g.expectedImpact)} ${g.impactUnit ?? ""}` : ""))) : null,
    h("p", {}, `${money(s.monthlyPriceDelta)} more a month.`),
    open ? h("div", { className: "actions" },
      h("button", { type: "button", className: "primary", onclick: () => actions.accept(s) }, `Upgrade to ${s.tier.name}`),
      h("button", { type: "button", onclick: () => actions.dismiss(s) }, "Not now"))
      : h("p", { className: "status" }, s.status === "DISMISSED" ? `Dismissed until ${day(s.dismissedUntil)}.` : `Status: ${s.status.toLowerCase()}.`),
  );
}

// An override sets the limit rather than adding a pack of the benefit's size: name it so.
function benefitUsed(grant) {
  return grant.mode === "OVERRIDE" && grant.amount !== null
    ? `${grant.benefit.name}: limit set to ${num(grant.amount)}`
    : grant.benefit.name;
}

export function renewal(body, data) {
  const r = account(data)?.renewal;
  const impact = data.impactSummary && data.impactSummary.__typename === "ImpactSummary" ? data.impactSummary : null;
  const parts = [];
  if (r) {
    parts.push(
      h("p", { className: "lead" }, h("span", { "data-days-left": r.daysLeft }, `${r.daysLeft} days`),
        ` until your renewal on ${day(r.renewalDate)}.`),
      h("p", {}, `Renews on ${r.tier.name}, ${r.term.toLowerCase()}: ${money(r.price)} (now ${money(r.currentPrice)}).`),
    );
    const c = r.changes;
    const changes = c ? [
      ...c.benefitsAdded.map((b) => `New: ${b.benefit.name}`),
      ...c.benefitsRemoved.map((b) => `Removed: ${b.benefit.name}`),
      ...c.limitsChanged.map((l) => `${l.metric.name}: ${l.before.unlimited ? "unlimited" : num(l.before.included)} → ${l.after.unlimited ? "unlimited" : num(l.after.included)}`),
    ] : [];
    parts.push(h("h3", {}, "What changes"), changes.length
      ? h("ul", {}, changes.map((text) => h("li", {}, text)))
      : h("p", {}, r.changesScheduled ? "A scheduled change takes effect." : "Nothing changes at the renewal."));
  } else {
    parts.push(h("p", {}, "No renewal is due."));
  }
  if (impact) {
    parts.push(
      h("h3", {}, `This term so far (${day(impact.from)} to ${day(impact.to)})`),
      h("p", {}, "Value delivered: ", h("strong", { "data-value-delivered": impact.valueDelivered?.cents ?? "" }, money(impact.valueDelivered))),
      h("p", {}, `Benefits used: ${impact.benefitsUsed.length}`),
      impact.benefitsUsed.length ? h("ul", {}, impact.benefitsUsed.map((b) => h("li", {}, benefitUsed(b.grant),
        b.used !== null ? ` (${num(b.used)} used)` : ""))) : null,
      h("p", {}, `New since ${day(impact.newSince)}: `,
        impact.newBenefits.length ? impact.newBenefits.map((b) => b.name).join(", ") : "nothing yet"),
    );
  }
  fill(body, ...parts);
}

export function seats(body, data) {
  const s = account(data)?.seats;
  if (!s) return fill(body);
  const share = s.purchased ? (100 * s.assigned) / s.purchased : 0;
  fill(body,
    h("p", { className: "lead" }, h("span", { "data-seats-assigned": s.assigned }, num(s.assigned)),
      ` of ${num(s.purchased)} seats assigned · ${num(s.free)} free`),
    meter(`Seats: ${num(s.assigned)} of ${num(s.purchased)} assigned`, share),
    s.holders.length ? h("table", {},
      h("caption", {}, "Who holds a seat"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "User"), h("th", { scope: "col" }, "Last active"))),
      h("tbody", {}, s.holders.map((x) => h("tr", {}, h("td", {}, x.user), h("td", {}, day(x.lastActiveAt)))))) : null,
  );
  applyWidths(body);
}

// ---- Your plan: what the subscription does next, and the self-serve actions the
// vendor's policy offers (selfServePolicy). Each action is previewed, then confirmed.

function offers(policy, tiers, current, sub) {
  const list = [];
  const active = sub.status === "ACTIVE";
  const ending = sub.cancelAtPeriodEnd;
  if (policy.trial && active && !sub.scheduledChangeAt && !ending) {
    for (const t of tiers.filter((t) => t.rank > current.rank)) {
      list.push({ action: "START_TRIAL", tier: t.key, label: `Try ${t.name} free for ${policy.trialDays} days` });
    }
  }
  if (policy.downgrade && sub.status !== "TRIALING" && sub.status !== "CANCELED" && !ending) {
    for (const t of tiers.filter((t) => t.rank < current.rank && t.key !== sub.scheduledTier?.key)) {
      list.push({ action: "SCHEDULE_DOWNGRADE", tier: t.key, label: `Move to ${t.name} at the period's end` });
    }
  }
  if (policy.term && sub.status !== "CANCELED" && !ending && !sub.scheduledTerm) {
    const term = sub.term === "MONTHLY" ? "ANNUAL" : "MONTHLY";
    list.push({ action: "SCHEDULE_TERM_CHANGE", term, label: `Bill ${term.toLowerCase()} from the period's end` });
  }
  const undoable = (sub.scheduledTier ? policy.downgrade : true) && (sub.scheduledTerm ? policy.term : true);
  if (sub.scheduledChangeAt && undoable) {
    list.push({ action: "CANCEL_SCHEDULED_CHANGE", label: "Keep my plan as it is" });
  }
  if (policy.cancel && ending) list.push({ action: "UNDO_CANCEL", label: "Keep my subscription" });
  if (policy.cancel && !ending && sub.status !== "CANCELED") {
    list.push({ action: "CANCEL_AT_PERIOD_END", label: "Cancel at the period's end" });
  }
  return list;
}

function standing(current, sub) {
  const lines = [h("p", { className: "lead" }, `${current.name}, billed ${sub.term.toLowerCase()}.`)];
  if (sub.trialEndsAt) {
    lines.push(h("p", { "data-plan": "trial" }, `Trial until ${day(sub.trialEndsAt)}, then back to ${sub.trialFallbackTier?.name ?? "your tier"}.`));
  }
  if (sub.scheduledChangeAt) {
    const what = [sub.scheduledTier ? `${sub.scheduledTier.name}` : null,
      sub.scheduledTerm ? `billed ${sub.scheduledTerm.toLowerCase()}` : null].filter(Boolean).join(", ");
    lines.push(h("p", { "data-plan": "scheduled" }, `From ${day(sub.scheduledChangeAt)}: ${what}.`));
  }
  lines.push(sub.cancelAtPeriodEnd
    ? h("p", { "data-plan": "ending" }, `Ends on ${day(sub.currentPeriodEnd)}.`)
    : h("p", {}, `The current period ends on ${day(sub.currentPeriodEnd)}.`));
  return lines;
}

function confirmation(pending, actions) {
  const p = pending.preview;
  const next = p.nextPeriod
    ? `Then ${p.nextPeriod.tier.name}, billed ${p.nextPeriod.term.toLowerCase()}, at ${money(p.nextPeriod.price)} (now ${money(p.currentPrice)}).`
    : "Your subscription then ends: nothing more is charged.";
  return h(
    "div",
    { className: "confirm", role: "group", "aria-labelledby": "plan-confirm-title", "data-preview": p.action },
    h("p", { id: "plan-confirm-title" }, h("strong", {}, pending.offer.label), ` — takes effect ${day(p.effectiveAt)}. Nothing is due now.`),
    h("p", { "data-next-price": p.nextPeriod ? p.nextPeriod.price.amountCents : "" }, next),
    h("div", { className: "actions" },
      h("button", { type: "button", className: "primary", "data-confirm": p.action, onclick: () => actions.confirm() }, "Confirm"),
      h("button", { type: "button", onclick: () => actions.back() }, "Back")),
  );
}

export function plan(body, data, actions) {
  const view = account(data);
  const sub = view?.subscription;
  if (!sub || !view.tier) return fill(body, h("p", {}, "No subscription."));
  const pending = actions.pending();
  const list = offers(data.selfServePolicy, data.tiers, view.tier, sub);
  fill(body,
    ...standing(view.tier, sub),
    pending ? confirmation(pending, actions)
      : list.length ? h("div", { className: "actions" }, list.map((o) =>
        h("button", { type: "button", "data-action": o.action, "data-offer-tier": o.tier ?? null, onclick: () => actions.preview(o) }, o.label)))
        : h("p", {}, "Changes to your plan are made with your account manager."),
  );
}
