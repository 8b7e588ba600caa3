// Building the page from data without innerHTML: text is always text.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "className") el.className = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  el.append(...kept(children));
  return el;
}

// The content of `el` replaced with `children`, as `h` takes them. The DOM's own
// replaceChildren writes null as the text "null": a panel's `cond ? el : null` did.
export function fill(el, ...children) {
  el.replaceChildren(...kept(children));
}

// Children as nodes and text, left out when null, undefined or false.
function kept(children) {
  return children.flat()
    .filter((child) => child !== null && child !== undefined && child !== false)
    .map((child) => (child instanceof Node ? child : String(child)));
}

const NUMBER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const DATE = new Intl.DateTimeFormat("en-US", { dateStyle: "medium", timeZone: "UTC" });

// Figures as the tests read them back: en-US grouping, at most two decimals.
export const num = (value) => (value === null || value === undefined ? "—" : NUMBER.format(value));

export function money(m) {
  if (!m) return "—";
  return new Intl.NumberFormat("en-US", { style: "currency", currency: m.currency }).format(
    Number(m.cents ?? m.amountCents) / 100, // cents: exact past a 32-bit Int
  );
}

export const day = (iso) => (iso ? DATE.format(new Date(iso.length === 10 ? `${iso}T00:00:00Z` : iso)) : "—");

// A labelled bar for a share (0 to 100+), readable by screen readers.
export function meter(label, percent) {
  const value = Math.max(0, Math.min(100, percent ?? 0));
  return h(
    "div",
    { className: "meter", role: "progressbar", "aria-label": label, "aria-valuemin": 0,
      "aria-valuemax": 100, "aria-valuenow": Math.round(value) },
    h("div", { className: `fill${(percent ?? 0) >= 100 ? " full" : (percent ?? 0) >= 80 ? " high" : ""}`,
               "data-width": Math.round(value) }),
  );
}

// Widths are set through the CSSOM (a style attribute would break the page's CSP).
export function applyWidths(root) {
  for (const fill of root.querySelectorAll("[data-width]")) {
    fill.style.width = `${fill.dataset.width}%`;
  }
}
