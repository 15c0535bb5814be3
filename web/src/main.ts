// The distillguard analyst console: a single page, hash-routed, over the
// console API of `distillguard serve` (docs/CONSOLE.md). Views: overview,
// campaigns, campaign, account, review queue, decision log, cases.
import "./style.css";
import { ApiError, get, patch, post, setCsrf, setUnauthorizedHandler } from "./api";
import { dayToSec, disposeCharts, heatMap, timeChart } from "./charts";
import { Column, append, clear, enc, fmtNum, fmtTime, h, link, section, stat, table, verdictBadge } from "./dom";
import { disposeGraph, drawGraph, VERDICT_COLOURS } from "./graph";
import type * as T from "./types";

const app = document.getElementById("app") as HTMLElement;
let analyst = "";
let timer: number | undefined;
// Which view is on screen: a view's pending refresh checks it is still
// current before touching the page (or its charts).
let generation = 0;

function stopTimers(): void {
  generation += 1;
  if (timer !== undefined) window.clearInterval(timer);
  timer = undefined;
}

function errorBox(e: unknown): HTMLElement {
  const msg = e instanceof ApiError ? `${e.status}: ${e.message}` : String(e);
  return h("div", { class: "error", role: "alert" }, msg);
}

// ---------------------------------------------------------------- login

function showLogin(message = ""): void {
  stopTimers();
  disposeGraph();
  disposeCharts();
  clear(app);
  const token = h("input", { type: "password", id: "login-token", autocomplete: "current-password", placeholder: "analyst token" }) as HTMLInputElement;
  const msg = h("p", { class: "error-text", id: "login-error" }, message);
  const form = h(
    "form",
    { class: "login", id: "login-form" },
    h("h1", {}, "distillguard"),
    h("p", { class: "muted" }, "Analyst console. Log in with the analyst token or your own token."),
    token,
    h("button", { type: "submit", id: "login-submit" }, "Log in"),
    msg,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const s = await post<T.Session>("/ui/api/login", { token: token.value });
      analyst = s.analyst;
      setCsrf(s.csrf);
      // Changing the hash routes (hashchange); otherwise route here, once.
      if (!location.hash || location.hash === "#/login") location.hash = "#/";
      else void route();
    } catch (e) {
      msg.textContent = e instanceof ApiError ? e.message : String(e);
    }
  });
  app.append(form);
  token.focus();
}

async function logout(): Promise<void> {
  try {
    await post("/ui/api/logout", {});
  } catch {
    // the session is gone either way
  }
  analyst = "";
  setCsrf("");
  showLogin("Logged out.");
}

// ---------------------------------------------------------------- frame

function frame(active: string, title: string): HTMLElement {
  stopTimers();
  disposeGraph();
  disposeCharts();
  clear(app);
  const nav = h(
    "nav",
    { class: "top" },
    h("span", { class: "brand" }, "distillguard"),
    ...[
      ["/", "Overview", "overview"],
      ["/campaigns", "Campaigns", "campaigns"],
      ["/review", "Review queue", "review"],
      ["/decisions", "Decision log", "decisions"],
      ["/cases", "Cases", "cases"],
    ].map(([r, t, k]) => link(r, t, { class: k === active ? "active" : "", id: "nav-" + k })),
    h("span", { class: "spacer" }),
    h("span", { class: "who", id: "who" }, analyst),
    h("button", { class: "link", id: "logout", onclick: () => void logout() }, "Log out"),
  );
  const main = h("main", { id: "view-" + active }, h("h1", {}, title));
  app.append(nav, main);
  document.title = `${title} - distillguard`;
  return main;
}

// ---------------------------------------------------------------- overview

async function viewOverview(): Promise<void> {
  const main = frame("overview", "Overview");
  const cards = h("div", { class: "stats", id: "overview-stats" });
  const decisions = h("div", {});
  const chartBox = h("div", {});
  append(main, cards, section("Decisions by kind (since start)", decisions), section("Events per second (this page)", chartBox));
  const xs: number[] = [];
  const eps: number[] = [];
  const mine = generation;
  const load = async () => {
    let o: T.Overview;
    try {
      o = await get<T.Overview>("/v1/console/overview");
    } catch (e) {
      if (mine === generation) clear(decisions).append(errorBox(e));
      return;
    }
    if (mine !== generation) return;  // another view is on screen now
    clear(cards).append(
      stat("events / s", fmtNum(o.events_per_s), "stat-eps"),
      stat("events accepted", fmtNum(o.events_accepted)),
      stat("campaigns found", fmtNum(o.campaigns), "stat-campaigns"),
      stat("accounts blocked", fmtNum(o.blocked), "stat-blocked"),
      stat("accounts in review", fmtNum(o.in_review), "stat-review"),
      stat("open cases", fmtNum(o.cases_open)),
      stat("decision p50 (us, bucket)", o.check_latency_us.p50 < 0 ? "> 250000" : fmtNum(o.check_latency_us.p50)),
      stat("decision p99 (us, bucket)", o.check_latency_us.p99 < 0 ? "> 250000" : fmtNum(o.check_latency_us.p99)),
    );
    const rows = Object.entries(o.decisions);
    clear(decisions).append(
      table(rows, [
        { title: "decision", cell: (r) => r[0] },
        { title: "answers", cell: (r) => fmtNum(r[1]) },
      ]),
      h("p", { class: "muted" }, `decision log: ${fmtNum(o.decision_log.written)} written, ${fmtNum(o.decision_log.dropped)} dropped, kept ${o.decision_log.retention_days || "for ever"} days`),
    );
    xs.push(Date.now() / 1000);
    eps.push(o.events_per_s);
    if (xs.length > 120) {
      xs.shift();
      eps.shift();
    }
    disposeCharts();
    clear(chartBox).append(timeChart([...xs], [{ label: "events/s", values: [...eps] }], { height: 160 }));
  };
  await load();
  if (mine === generation) timer = window.setInterval(() => void load(), 3000);
}

// ---------------------------------------------------------------- campaigns

async function viewCampaigns(): Promise<void> {
  const main = frame("campaigns", "Campaigns");
  let list: T.CampaignRow[];
  try {
    list = (await get<{ campaigns: T.CampaignRow[] }>("/v1/console/campaigns")).campaigns;
  } catch (e) {
    main.append(errorBox(e));
    return;
  }
  const status = h("select", { id: "f-status" }, h("option", { value: "" }, "any status"), ...["new", "open", "investigating", "confirmed", "false_positive", "closed"].map((s) => h("option", { value: s }, s))) as HTMLSelectElement;
  const minScore = h("input", { id: "f-score", type: "number", step: "0.1", placeholder: "min score" }) as HTMLInputElement;
  const minSize = h("input", { id: "f-size", type: "number", placeholder: "min accounts" }) as HTMLInputElement;
  const model = h("input", { id: "f-model", placeholder: "model contains" }) as HTMLInputElement;
  const since = h("input", { id: "f-since", type: "date", title: "first seen on or after" }) as HTMLInputElement;
  const holder = h("div", {});
  let sortIdx = 0;
  let sortDesc = true;
  const cols: Column<T.CampaignRow>[] = [
    { title: "score", cell: (c) => c.score.toFixed(3), key: (c) => c.score, cls: "num" },
    { title: "campaign", cell: (c) => link("/campaign/" + enc(c.campaign_id), c.campaign_id, { class: "campaign-link" }), key: (c) => c.campaign_id },
    { title: "status", cell: (c) => h("span", { class: "badge s-" + c.status }, c.status), key: (c) => c.status },
    { title: "accounts", cell: (c) => fmtNum(c.account_count), key: (c) => c.account_count, cls: "num" },
    { title: "blocked", cell: (c) => fmtNum(c.blocked), key: (c) => c.blocked, cls: "num" },
    { title: "in review", cell: (c) => fmtNum(c.in_review), key: (c) => c.in_review, cls: "num" },
    { title: "interactions", cell: (c) => fmtNum(c.interactions), key: (c) => c.interactions, cls: "num" },
    { title: "output tokens", cell: (c) => fmtNum(c.output_tokens), key: (c) => c.output_tokens, cls: "num" },
    { title: "models", cell: (c) => c.models.join(", "), key: (c) => c.models.join(",") },
    { title: "first seen", cell: (c) => fmtTime(c.first_seen), key: (c) => c.first_seen ?? "" },
    { title: "confirmed", cell: (c) => fmtTime(c.confirmed_at), key: (c) => c.confirmed_at ?? "" },
  ];
  const render = () => {
    const rows = list.filter((c) => {
      if (status.value && c.status !== status.value) return false;
      if (minScore.value && c.score < Number(minScore.value)) return false;
      if (minSize.value && c.account_count < Number(minSize.value)) return false;
      if (model.value && !c.models.some((m) => m.toLowerCase().includes(model.value.toLowerCase()))) return false;
      if (since.value && (c.first_seen ?? "") < since.value) return false;
      return true;
    });
    const key = cols[sortIdx].key!;
    rows.sort((a, b) => {
      const x = key(a);
      const y = key(b);
      const c = x < y ? -1 : x > y ? 1 : 0;
      return sortDesc ? -c : c;
    });
    clear(holder).append(
      h("p", { class: "muted" }, `${rows.length} of ${list.length} campaigns`),
      table(rows, cols, { id: "campaign-table" }, (idx) => {
        if (idx === sortIdx) sortDesc = !sortDesc;
        else {
          sortIdx = idx;
          sortDesc = true;
        }
        render();
      }),
    );
  };
  for (const el of [status, minScore, minSize, model, since]) el.addEventListener("input", render);
  append(main, h("div", { class: "filters" }, status, minScore, minSize, model, since), holder);
  render();
}

async function openCase(kind: string, id: string): Promise<void> {
  const c = await post<T.Case>("/v1/cases", { subject_kind: kind, subject_id: id, title: `${kind} ${id}` });
  location.hash = "#/case/" + enc(c.case_id);
}

async function viewCampaign(id: string): Promise<void> {
  const main = frame("campaigns", "Campaign " + id);
  let c: T.CampaignPage;
  try {
    c = await get<T.CampaignPage>("/v1/console/campaigns/" + enc(id));
  } catch (e) {
    main.append(errorBox(e));
    return;
  }
  const caseBox = h("div", { class: "actions" });
  if (c.cases.length) caseBox.append(h("span", {}, "case: "), link("/case/" + enc(c.cases[0].case_id), `${c.cases[0].case_id} (${c.cases[0].status})`));
  else caseBox.append(h("button", { id: "open-case", onclick: () => void openCase("campaign", id).catch((e) => caseBox.append(errorBox(e))) }, "Open as a case"));
  append(
    main,
    h(
      "div",
      { class: "stats" },
      stat("score", c.score.toFixed(3), "campaign-score"),
      stat("accounts", fmtNum(c.account_count)),
      stat("interactions", fmtNum(c.interactions)),
      stat("output tokens harvested", fmtNum(c.output_tokens)),
      stat("first seen", fmtTime(c.first_seen)),
      stat("confirmed", fmtTime(c.confirmed_at)),
    ),
    caseBox,
  );
  // Graph.
  const graph = h("div", { id: "graph", class: "graph" });
  const legend = h("p", { class: "legend" }, ...Object.entries(VERDICT_COLOURS).map(([k, col]) => {
    const sw = h("span", { class: "swatch" });
    sw.style.backgroundColor = col;
    return h("span", { class: "legend-item" }, sw, k);
  }), h("span", { class: "muted" }, " nodes: accounts by verdict; edges: the shared indicator, by the verdict of both ends"));
  main.append(section("Accounts and the indicators that link them", legend, graph));
  // Charts.
  const waves = c.creation_waves.map((w) => [Date.parse(w.hour) / 1000, w.accounts] as const);
  const perDay = new Map<string, { i: number; t: number | null }>();
  for (const d of c.per_day) perDay.set(d.day, { i: d.interactions, t: null });
  for (const d of c.tokens_per_day) {
    const e = perDay.get(d.day) ?? { i: d.interactions, t: null };
    e.t = d.output_tokens;
    perDay.set(d.day, e);
  }
  const days = [...perDay.keys()].sort();
  const models = [...new Set(c.day_models.map((d) => d.model))];
  const modelDays = [...new Set(c.day_models.map((d) => d.day))].sort();
  const charts = h("div", { class: "charts" });
  charts.append(
    section("Creation waves (accounts created per hour)", timeChart(waves.map((w) => w[0]), [{ label: "accounts created", values: waves.map((w) => w[1]), bars: true }])),
    section(
      "Volume and output tokens harvested per day",
      timeChart(days.map(dayToSec), [
        { label: "interactions", values: days.map((d) => perDay.get(d)!.i) },
        { label: "output tokens", values: days.map((d) => perDay.get(d)!.t), axis: 1 },
      ]),
      h("p", { class: "muted" }, `output tokens from the newest ${fmtNum(c.scan.records)} logged events${c.scan.complete ? " (the whole log)" : " (older days not read)"}`),
    ),
    section(
      "Models per day",
      timeChart(
        modelDays.map(dayToSec),
        models.map((m) => ({ label: m || "(none)", values: modelDays.map((d) => c.day_models.find((x) => x.day === d && x.model === m)?.interactions ?? 0) })),
      ),
      // Release pivots: the day each model first appears in the campaign's traffic.
      h(
        "p",
        { class: "muted", id: "model-pivots" },
        "first day per model (in the traffic counted since the campaign was linked): ",
        models
          .map((m) => `${m || "(none)"} ${c.day_models.filter((x) => x.model === m).map((x) => x.day).sort()[0]}`)
          .sort((a, b) => a.split(" ")[1].localeCompare(b.split(" ")[1]))
          .join(" \u2192 "),
      ),
    ),
  );
  main.append(charts);
  main.append(section("Hour-of-day heat map (busiest members, UTC)", heatMap(c.member_hours.map((m) => ({ label: m.id, hours: m.hours })))));
  const caps = Object.entries(c.capabilities).sort((a, b) => b[1] - a[1]);
  main.append(
    h(
      "div",
      { class: "two" },
      section("Capabilities", table(caps, [{ title: "capability", cell: (r) => r[0] }, { title: "interactions", cell: (r) => fmtNum(r[1]), cls: "num" }])),
      section("Why (link reasons)", h("ul", {}, ...c.reasons.map((r) => h("li", {}, r)))),
    ),
  );
  main.append(
    section(
      "Indicators with per-account counts",
      table(c.indicator_accounts, [
        { title: "kind", cell: (r) => r.kind },
        { title: "value", cell: (r) => h("code", {}, r.value) },
        { title: "accounts", cell: (r) => fmtNum(Object.keys(r.accounts).length), cls: "num" },
        {
          title: "uses per account",
          cell: (r) => h("span", {}, ...Object.entries(r.accounts).slice(0, 12).map(([a, n]) => h("span", { class: "chip" }, link("/account/" + enc(a), a), ` ${n}`)), Object.keys(r.accounts).length > 12 ? " \u2026" : ""),
        },
      ]),
    ),
  );
  main.append(section("Redacted samples", ...(c.samples.length ? c.samples.map((s) => h("pre", { class: "sample" }, s)) : [h("p", { class: "muted" }, "none kept")])));
  main.append(
    section(
      "Members",
      table(c.nodes, [
        { title: "account", cell: (n) => link("/account/" + enc(n.id), n.id, { class: "account-link" }) },
        { title: "verdict", cell: (n) => verdictBadge(n.verdict) },
        { title: "score", cell: (n) => n.score.toFixed(3), cls: "num" },
        { title: "interactions", cell: (n) => fmtNum(n.interactions), cls: "num" },
        { title: "output tokens", cell: (n) => fmtNum(n.output_tokens), cls: "num" },
        { title: "created", cell: (n) => fmtTime(n.created_at) },
      ], { id: "member-table" }),
    ),
  );
  drawGraph(graph, c.nodes, c.edges, (acct) => (location.hash = "#/account/" + enc(acct)));
}

// ---------------------------------------------------------------- account

async function viewAccount(id: string): Promise<void> {
  const main = frame("campaigns", "Account " + id);
  let a: T.AccountPage;
  try {
    a = await get<T.AccountPage>("/v1/console/accounts/" + enc(id));
  } catch (e) {
    main.append(errorBox(e));
    return;
  }
  append(
    main,
    h(
      "div",
      { class: "stats" },
      h("div", { class: "stat" }, h("div", { class: "stat-value", id: "account-verdict" }, verdictBadge(a.verdict)), h("div", { class: "stat-label" }, "verdict")),
      stat("score", a.score === undefined ? "-" : a.score.toFixed(3)),
      stat("interactions", fmtNum(a.interactions)),
      stat("output tokens", fmtNum(a.output_tokens)),
      stat("first seen", fmtTime(a.first_seen)),
      stat("last seen", fmtTime(a.last_seen)),
      stat("created", fmtTime(a.created_at)),
    ),
    a.campaign_id ? h("p", {}, "campaign: ", link("/campaign/" + enc(a.campaign_id), a.campaign_id)) : null,
  );
  // Override.
  const action = h("select", { id: "override-action" }, ...["allow", "block", "clear"].map((x) => h("option", { value: x }, x))) as HTMLSelectElement;
  const reason = h("input", { id: "override-reason", placeholder: "reason (required)", size: 50 }) as HTMLInputElement;
  const msg = h("span", { class: "error-text", id: "override-msg" });
  const submit = h("button", {
    id: "override-submit",
    onclick: async () => {
      if (!reason.value.trim()) {
        msg.textContent = "a reason is required";
        return;
      }
      try {
        await post("/v1/console/accounts/" + enc(id) + "/override", { action: action.value, reason: reason.value });
        await viewAccount(id);
      } catch (e) {
        msg.textContent = e instanceof ApiError ? e.message : String(e);
      }
    },
  }, "Override");
  const caseBtn = a.cases.length
    ? link("/case/" + enc(a.cases[0].case_id), `case ${a.cases[0].case_id} (${a.cases[0].status})`)
    : h("button", { id: "open-case", onclick: () => void openCase("account", id).catch((e) => main.append(errorBox(e))) }, "Open as a case");
  main.append(section("Decide", h("div", { class: "actions" }, action, reason, submit, caseBtn, msg)));
  main.append(
    section(
      "Evidence now",
      table(Object.entries(a.evidence ?? {}), [{ title: "signal", cell: (r) => r[0] }, { title: "value", cell: (r) => fmtNum(r[1]), cls: "num" }]),
    ),
  );
  main.append(
    section(
      "Verdict history (each change, with the evidence then)",
      a.verdict_history.length
        ? table([...a.verdict_history].reverse(), [
            { title: "at (stream time)", cell: (r) => fmtTime(r.at) },
            { title: "verdict", cell: (r) => verdictBadge(r.verdict) },
            { title: "score", cell: (r) => r.score.toFixed(3), cls: "num" },
            { title: "evidence", cell: (r) => Object.entries(r.evidence).map(([k, v]) => `${k}=${v}`).join(", ") },
          ], { id: "history-table" })
        : h("p", { class: "muted" }, "the verdict never changed"),
      a.verdict_history_dropped ? h("p", { class: "muted" }, `${a.verdict_history_dropped} older changes not kept`) : null,
    ),
  );
  main.append(
    section(
      "Overrides (who and why)",
      a.overrides.length
        ? table([...a.overrides].reverse(), [
            { title: "at", cell: (o) => fmtTime(o.at) },
            { title: "action", cell: (o) => o.action },
            { title: "by", cell: (o) => o.by },
            { title: "reason", cell: (o) => o.reason },
          ], { id: "override-table" })
        : h("p", { class: "muted" }, "none"),
    ),
  );
  main.append(
    section(
      "Decisions given to the gateway (not allow)",
      a.decisions.length
        ? table(a.decisions, [
            { title: "at", cell: (d) => fmtTime(d.at) },
            { title: "decision", cell: (d) => d.decision },
            { title: "source", cell: (d) => d.source },
            { title: "reasons", cell: (d) => d.reasons.join(", ") },
            { title: "campaign", cell: (d) => d.campaign_id ?? "-" },
          ])
        : h("p", { class: "muted" }, "none logged"),
      h("p", { class: "muted" }, `allows: ${fmtNum(a.allow_counts.reduce((s, x) => s + x.allows, 0))} in the last ${a.allow_counts.length} logged hours`),
      link("/decisions?account=" + enc(id), "search the decision log for this account"),
    ),
  );
  const tl = a.timeline;
  main.append(
    section(
      "Timeline (counts and digests; never text)",
      timeChart(tl.per_day.map((d) => dayToSec(d.day)), [{ label: "interactions per day", values: tl.per_day.map((d) => d.interactions), bars: true }], { height: 160 }),
      h("p", { class: "muted" }, `from the newest ${fmtNum(tl.scanned)} logged events${tl.complete ? " (the whole log)" : ` (limit ${fmtNum(tl.limit)}; older not read)`}; newest ${tl.events.length} shown`),
      table(tl.events, [
        { title: "time", cell: (e) => fmtTime(e.ts) },
        { title: "model", cell: (e) => e.model },
        { title: "capability", cell: (e) => e.capability },
        { title: "in / out tokens", cell: (e) => `${e.input_tokens} / ${e.output_tokens}`, cls: "num" },
        { title: "ip", cell: (e) => e.ip },
        { title: "client", cell: (e) => e.user_agent },
        { title: "frame", cell: (e) => h("code", {}, e.frame) },
        { title: "prompt digest", cell: (e) => h("code", {}, e.prompt_digest ?? "-") },
      ], { id: "timeline-table" }),
    ),
  );
}

// ---------------------------------------------------------------- review

async function viewReview(): Promise<void> {
  const main = frame("review", "Review queue");
  let q: { total: number; accounts: T.ReviewItem[] };
  try {
    q = await get("/v1/review");
  } catch (e) {
    main.append(errorBox(e));
    return;
  }
  main.append(h("p", { class: "muted", id: "review-total" }, `${q.total} accounts in review, oldest first`));
  const rows = q.accounts.map((item) => {
    const reason = h("input", { class: "review-reason", placeholder: "reason (required)" }) as HTMLInputElement;
    const msg = h("span", { class: "error-text" });
    const act = async (action: string) => {
      if (!reason.value.trim()) {
        msg.textContent = "a reason is required";
        return;
      }
      try {
        await post("/v1/review/" + enc(item.account_id), { action, reason: reason.value });
        await viewReview();
      } catch (e) {
        msg.textContent = e instanceof ApiError ? e.message : String(e);
      }
    };
    return h(
      "tr",
      { "data-account": item.account_id },
      h("td", {}, link("/account/" + enc(item.account_id), item.account_id)),
      h("td", {}, fmtTime(item.in_review_since)),
      h("td", { class: "num" }, item.score.toFixed(3)),
      h("td", {}, item.campaign_id ? link("/campaign/" + enc(item.campaign_id), item.campaign_id) : "-"),
      h("td", {}, item.reasons.join(", ")),
      h("td", {}, item.case_id ? link("/case/" + enc(item.case_id), `${item.case_id} (${item.case_status})`) : "-"),
      h(
        "td",
        { class: "review-actions" },
        reason,
        h("button", { class: "allow", onclick: () => void act("allow") }, "Allow"),
        h("button", { class: "block", onclick: () => void act("block") }, "Block"),
        h("button", { class: "escalate", onclick: () => void act("escalate") }, "Escalate"),
        msg,
      ),
    );
  });
  main.append(
    h(
      "table",
      { class: "grid", id: "review-table" },
      h("thead", {}, h("tr", {}, ...["account", "in review since", "score", "campaign", "reasons", "case", "decide"].map((t) => h("th", {}, t)))),
      h("tbody", {}, ...rows),
    ),
  );
}

// ---------------------------------------------------------------- decisions

async function viewDecisions(params: URLSearchParams): Promise<void> {
  const main = frame("decisions", "Decision log");
  const account = h("input", { id: "d-account", placeholder: "account", value: params.get("account") ?? "" }) as HTMLInputElement;
  const campaign = h("input", { id: "d-campaign", placeholder: "campaign", value: params.get("campaign") ?? "" }) as HTMLInputElement;
  const decision = h("select", { id: "d-decision" }, h("option", { value: "" }, "any decision"), ...["block", "challenge", "throttle", "withhold_reasoning"].map((d) => h("option", { value: d }, d))) as HTMLSelectElement;
  decision.value = params.get("decision") ?? "";
  const since = h("input", { id: "d-since", placeholder: "since (RFC 3339)", value: params.get("since") ?? "" }) as HTMLInputElement;
  const until = h("input", { id: "d-until", placeholder: "until (RFC 3339)", value: params.get("until") ?? "" }) as HTMLInputElement;
  const results = h("div", { id: "decision-results" });
  const search = async (before?: number) => {
    const q = new URLSearchParams();
    if (account.value) q.set("account", account.value);
    if (campaign.value) q.set("campaign", campaign.value);
    if (decision.value) q.set("decision", decision.value);
    if (since.value) q.set("since", since.value);
    if (until.value) q.set("until", until.value);
    if (before) q.set("before", String(before));
    try {
      const r = await get<T.DecisionSearch>("/v1/decisions?" + q.toString());
      if (!before) clear(results);
      results.append(
        table(r.decisions, [
          { title: "at", cell: (d) => fmtTime(d.at) },
          { title: "account", cell: (d) => link("/account/" + enc(d.account_id), d.account_id) },
          { title: "decision", cell: (d) => h("span", { class: "badge d-" + d.decision }, d.decision) },
          { title: "source", cell: (d) => d.source },
          { title: "reasons", cell: (d) => d.reasons.join(", ") },
          { title: "campaign", cell: (d) => (d.campaign_id ? link("/campaign/" + enc(d.campaign_id), d.campaign_id) : "-") },
          { title: "score", cell: (d) => d.score.toFixed(3), cls: "num" },
          { title: "policy", cell: (d) => "v" + d.policy_version },
        ], { class: "grid decision-table" }),
      );
      if (r.allow_counts && !before) results.append(h("p", { class: "muted" }, `allows for this account: ${fmtNum(r.allow_counts.reduce((s, x) => s + x.allows, 0))} over ${r.allow_counts.length} hours`));
      if (r.next_before) results.append(h("button", { onclick: (ev: Event) => { (ev.target as HTMLElement).remove(); void search(r.next_before!); } }, "More"));
      if (!r.decisions.length && !before) results.append(h("p", { class: "muted" }, "no decision matches"));
    } catch (e) {
      clear(results).append(errorBox(e));
    }
  };
  const form = h("form", { class: "filters", id: "decision-form" }, account, campaign, decision, since, until, h("button", { type: "submit", id: "decision-search" }, "Search"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void search();
  });
  append(main, form, results);
  await search();
}

// ---------------------------------------------------------------- cases

async function viewCases(params: URLSearchParams): Promise<void> {
  const main = frame("cases", "Cases");
  const status = h("select", { id: "c-status" }, h("option", { value: "" }, "any status"), ...["open", "investigating", "confirmed", "false_positive", "closed"].map((s) => h("option", { value: s }, s))) as HTMLSelectElement;
  status.value = params.get("status") ?? "";
  const holder = h("div", {});
  const load = async () => {
    try {
      const r = await get<{ cases: T.Case[] }>("/v1/cases" + (status.value ? "?status=" + enc(status.value) : ""));
      clear(holder).append(
        table(r.cases, [
          { title: "case", cell: (c) => link("/case/" + enc(c.case_id), c.case_id) },
          { title: "status", cell: (c) => h("span", { class: "badge s-" + c.status }, c.status) },
          { title: "subject", cell: (c) => link(`/${c.subject_kind}/${enc(c.subject_id)}`, `${c.subject_kind} ${c.subject_id}`) },
          { title: "title", cell: (c) => c.title },
          { title: "assignee", cell: (c) => c.assignee || "-" },
          { title: "updated", cell: (c) => fmtTime(c.updated_at) },
        ], { id: "case-table" }),
      );
    } catch (e) {
      clear(holder).append(errorBox(e));
    }
  };
  status.addEventListener("input", () => void load());
  append(main, h("div", { class: "filters" }, status), holder);
  await load();
}

async function viewCase(id: string): Promise<void> {
  const main = frame("cases", "Case " + id);
  let c: T.CaseDetail;
  try {
    c = await get<T.CaseDetail>("/v1/cases/" + enc(id));
  } catch (e) {
    main.append(errorBox(e));
    return;
  }
  main.append(
    h("p", {}, "subject: ", link(`/${c.subject_kind}/${enc(c.subject_id)}`, `${c.subject_kind} ${c.subject_id}`), ` \u00b7 opened by ${c.created_by} at ${fmtTime(c.created_at)}`),
  );
  const status = h("select", { id: "case-status" }, ...["open", "investigating", "confirmed", "false_positive", "closed"].map((s) => h("option", { value: s }, s))) as HTMLSelectElement;
  status.value = c.status;
  const assignee = h("input", { id: "case-assignee", placeholder: "assignee", value: c.assignee }) as HTMLInputElement;
  const outcome = h("textarea", { id: "case-outcome", placeholder: "outcome (required for confirmed / false positive)", rows: 2, cols: 60 }) as HTMLTextAreaElement;
  outcome.value = c.outcome;
  const note = h("textarea", { id: "case-note", placeholder: "note", rows: 2, cols: 60 }) as HTMLTextAreaElement;
  const msg = h("span", { class: "error-text" });
  const save = h("button", {
    id: "case-save",
    onclick: async () => {
      const body: Record<string, string> = {};
      if (status.value !== c.status) body.status = status.value;
      if (assignee.value !== c.assignee) body.assignee = assignee.value;
      if (outcome.value !== c.outcome) body.outcome = outcome.value;
      if (note.value.trim()) body.note = note.value;
      if (!Object.keys(body).length) {
        msg.textContent = "nothing changed";
        return;
      }
      try {
        await patch("/v1/cases/" + enc(id), body);
        await viewCase(id);
      } catch (e) {
        msg.textContent = e instanceof ApiError ? e.message : String(e);
      }
    },
  }, "Save");
  main.append(
    section(
      "Status",
      h("div", { class: "form" }, h("label", {}, "status ", status), h("label", {}, "assignee ", assignee), h("label", {}, "outcome ", outcome), h("label", {}, "note ", note), save, msg),
      h("p", { class: "muted" }, "false_positive allows the subject's accounts (an override) and records a policy hint; confirmed blocks them."),
    ),
  );
  main.append(
    section(
      "History",
      table(c.events, [
        { title: "at", cell: (e) => fmtTime(e.at) },
        { title: "by", cell: (e) => e.by },
        { title: "what", cell: (e) => e.kind },
        { title: "text", cell: (e) => h("span", { class: "pre" }, e.text) },
      ], { id: "case-events" }),
    ),
  );
}

// ---------------------------------------------------------------- routing

async function route(): Promise<void> {
  if (!analyst) {
    try {
      const s = await get<T.Session>("/ui/api/session");
      analyst = s.analyst;
      setCsrf(s.csrf);
    } catch {
      analyst = "";
    }
    if (!analyst) {
      showLogin();
      return;
    }
  }
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?", 2);
  const params = new URLSearchParams(query ?? "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts.length === 0) await viewOverview();
    else if (parts[0] === "campaigns") await viewCampaigns();
    else if (parts[0] === "campaign" && parts[1]) await viewCampaign(parts[1]);
    else if (parts[0] === "account" && parts[1]) await viewAccount(parts[1]);
    else if (parts[0] === "review") await viewReview();
    else if (parts[0] === "decisions") await viewDecisions(params);
    else if (parts[0] === "cases") await viewCases(params);
    else if (parts[0] === "case" && parts[1]) await viewCase(parts[1]);
    else frame("overview", "Not found").append(h("p", {}, "No such page."));
  } catch (e) {
    app.append(errorBox(e));
  }
  document.body.dataset.view = parts[0] ?? "overview";
  document.body.dataset.ready = String(Date.now());
}

setUnauthorizedHandler(() => {
  analyst = "";
  showLogin("Your session ended: log in again.");
});
window.addEventListener("hashchange", () => void route());
void route();
