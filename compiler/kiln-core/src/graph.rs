//! The dependency graph of components: `depends_on` and template `include` edges, as a
//! petgraph built from sorted input so every walk is deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use kiln_model::ComponentId;
use petgraph::graph::{DiGraph, NodeIndex};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::library::Library;
use crate::refs::Resolved;

/// Why one component needs another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// Listed in `depends_on`.
    DependsOn,
    /// Included by a template.
    Include,
}

/// One outgoing dependency of a component, with where it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// The component needed.
    pub target: ComponentId,
    /// Why.
    pub kind: EdgeKind,
    /// Where the reference is written.
    pub written: Written,
}

/// Where a dependency is written: located lazily, since spans are only needed for
/// diagnostics and locating re-parses the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// Entry `index` of the component's `depends_on`.
    DependsOn {
        /// Position in the list.
        index: usize,
    },
    /// A template include at this span of the component's main file.
    Include {
        /// The span of the reference.
        span: Range<usize>,
    },
}

impl Library {
    /// The file and span where `dependency` of component `id` is written.
    pub fn dependency_location(
        &self,
        id: &ComponentId,
        dependency: &Dependency,
    ) -> Option<(String, Range<usize>)> {
        let component = self.components.get(id)?;
        match &dependency.written {
            Written::DependsOn { index } => {
                let source = self.source(&component.meta_source)?;
                let span = source
                    .locate(
                        component.meta_format,
                        &format!("/depends_on/{index}"),
                        false,
                    )
                    .unwrap_or(0..0);
                Some((component.meta_source.clone(), span))
            }
            Written::Include { span } => Some((component.source.clone(), span.clone())),
        }
    }
}

impl Library {
    /// The dependencies of a component that resolve (unknown references are reported by
    /// validation), in written order. Resolved once when the library is assembled.
    pub fn dependencies(&self, id: &ComponentId) -> &[Dependency] {
        self.edges.get(id).map_or(&[], Vec::as_slice)
    }

    /// Resolves the dependencies of a component (see [`Library::dependencies`]).
    pub(crate) fn resolve_dependencies(&self, id: &ComponentId) -> Vec<Dependency> {
        let Some(component) = self.components.get(id) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (index, reference) in component.meta.depends_on.iter().enumerate() {
            if let Resolved::Found(target) = self.resolve_ref(reference, None) {
                out.push(Dependency {
                    target,
                    kind: EdgeKind::DependsOn,
                    written: Written::DependsOn { index },
                });
            }
        }
        if let Some(template) = &component.template {
            for (reference, span) in &template.includes {
                if let Resolved::Found(target) = self.resolve_ref(reference, None) {
                    out.push(Dependency {
                        target,
                        kind: EdgeKind::Include,
                        written: Written::Include { span: span.clone() },
                    });
                }
            }
        }
        out
    }
}

/// A dependency graph over a set of components.
pub struct DependencyGraph {
    /// The graph; node weights are component ids, inserted in sorted order.
    pub graph: DiGraph<ComponentId, EdgeKind>,
    index: BTreeMap<ComponentId, NodeIndex>,
}

/// A graph node for output.
#[derive(Clone, Debug, Serialize)]
pub struct GraphNode {
    /// `kind:id`.
    pub id: String,
    /// The component's kind.
    pub kind: kiln_model::ComponentKind,
}

/// A graph edge for output.
#[derive(Clone, Debug, Serialize)]
pub struct GraphEdge {
    /// The component that needs…
    pub from: String,
    /// …this one.
    pub to: String,
    /// Why.
    pub kind: EdgeKind,
}

impl DependencyGraph {
    /// The graph of `members` and the edges among them.
    pub fn build<'a>(
        library: &Library,
        members: impl IntoIterator<Item = &'a ComponentId>,
    ) -> DependencyGraph {
        let members: BTreeSet<&ComponentId> = members.into_iter().collect();
        let mut graph = DiGraph::new();
        let mut index = BTreeMap::new();
        for id in &members {
            index.insert((*id).clone(), graph.add_node((*id).clone()));
        }
        for id in &members {
            let mut edges: Vec<(ComponentId, EdgeKind)> = library
                .dependencies(id)
                .iter()
                .map(|d| (d.target.clone(), d.kind))
                .collect();
            edges.sort();
            edges.dedup();
            // A component naming itself is reported by validation, not as a cycle.
            edges.retain(|(target, _)| target != *id);
            for (target, kind) in edges {
                if let Some(&to) = index.get(&target) {
                    graph.add_edge(index[*id], to, kind);
                }
            }
        }
        DependencyGraph { graph, index }
    }

    /// Nodes in id order.
    pub fn nodes(&self) -> Vec<GraphNode> {
        self.index
            .keys()
            .map(|id| GraphNode {
                id: id.to_string(),
                kind: id.kind,
            })
            .collect()
    }

    /// Edges sorted by (from, to, kind).
    pub fn edges(&self) -> Vec<GraphEdge> {
        let mut edges: Vec<GraphEdge> = self
            .graph
            .edge_indices()
            .filter_map(|edge| {
                let (from, to) = self.graph.edge_endpoints(edge)?;
                Some(GraphEdge {
                    from: self.graph[from].to_string(),
                    to: self.graph[to].to_string(),
                    kind: self.graph[edge],
                })
            })
            .collect();
        edges.sort_by(|a, b| (&a.from, &a.to, a.kind).cmp(&(&b.from, &b.to, b.kind)));
        edges
    }

    /// Graphviz DOT text, stable across runs.
    pub fn to_dot(&self, title: &str) -> String {
        let mut out = format!(
            "digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box];\n",
            escape(title)
        );
        for node in self.nodes() {
            out.push_str(&format!(
                "  \"{}\" [label=\"{}\"];\n",
                escape(&node.id),
                escape(&node.id)
            ));
        }
        for edge in self.edges() {
            let style = match edge.kind {
                EdgeKind::DependsOn => "",
                EdgeKind::Include => " [style=dashed, label=\"include\"]",
            };
            out.push_str(&format!(
                "  \"{}\" -> \"{}\"{style};\n",
                escape(&edge.from),
                escape(&edge.to)
            ));
        }
        out.push_str("}\n");
        out
    }

    /// Every cycle, as a diagnostic printing the whole loop, located at the reference that
    /// closes it.
    pub fn cycles(&self, library: &Library) -> Diagnostics {
        let mut diagnostics = Diagnostics::new();
        let mut components = petgraph::algo::tarjan_scc(&self.graph);
        for component in &mut components {
            component.sort_by(|a, b| self.graph[*a].cmp(&self.graph[*b]));
        }
        components.sort_by(|a, b| self.graph[a[0]].cmp(&self.graph[b[0]]));
        for members in components {
            let is_cycle = members.len() > 1 || self.graph.contains_edge(members[0], members[0]);
            if !is_cycle {
                continue;
            }
            let set: BTreeSet<NodeIndex> = members.iter().copied().collect();
            let path = self.cycle_path(members[0], &set);
            let names: Vec<String> = path
                .iter()
                .map(|n| format!("`{}`", self.graph[*n]))
                .collect();
            let first = &self.graph[path[0]];
            let second = &self.graph[path[1 % path.len()]];
            let dependency = library
                .dependencies(first)
                .iter()
                .find(|d| &d.target == second);
            let mut diagnostic = Diagnostic::error(
                "kiln::graph::cycle",
                format!("dependency cycle: {}", names.join(" needs ")),
            )
            .label(format!("`{first}` needs `{second}` here"))
            .help(
                "components cannot need each other in a loop; remove one `depends_on` or include",
            );
            let location = dependency.and_then(|d| library.dependency_location(first, d));
            if let Some((file, span)) = location
                && let Some(source) = library.source(&file)
            {
                diagnostic = diagnostic.at(source, span);
            }
            diagnostics.push(diagnostic);
        }
        diagnostics
    }

    /// The shortest loop through `start` inside one strongly connected component (breadth
    /// first, neighbours in id order, so the same graph always prints the same loop).
    fn cycle_path(&self, start: NodeIndex, members: &BTreeSet<NodeIndex>) -> Vec<NodeIndex> {
        let sorted_neighbors = |node: NodeIndex| {
            let mut next: Vec<NodeIndex> = self
                .graph
                .neighbors(node)
                .filter(|n| members.contains(n))
                .collect();
            next.sort_by(|a, b| self.graph[*a].cmp(&self.graph[*b]));
            next.dedup();
            next
        };
        let mut parent: BTreeMap<NodeIndex, NodeIndex> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            for next in sorted_neighbors(node) {
                if next == start {
                    let mut path = vec![start];
                    let mut at = node;
                    while at != start {
                        path.push(at);
                        at = parent[&at];
                    }
                    path.push(start);
                    let last = path.len() - 1;
                    path[1..last].reverse();
                    return path;
                }
                if let std::collections::btree_map::Entry::Vacant(entry) = parent.entry(next) {
                    entry.insert(node);
                    queue.push_back(next);
                }
            }
        }
        vec![start, start]
    }
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
