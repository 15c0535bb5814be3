// The shapes of the console API's answers (docs/CONSOLE.md).

export interface Session {
  analyst: string;
  csrf: string;
}

export interface Overview {
  at: string;
  events_accepted: number;
  events_per_s: number;
  interactions: number;
  decisions: Record<string, number>;
  check_latency_us: { p50: number; p99: number; count: number };
  campaigns: number;
  accounts: number;
  blocked: number;
  in_review: number;
  cases_open: number;
  decision_log: { written: number; dropped: number; retention_days: number };
}

export interface CampaignRow {
  campaign_id: string;
  score: number;
  account_count: number;
  blocked: number;
  in_review: number;
  interactions: number;
  input_tokens: number;
  output_tokens: number;
  first_seen: string | null;
  last_seen: string | null;
  confirmed_at: string | null;
  models: string[];
  reasons: string[];
  status: string;
  case_id: string | null;
}

export interface Case {
  case_id: string;
  subject_kind: string;
  subject_id: string;
  title: string;
  status: string;
  assignee: string;
  outcome: string;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export interface CaseDetail extends Case {
  events: { at: string; by: string; kind: string; text: string }[];
}

export interface CampaignPage {
  campaign_id: string;
  score: number;
  account_count: number;
  interactions: number;
  output_tokens: number;
  first_seen: string | null;
  confirmed_at: string | null;
  capabilities: Record<string, number>;
  reasons: string[];
  samples: string[];
  nodes: { id: string; verdict: string; score: number; interactions: number; output_tokens: number; created_at: string | null }[];
  edges: { source: string; target: string; kind: string; value: string; verdict: string }[];
  indicator_accounts: { kind: string; value: string; accounts: Record<string, number> }[];
  creation_waves: { hour: string; accounts: number }[];
  member_hours: { id: string; hours: number[] }[];
  day_models: { day: string; model: string; interactions: number }[];
  per_day: { day: string; interactions: number }[];
  tokens_per_day: { day: string; interactions: number; output_tokens: number }[];
  scan: { records: number; complete: boolean; limit: number };
  cases: Case[];
}

export interface DecisionRow {
  id: number;
  at: string;
  account_id: string;
  decision: string;
  reasons: string[];
  campaign_id: string | null;
  score: number;
  policy_version: number;
  source: string;
  model: string;
}

export interface DecisionSearch {
  decisions: DecisionRow[];
  next_before: number | null;
  allow_counts?: { hour: string; allows: number }[];
}

export interface AccountPage {
  account_id: string;
  verdict: string | null;
  score?: number;
  campaign_id?: string | null;
  interactions: number;
  output_tokens?: number;
  first_seen?: string;
  last_seen?: string;
  created_at?: string | null;
  evidence?: Record<string, number>;
  overrides: { action: string; by: string; reason: string; at: string }[];
  verdict_history: { at: string; verdict: string; score: number; evidence: Record<string, number> }[];
  verdict_history_dropped: number;
  decisions: DecisionRow[];
  allow_counts: { hour: string; allows: number }[];
  timeline: {
    events: {
      ts: string;
      model: string;
      capability: string;
      ip: string;
      user_agent: string;
      input_tokens: number;
      output_tokens: number;
      frame: string;
      prompt_digest: string | null;
    }[];
    per_day: { day: string; interactions: number }[];
    scanned: number;
    complete: boolean;
    limit: number;
  };
  cases: Case[];
}

export interface ReviewItem {
  account_id: string;
  in_review_since: string | null;
  score: number;
  interactions: number;
  campaign_id: string | null;
  reasons: string[];
  case_id: string | null;
  case_status: string;
}
