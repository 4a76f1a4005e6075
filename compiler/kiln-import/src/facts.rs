//! What import reads from the built-in tool definitions (`tools/<tool>/tool.json`): each
//! tool's names for kiln's hook events and how it writes an environment reference, so import
//! inverts exactly what build emits, from one source.

use std::sync::OnceLock;

use kiln_emit::tools::ToolRegistry;

fn registry() -> &'static ToolRegistry {
    static REGISTRY: OnceLock<ToolRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| ToolRegistry::builtin(&mut kiln_core::Diagnostics::new()))
}

/// kiln's canonical event (`pre-tool-use`) for `tool`'s own event name (`BeforeTool`),
/// matched without regard to case (`userpromptsubmit` is how some hand-kept files spell it).
pub(crate) fn canonical_event(tool: &str, event: &str) -> Option<String> {
    let definition = registry().get(tool)?;
    definition
        .spec
        .hook_events
        .iter()
        .find(|(_, name)| name.eq_ignore_ascii_case(event))
        .and_then(|(canonical, _)| serde_json::to_value(canonical).ok())
        .and_then(|value| value.as_str().map(ToString::to_string))
}

/// How `tool` writes an environment reference (`${env:VAR}`), where that is not kiln's own
/// `${VAR}`.
pub(crate) fn env_reference(tool: &str) -> Option<String> {
    registry()
        .get(tool)?
        .spec
        .env_reference
        .clone()
        .filter(|format| format != "${VAR}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definitions_give_each_tools_spelling() {
        assert_eq!(
            canonical_event("gemini", "BeforeTool").as_deref(),
            Some("pre-tool-use")
        );
        assert_eq!(
            canonical_event("claude-code", "userpromptsubmit").as_deref(),
            Some("user-prompt-submit")
        );
        assert_eq!(canonical_event("claude-code", "BeforeTool"), None);
        assert_eq!(env_reference("cursor").as_deref(), Some("${env:VAR}"));
        assert_eq!(env_reference("opencode").as_deref(), Some("{env:VAR}"));
        assert_eq!(env_reference("claude-code"), None);
    }
}
