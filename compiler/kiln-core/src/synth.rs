//! A generator of realistic synthetic libraries, for scale tests and benchmarks: N
//! components of every kind (namespaced folders, tags, `depends_on` chains, templates that
//! include context fragments, skills with assets) and profiles with multiple and diamond
//! `extends`. Pure: it returns file contents; the caller writes them.
//!
//! Every generated library is valid: dependencies only point at earlier components that no
//! profile excludes (only components tagged `experimental` are excluded, and nothing depends
//! on them).

/// A generated library: `kiln.toml` text and every other file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthLibrary {
    /// The text of `kiln.toml`.
    pub config: String,
    /// `(library-relative path, text)` for every other file, sorted by path.
    pub files: Vec<(String, String)>,
}

/// A small deterministic pseudo-random generator (xorshift64*), so the same seed always gives
/// the same library.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const TAGS: &[&str] = &["alpha", "beta", "gamma", "delta", "epsilon"];
const WORDS: &[&str] = &[
    "Prefer",
    "small",
    "functions",
    "with",
    "clear",
    "names",
    "and",
    "write",
    "tests",
    "before",
    "refactoring",
    "keep",
    "commits",
    "focused",
    "review",
    "diffs",
    "carefully",
    "document",
    "public",
    "interfaces",
    "avoid",
    "global",
    "state",
    "handle",
    "errors",
    "explicitly",
];

fn sentence(rng: &mut Rng, words: usize) -> String {
    let mut out: Vec<&str> = (0..words).map(|_| WORDS[rng.below(WORDS.len())]).collect();
    out[0] = WORDS[0];
    format!("{}.", out.join(" "))
}

/// Index-based roles: a component whose index ends in 9 is `experimental` (excluded by the
/// `full` profile); nothing depends on those.
fn experimental(index: usize) -> bool {
    index % 10 == 9
}

fn dependency_index(rng: &mut Rng, index: usize) -> Option<usize> {
    if index < 2 || !rng.chance(30) {
        return None;
    }
    let mut target = rng.below(index);
    if experimental(target) {
        target = target.saturating_sub(1);
    }
    Some(target)
}

fn tags(rng: &mut Rng, index: usize) -> String {
    let mut tags = vec![TAGS[index % TAGS.len()]];
    if rng.chance(30) {
        tags.push(TAGS[rng.below(TAGS.len())]);
    }
    if experimental(index) {
        tags.push("experimental");
    }
    tags.sort_unstable();
    tags.dedup();
    tags.iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The tools the synthetic profiles list (`full` lists them all; the others the first two).
/// Synthetic test data, not a registry: they name built-in tools of the time, and validating a
/// generated library against the real registry (the integration tests do) fails if one goes.
pub const TOOLS: &[&str] = &[
    "agents",
    "claude-code",
    "claude-desktop",
    "cline",
    "codex",
    "copilot",
    "cursor",
    "gemini",
    "opencode",
    "windsurf",
    "zed",
];

/// Generates a library of about `components` components.
pub fn generate(components: usize, seed: u64) -> SynthLibrary {
    let mut rng = Rng(seed | 1);
    let share = |percent: usize| (components * percent / 100).max(1);
    let (contexts, rules, skills, commands, agents, hooks, mcps) = (
        share(10),
        share(35),
        share(15),
        share(15),
        share(8),
        share(7),
        share(10),
    );
    let mut files = Vec::new();

    for i in 0..contexts {
        files.push((
            format!("components/context/ctx-{i:05}.context.md"),
            format!(
                "---\ndescription: Shared fragment {i}\n---\n{}\n",
                sentence(&mut rng, 12)
            ),
        ));
    }
    for i in 0..rules {
        let deps = dependency_index(&mut rng, i)
            .map(|d| format!("\"rule:r-{d:05}\""))
            .unwrap_or_default();
        let tags = tags(&mut rng, i);
        let priority = rng.below(100);
        if i % 2 == 0 {
            let instructions: Vec<String> = (0..3)
                .map(|_| format!("\"{}\"", sentence(&mut rng, 8)))
                .collect();
            files.push((
                format!("components/rules/r-{i:05}.rule.json"),
                format!(
                    "{{\n  \"id\": \"r-{i:05}\",\n  \"version\": \"1.0.{i}\",\n  \"tags\": [{tags}],\n  \"priority\": {priority},\n  \"depends_on\": [{deps}],\n  \"content\": {{\n    \"title\": \"Rule {i}\",\n    \"sections\": [{{ \"heading\": \"Guidance\", \"instructions\": [{}] }}]\n  }}\n}}\n",
                    instructions.join(", ")
                ),
            ));
        } else {
            let template = i % 5 == 1;
            let body = if template {
                format!(
                    "# Rule {i} for {{{{ project_name }}}}\n\n{{{{ include(\"context:ctx-{:05}\") }}}}\n\n{}\n",
                    rng.below(contexts),
                    sentence(&mut rng, 20)
                )
            } else {
                format!(
                    "# Rule {i}\n\n- {}\n- {}\n",
                    sentence(&mut rng, 10),
                    sentence(&mut rng, 10)
                )
            };
            let activation = if i % 3 == 0 {
                "activation: glob\nglobs: [\"**/*.rs\"]\n"
            } else {
                ""
            };
            files.push((
                format!("components/rules/r-{i:05}.rule.md"),
                format!(
                    "---\ndescription: Generated rule {i}\ntags: [{tags}]\npriority: {priority}\ndepends_on: [{deps}]\n{activation}template: {template}\n---\n{body}"
                ),
            ));
        }
    }
    for i in 0..skills {
        let folder = format!("components/skills/group-{}/skill-{i:05}", i % 10);
        files.push((
            format!("{folder}/SKILL.md"),
            format!(
                "---\nname: skill-{i:05}\ndescription: Generated skill {i}. Use it when the task mentions topic {i}.\n---\n# Skill {i}\n\n{}\n\nRun `scripts/run.sh` with ${{{{ secrets.TOKEN }}}} left as is.\n",
                sentence(&mut rng, 30)
            ),
        ));
        files.push((
            format!("{folder}/scripts/run.sh"),
            format!("#!/bin/sh\necho skill {i}\n"),
        ));
        if i % 2 == 0 || experimental(i) {
            let deps = dependency_index(&mut rng, i)
                .map(|d| format!("\"skill:skill-{d:05}\""))
                .unwrap_or_default();
            files.push((
                format!("{folder}/skill.json"),
                format!("{{\n  \"version\": \"0.{i}.0\",\n  \"tags\": [{}],\n  \"depends_on\": [{deps}]\n}}\n", tags(&mut rng, i)),
            ));
        }
    }
    for i in 0..commands {
        files.push((
            format!("components/commands/ns-{}/cmd-{i:05}.command.md", i % 20),
            format!(
                "---\ndescription: Generated command {i}\nargument-hint: \"[target]\"\nallowed-tools: Read Grep\ntags: [{}]\n---\n{} Apply it to $ARGUMENTS.\n",
                tags(&mut rng, i),
                sentence(&mut rng, 15)
            ),
        ));
    }
    for i in 0..agents {
        files.push((
            format!("components/agents/agent-{i:05}.agent.md"),
            format!(
                "---\nname: agent-{i:05}\ndescription: Generated agent {i}; use for topic {i}.\nallowed-tools: [Read, Grep, Glob]\ntags: [{}]\n---\nYou are agent {i}. {}\n",
                tags(&mut rng, i),
                sentence(&mut rng, 25)
            ),
        ));
    }
    for i in 0..hooks {
        let event = ["pre-tool-use", "post-tool-use", "session-start", "stop"][i % 4];
        files.push((
            format!("components/hooks/hook-{i:05}.hook.json"),
            format!(
                "{{\n  \"event\": \"{event}\",\n  \"matcher\": \"Edit|Write\",\n  \"command\": \"echo hook {i}\",\n  \"timeout\": 10,\n  \"tags\": [{}]\n}}\n",
                tags(&mut rng, i)
            ),
        ));
    }
    for i in 0..mcps {
        let body = if i % 3 == 0 {
            format!(
                "\"transport\": \"http\",\n  \"url\": \"https://mcp{i}.example.com/mcp\",\n  \"headers\": {{ \"Authorization\": \"Bearer ${{TOKEN_{i}}}\" }}"
            )
        } else {
            format!(
                "\"transport\": \"stdio\",\n  \"command\": \"npx\",\n  \"args\": [\"-y\", \"@example/server-{i}\"],\n  \"env\": {{ \"API_KEY\": \"op://Private/server-{i}/key\" }}"
            )
        };
        files.push((
            format!("components/mcp/server-{i:05}.mcp.json"),
            format!("{{\n  \"tags\": [{}],\n  {body}\n}}\n", tags(&mut rng, i)),
        ));
    }

    let profiles = [
        (
            "base",
            "[]",
            "\"rules\": { \"include\": [\"tag:alpha\"] },\n  \"mcp\": { \"global\": [\"server-0000*\"] }",
        ),
        (
            "team",
            "[\"base\"]",
            "\"rules\": { \"include\": [\"tag:beta\"] },\n  \"commands\": { \"include\": [\"ns-1/*\"] }",
        ),
        (
            "dev",
            "[\"base\"]",
            "\"skills\": { \"include\": [\"skill-000*\"] },\n  \"agents\": { \"include\": [\"tag:gamma\"] }",
        ),
        (
            "full",
            "[\"team\", \"dev\"]",
            "\"rules\": { \"include\": [\"**\"], \"exclude\": [\"tag:experimental\"] },\n  \"skills\": { \"include\": [\"**\"], \"exclude\": [\"tag:experimental\"] },\n  \"commands\": { \"include\": [\"**\"] },\n  \"agents\": { \"include\": [\"**\"] },\n  \"hooks\": { \"include\": [\"**\"] },\n  \"mcp\": { \"include\": [\"**\"] },\n  \"context\": { \"include\": [\"**\"] }",
        ),
    ];
    // `full` builds for many tools (the benchmark's "all tools").
    let all_tools = TOOLS
        .iter()
        .map(|t| format!("\"{t}\": {{}}"))
        .collect::<Vec<_>>()
        .join(", ");
    for (name, extends, selectors) in profiles {
        let tools = if name == "full" {
            all_tools.clone()
        } else {
            "\"claude-code\": {}, \"codex\": {}".to_string()
        };
        files.push((
            format!("profiles/{name}.profile.json"),
            format!(
                "{{\n  \"name\": \"{name}\",\n  \"extends\": {extends},\n  {selectors},\n  \"tools\": {{ {tools} }},\n  \"variables\": {{ \"project_name\": \"{name}-project\" }}\n}}\n"
            ),
        ));
    }
    files.sort();
    SynthLibrary {
        config: "version = 1\n\n[variables]\nproject_name = \"synth\"\n".to_string(),
        files,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_library() {
        assert_eq!(generate(200, 7), generate(200, 7));
        assert_ne!(generate(200, 7), generate(200, 8));
    }
}
