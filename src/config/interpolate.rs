//! `${VAR}` and `${VAR:-default}` in config values, read from the environment.
//!
//! Values are interpolated after parsing, field by field, so a secret never shows up in a parse
//! error, and an error names the variable, never its value.

/// Why a value could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolateError {
    #[error("environment variable {0} is not set (use ${{{0}:-default}} for a default)")]
    Missing(String),
    #[error("unterminated ${{ in value")]
    Unterminated,
}

/// Replaces every `${NAME}` / `${NAME:-default}`; `$$` is a literal `$`.
pub fn interpolate(
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InterpolateError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or(InterpolateError::Unterminated)?;
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            match (env(name), default) {
                (Some(v), _) if !v.is_empty() => out.push_str(&v),
                (_, Some(d)) => out.push_str(d),
                (Some(v), None) => out.push_str(&v),
                (None, None) => return Err(InterpolateError::Missing(name.to_string())),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The process environment, for production callers.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("s3cret".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn replaces_variables_and_defaults() {
        assert_eq!(
            interpolate("Bearer ${TOKEN}", &env).unwrap(),
            "Bearer s3cret"
        );
        assert_eq!(interpolate("${NOPE:-x}-${EMPTY:-y}", &env).unwrap(), "x-y");
        assert_eq!(interpolate("cost $$5 $x", &env).unwrap(), "cost $5 $x");
    }

    #[test]
    fn missing_variable_names_it_without_values() {
        let err = interpolate("${NOPE}", &env).unwrap_err();
        assert_eq!(err, InterpolateError::Missing("NOPE".into()));
        assert!(!err.to_string().contains("s3cret"));
        assert_eq!(
            interpolate("${TOKEN", &env),
            Err(InterpolateError::Unterminated)
        );
    }
}
