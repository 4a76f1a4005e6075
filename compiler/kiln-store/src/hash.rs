//! Content hashes: blake3 of bytes, written `blake3:<hex>`.

/// The `blake3:<hex>` hash of `bytes`.
pub fn content_hash(bytes: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(bytes).to_hex())
}

/// The `blake3:<hex>` hash of a value's JSON serialisation (maps are ordered, so equal
/// values hash equal).
pub fn json_hash<T: serde::Serialize>(value: &T) -> String {
    let mut hasher = blake3::Hasher::new();
    // Writing JSON into the hasher cannot fail for values that serialise.
    let _ = serde_json::to_writer(HashWriter(&mut hasher), value);
    format!("blake3:{}", hasher.finalize().to_hex())
}

struct HashWriter<'a>(&'a mut blake3::Hasher);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_prefixed_and_stable() {
        assert_eq!(
            content_hash(b"kiln"),
            format!("blake3:{}", blake3::hash(b"kiln").to_hex())
        );
        assert_eq!(
            json_hash(&serde_json::json!({"b": 1, "a": 2})),
            json_hash(&serde_json::json!({"a": 2, "b": 1}))
        );
    }
}
