// The campaign's account graph (Cytoscape.js): members as nodes, coloured
// by verdict; an edge for each indicator two members share, labelled with
// it (kind: value) and coloured by the verdict of its ends ("mixed" when
// they differ). Labels are drawn on canvas as text.
import cytoscape from "cytoscape";

export const VERDICT_COLOURS: Record<string, string> = {
  block: "#dc2626",
  review: "#d97706",
  allow: "#16a34a",
  mixed: "#7c3aed",
};

export interface GraphNode {
  id: string;
  verdict: string;
  interactions: number;
}
export interface GraphEdge {
  source: string;
  target: string;
  kind: string;
  value: string;
  verdict: string;
}

let current: cytoscape.Core | null = null;

// One drawn edge per pair of accounts: labelled with the first indicator
// they share ("+N" more), thicker the more they share.
function pairs(edges: GraphEdge[]): { source: string; target: string; first: GraphEdge; count: number }[] {
  const out = new Map<string, { source: string; target: string; first: GraphEdge; count: number }>();
  for (const e of edges) {
    const [a, b] = e.source < e.target ? [e.source, e.target] : [e.target, e.source];
    const key = a + "\u0000" + b;
    const p = out.get(key);
    if (p) p.count += 1;
    else out.set(key, { source: a, target: b, first: e, count: 1 });
  }
  return [...out.values()];
}

export function disposeGraph(): void {
  if (current) current.destroy();
  current = null;
}

function short(s: string, n: number): string {
  return s.length > n ? s.slice(0, n - 1) + "\u2026" : s;
}

export function drawGraph(container: HTMLElement, nodes: GraphNode[], edges: GraphEdge[], onNode: (id: string) => void): void {
  disposeGraph();
  const cy = cytoscape({
    container,
    elements: [
      ...nodes.map((n) => ({ data: { id: n.id, label: short(n.id, 18), colour: VERDICT_COLOURS[n.verdict] ?? "#6b7280", size: 14 + Math.min(26, Math.sqrt(n.interactions)) } })),
      ...pairs(edges).map((p, idx) => ({
        data: {
          id: "e" + idx,
          source: p.source,
          target: p.target,
          label: short(`${p.first.kind}: ${p.first.value}`, 28) + (p.count > 1 ? ` +${p.count - 1}` : ""),
          colour: VERDICT_COLOURS[p.first.verdict] ?? "#6b7280",
          width: Math.min(8, 1 + p.count),
        },
      })),
    ],
    style: [
      {
        selector: "node",
        style: { "background-color": "data(colour)", label: "data(label)", width: "data(size)", height: "data(size)", "font-size": 8, color: "#111" },
      },
      {
        selector: "edge",
        style: { "line-color": "data(colour)", width: "data(width)", label: "data(label)", "font-size": 6, color: "#374151", "text-rotation": "autorotate", "curve-style": "bezier", opacity: 0.8 },
      },
    ],
    layout: { name: nodes.length > 150 ? "grid" : "cose", animate: false, padding: 40 },
    maxZoom: 1.6,
    wheelSensitivity: 0.3,
  });
  cy.on("tap", "node", (ev) => onNode(ev.target.id()));
  current = cy;
  container.dataset.nodes = String(cy.nodes().length);
  container.dataset.edges = String(edges.length);
  container.dataset.pairs = String(cy.edges().length);
  container.dataset.drawn = "1";
}
