//! Bounds on every template kiln renders (tool templates and component templates): a hostile
//! or mistaken template fails within seconds with a located error instead of running for ever
//! or filling memory.
//!
//! - **Fuel** bounds the instructions one render may execute (a loop of a billion
//!   iterations, a macro calling itself in a loop).
//! - **Recursion** bounds nested macro calls and includes.
//! - **Output** stops a render as soon as it has written more than [`MAX_OUTPUT`] bytes.
//!
//! minijinja itself refuses to repeat a string or sequence beyond 100 MB. What is not bounded:
//! a value that grows by concatenating itself inside a loop (`{% set s = s ~ s %}`) can reach
//! gigabytes in few instructions; the fuel only bounds how many times it doubles.

use minijinja::{Environment, Error, ErrorKind, Template, Value};

/// Instructions one render may execute. Measured (minijinja's fuel levels, 2026-12-07): the
/// costliest render of the starter library over every tool and profile used 620; of a
/// generated 2,000-component library (`kiln dev generate-library`, profile `full`, every tool)
/// 28,864 — a joined file grows with the components in it. Ten million leaves a margin of
/// over 300 times that and stops a runaway template in about a second (debug build).
pub const TEMPLATE_FUEL: u64 = 10_000_000;

/// Nested macro calls and includes.
pub const RECURSION_LIMIT: usize = 64;

/// The most one render may write: far above any real configuration file.
pub const MAX_OUTPUT: usize = 16 * 1024 * 1024;

/// What to tell the author of a template that hit a limit.
pub const HINT: &str = "the template ran into kiln's limits (10 million instructions, 64 nested macro calls or includes, 16 MiB of output): look for a loop that never ends, a macro that calls itself, or a value repeated too often";

/// Applies the fuel and recursion bounds to an environment.
pub fn bound(environment: &mut Environment<'_>) {
    environment.set_fuel(Some(TEMPLATE_FUEL));
    environment.set_recursion_limit(RECURSION_LIMIT);
}

/// Renders `template`, failing once the output passes [`MAX_OUTPUT`].
pub fn render_bounded<V: Into<Value>>(
    template: &Template<'_, '_>,
    context: V,
) -> Result<String, Error> {
    let mut writer = Capped(Vec::new());
    template
        .render_captured_to(context, &mut writer)
        .map_err(|error| match error.kind() {
            ErrorKind::WriteFailure => Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "the output passed {} MiB; a template that writes this much is a mistake (a loop that never ends, a value repeated too often)",
                    MAX_OUTPUT / (1024 * 1024)
                ),
            ),
            _ => error,
        })?;
    String::from_utf8(writer.0)
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, "output is not UTF-8"))
}

/// A writer that refuses to grow past [`MAX_OUTPUT`].
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + bytes.len() > MAX_OUTPUT {
            return Err(std::io::Error::other("output limit"));
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether an error is one of these limits (for the hint kiln gives).
pub fn is_limit(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::OutOfFuel)
        || error
            .detail()
            .is_some_and(|d| d.contains("recursion") || d.contains("MiB"))
        || error.to_string().contains("recursion")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str) -> Result<String, Error> {
        let mut environment = Environment::new();
        bound(&mut environment);
        environment
            .add_template_owned("t", source.to_string())
            .expect("parses");
        let template = environment.get_template("t").expect("exists");
        render_bounded(&template, ())
    }

    #[test]
    fn a_real_template_renders() {
        let out = render("{% for i in range(3) %}{{ i }},{% endfor %}").expect("renders");
        assert_eq!(out, "0,1,2,");
    }

    #[test]
    fn ten_billion_iterations_run_out_of_fuel() {
        // Nested, since one range is capped; nothing is written, so only fuel can stop it.
        let error = render(
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        )
        .expect_err("bounded");
        assert_eq!(error.kind(), ErrorKind::OutOfFuel, "{error}");
        assert!(is_limit(&error));
    }

    #[test]
    fn a_macro_calling_itself_hits_the_recursion_limit() {
        let error =
            render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").expect_err("bounded");
        assert!(is_limit(&error), "{error:?}");
    }

    #[test]
    fn output_past_the_cap_stops_the_render() {
        // 2,000 × 1 MB = 2 GB of output without the cap.
        let error = render("{% for i in range(2000) %}{{ 'x' * 1000000 }}{% endfor %}")
            .expect_err("bounded");
        assert!(error.to_string().contains("MiB"), "{error}");
        assert!(is_limit(&error));
    }
}
