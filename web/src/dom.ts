// Building the page: every value from the API goes in as text (a text node
// or an attribute set with setAttribute), never as HTML -- account ids,
// user agents and samples are attacker-written.

type Child = Node | string | number | null | undefined | false;
type Attr = string | number | boolean | undefined | null | ((ev: Event) => void);

export function h(tag: string, attrs: Record<string, Attr> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === "function") {
      el.addEventListener(k.replace(/^on/, ""), v);
    } else if (v === true) {
      el.setAttribute(k, "");
    } else {
      el.setAttribute(k, String(v));
    }
  }
  append(el, ...children);
  return el;
}

export function append(el: HTMLElement, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

export function clear(el: HTMLElement): HTMLElement {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A link inside the app (hash route), with its text.
export function link(route: string, text: string, attrs: Record<string, Attr> = {}): HTMLElement {
  return h("a", { href: "#" + route, ...attrs }, text);
}

export function enc(s: string): string {
  return encodeURIComponent(s);
}

export function fmtNum(n: number | null | undefined): string {
  if (n === null || n === undefined) return "-";
  return n.toLocaleString("en-US", { maximumFractionDigits: 3 });
}

export function fmtTime(t: string | null | undefined): string {
  if (!t) return "-";
  return t.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function verdictBadge(v: string | null | undefined): HTMLElement {
  const name = v || "none";
  return h("span", { class: "badge v-" + name.replace(/[^a-z_]/g, "") }, name);
}

// A table from rows; `cols` gives each column's header and cell.
export interface Column<T> {
  title: string;
  cell: (row: T) => Child;
  key?: (row: T) => string | number;
  cls?: string;
}

export function table<T>(rows: T[], cols: Column<T>[], attrs: Record<string, Attr> = {}, onSort?: (idx: number) => void): HTMLElement {
  const head = h("tr", {}, ...cols.map((c, idx) => h("th", { class: c.cls, onclick: onSort && c.key ? () => onSort(idx) : undefined, "data-sortable": !!(onSort && c.key) }, c.title)));
  const body = rows.map((r) => h("tr", {}, ...cols.map((c) => h("td", { class: c.cls }, c.cell(r)))));
  return h("table", { class: "grid", ...attrs }, h("thead", {}, head), h("tbody", {}, ...body));
}

export function section(title: string, ...children: Child[]): HTMLElement {
  return h("section", { class: "panel" }, h("h2", {}, title), ...children);
}

export function stat(label: string, value: string, id?: string): HTMLElement {
  return h("div", { class: "stat", id }, h("div", { class: "stat-value" }, value), h("div", { class: "stat-label" }, label));
}
