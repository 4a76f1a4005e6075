//! Tool definitions, `tools/<tool>/tool.json`. The build issue fills in outputs and
//! strategies; today a definition names a tool so profiles and components may refer to it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A tool definition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolSpec {
    /// Path of the JSON Schema, for editors.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The tool's name; equals its folder under `tools/`.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]*$"))]
    pub name: String,
    /// What the tool is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Outputs, strategies and templates (defined by the build issue).
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}
