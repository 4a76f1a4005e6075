//! References between components: `kind:id`, or a bare id (or unique last segment) when it
//! names exactly one component.

use kiln_model::{ComponentId, ComponentKind};

use crate::diagnostic::closest;
use crate::library::Library;

/// What a reference resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Exactly one component.
    Found(ComponentId),
    /// No component; the closest name, if any is close.
    Unknown {
        /// A likely intended reference.
        suggestion: Option<String>,
    },
    /// Several components match a bare reference.
    Ambiguous(Vec<ComponentId>),
}

impl Library {
    /// Resolves a reference written in a component or profile. `within` restricts a bare
    /// reference to one kind (profile selectors are per kind).
    pub fn resolve_ref(&self, reference: &str, within: Option<ComponentKind>) -> Resolved {
        let (kinds, id): (Vec<ComponentKind>, &str) = match reference.split_once(':') {
            Some((prefix, id)) if ComponentKind::from_prefix(prefix).is_some() => (
                vec![ComponentKind::from_prefix(prefix).expect("checked")],
                id,
            ),
            _ => (
                within.map_or_else(|| ComponentKind::ALL.to_vec(), |kind| vec![kind]),
                reference,
            ),
        };
        let exact: Vec<ComponentId> = kinds
            .iter()
            .map(|kind| ComponentId::new(*kind, id))
            .filter(|candidate| self.components.contains_key(candidate))
            .collect();
        let matches = if exact.is_empty() && !id.contains('/') {
            kinds
                .iter()
                .flat_map(|kind| self.by_last_segment(*kind, id).iter().cloned())
                .collect()
        } else {
            exact
        };
        match matches.len() {
            1 => Resolved::Found(matches.into_iter().next().expect("one")),
            0 => Resolved::Unknown {
                suggestion: self.suggest(id, &kinds, reference.contains(':')),
            },
            _ => Resolved::Ambiguous(matches),
        }
    }

    fn suggest(&self, id: &str, kinds: &[ComponentKind], prefixed: bool) -> Option<String> {
        let candidates: Vec<(String, &ComponentId)> = self
            .components
            .keys()
            .filter(|candidate| kinds.contains(&candidate.kind))
            .map(|candidate| (candidate.id.clone(), candidate))
            .collect();
        let best = closest(id, candidates.iter().map(|(name, _)| name.as_str()))?;
        let (_, component) = candidates.iter().find(|(name, _)| name == best)?;
        Some(if prefixed || kinds.len() > 1 {
            component.to_string()
        } else {
            component.id.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library() -> Library {
        let files = vec![
            (
                "components/commands/beads/create.command.md".to_string(),
                "body".to_string(),
            ),
            (
                "components/commands/git/create.command.md".to_string(),
                "body".to_string(),
            ),
            (
                "components/commands/git/commit.command.md".to_string(),
                "body".to_string(),
            ),
            (
                "components/rules/commit.rule.md".to_string(),
                "body".to_string(),
            ),
        ];
        let loaded = Library::from_memory("version = 1\n", files);
        assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
        loaded.library
    }

    #[test]
    fn resolves_prefixed_bare_and_segment_references() {
        let library = library();
        assert_eq!(
            library.resolve_ref("command:beads/create", None),
            Resolved::Found(ComponentId::new(ComponentKind::Command, "beads/create"))
        );
        assert!(
            matches!(library.resolve_ref("create", None), Resolved::Ambiguous(ids) if ids.len() == 2)
        );
        // An exact id wins over a last-segment match in another kind.
        assert_eq!(
            library.resolve_ref("commit", None),
            Resolved::Found(ComponentId::new(ComponentKind::Rule, "commit"))
        );
        assert_eq!(
            library.resolve_ref("command:commit", None),
            Resolved::Found(ComponentId::new(ComponentKind::Command, "git/commit"))
        );
        assert_eq!(
            library.resolve_ref("rule:comit", None),
            Resolved::Unknown {
                suggestion: Some("rule:commit".into())
            }
        );
    }
}
