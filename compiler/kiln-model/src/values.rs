//! Small typed values that several documents share: a file's Unix mode, the syntax of a file
//! kiln shares with the user, and a recorded content hash (plain or keyed). On disk they stay
//! the text they always were (`"0644"`, `"jsonc"`, `"keyed:…"`); in memory they are types, so no
//! stage compares strings to learn what they mean.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Serialises a value as its `Display` text (for reasons and other sentences in JSON output).
pub fn serialize_display<T: fmt::Display, S: Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Unix permission bits, written as octal text (`"0644"`, `"0755"`, `"0600"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileMode(pub u32);

impl FileMode {
    /// `rw-r--r--`, what kiln gives a file nobody asked otherwise for.
    pub const DEFAULT: FileMode = FileMode(0o644);
    /// `rw-------`, for files that hold a resolved secret.
    pub const PRIVATE: FileMode = FileMode(0o600);

    /// The permission bits.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// Parses octal text (`"644"` or `"0644"`).
    pub fn parse(text: &str) -> Option<FileMode> {
        u32::from_str_radix(text, 8)
            .ok()
            .filter(|bits| *bits <= 0o7777)
            .map(FileMode)
    }
}

impl Default for FileMode {
    fn default() -> FileMode {
        FileMode::DEFAULT
    }
}

impl fmt::Display for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl Serialize for FileMode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FileMode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FileMode, D::Error> {
        let text = String::deserialize(deserializer)?;
        FileMode::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not an octal file mode")))
    }
}

impl JsonSchema for FileMode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FileMode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Unix permission bits as octal text.",
            "type": "string",
            "pattern": "^0?[0-7]{3,4}$"
        })
    }
}

/// The syntax of a file kiln shares with the user (it merges its keys into it).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MergeFormat {
    /// Strict JSON (RFC 8259): no comments, no trailing commas.
    Json,
    /// JSON with `//` and `/* */` comments and trailing commas (VS Code / Zed settings).
    Jsonc,
    /// TOML 1.0/1.1.
    Toml,
}

impl MergeFormat {
    /// The format named `json`, `jsonc` or `toml`.
    pub fn from_name(name: &str) -> Option<MergeFormat> {
        match name {
            "json" => Some(MergeFormat::Json),
            "jsonc" => Some(MergeFormat::Jsonc),
            "toml" => Some(MergeFormat::Toml),
            _ => None,
        }
    }

    /// `json`, `jsonc` or `toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeFormat::Json => "json",
            MergeFormat::Jsonc => "jsonc",
            MergeFormat::Toml => "toml",
        }
    }
}

impl fmt::Display for MergeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A content hash as a deploy record keeps it: `blake3:<hex>` of the bytes, or, for a file
/// that holds a resolved secret, `keyed:<hex>` — blake3 keyed with the machine's secret key, so
/// a low-entropy secret cannot be brute-forced from the record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordedHash {
    /// `blake3:<hex>`.
    Plain(String),
    /// `keyed:<hex>`.
    Keyed(String),
}

impl RecordedHash {
    const KEYED: &'static str = "keyed:";

    /// Reads the recorded text (anything not `keyed:` is a plain hash).
    pub fn parse(text: &str) -> RecordedHash {
        match text.strip_prefix(Self::KEYED) {
            Some(hex) => RecordedHash::Keyed(hex.to_string()),
            None => RecordedHash::Plain(text.to_string()),
        }
    }

    /// Whether the hash is keyed (the file held a secret).
    pub fn is_keyed(&self) -> bool {
        matches!(self, RecordedHash::Keyed(_))
    }
}

impl fmt::Display for RecordedHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordedHash::Plain(text) => f.write_str(text),
            RecordedHash::Keyed(hex) => write!(f, "{}{hex}", Self::KEYED),
        }
    }
}

impl Serialize for RecordedHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RecordedHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RecordedHash, D::Error> {
        Ok(RecordedHash::parse(&String::deserialize(deserializer)?))
    }
}

impl JsonSchema for RecordedHash {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RecordedHash".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`blake3:<hex>` of the bytes, or `keyed:<hex>` for a file that holds a resolved secret.",
            "type": "string"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_as_their_text() {
        let mode: FileMode = serde_json::from_str("\"0755\"").expect("mode");
        assert_eq!(mode, FileMode(0o755));
        assert_eq!(serde_json::to_string(&mode).expect("json"), "\"0755\"");
        assert!(serde_json::from_str::<FileMode>("\"rw\"").is_err());
        let format: MergeFormat = serde_json::from_str("\"jsonc\"").expect("format");
        assert_eq!(format, MergeFormat::Jsonc);
        let keyed = RecordedHash::parse("keyed:abc");
        assert!(keyed.is_keyed());
        assert_eq!(keyed.to_string(), "keyed:abc");
        assert!(!RecordedHash::parse("blake3:abc").is_keyed());
    }
}
