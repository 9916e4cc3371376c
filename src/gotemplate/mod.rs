//! Go's `text/template`, as Alertmanager's notification templates and Prometheus' rule
//! templates run it: the same syntax, the same printing (`map[a:b]`, `1e+06`, `<no value>`) and
//! the same functions, so a template written for either renders the same text here.
//!
//! Written for syncwatch rather than taken from a crate: `gtmpl` 0.7 keeps maps in a `HashMap`
//! and prints them with Rust's `{:?}` (`{"a": String("b")}`, in random order), where Go prints
//! `map[a:b]` in key order, which is what `{{ $labels }}` must give; `gotmpl` 0.6 prints as Go
//! does but has no method calls, and Alertmanager's data is used through methods
//! (`.Alerts.Firing`, `.CommonLabels.SortedPairs`, `.StartsAt.Format`, `.Labels.Remove`).
//! Here an [`Object`] answers fields and methods by name.
//!
//! - [`Templates`]: a set of named templates (`{{define}}`) with a function map; parse errors
//!   name the template and line.
//! - [`Value`], [`Object`]: the data.
//! - [`funcs`]: Go's builtins, Alertmanager's functions and the `humanize*` family.
//! - [`fmt`]: Go's `print`/`printf`/`%v`.
//! - [`time`]: `time.Time` and `time.Duration`.
//! - [`html`]: `html/template`'s escaping, for HTML output.

pub mod data;
pub mod exec;
pub mod fmt;
pub mod funcs;
pub mod html;
pub mod parse;
pub mod prometheus;
pub mod time;
pub mod value;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub use funcs::{Func, FuncError, FuncMap};
pub use value::{Object, Value};

use parse::Node;

/// A template that Go would refuse to parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct ParseError {
    /// The template's name (a file name, or the config field it came from).
    pub name: String,
    /// 1-based line within the template text.
    pub line: usize,
    pub message: String,
}

/// A template that failed while running, as Go reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    #[error("template: {template}:{line}:{col}: executing {template:?} at <{at}>: {message}")]
    At {
        template: String,
        line: usize,
        /// Byte offset within the line, from 0, as Go counts it.
        col: usize,
        at: String,
        message: String,
    },
    /// From a method of the data; the executor places it.
    #[error("{0}")]
    Message(String),
    #[error("template: no template {0:?} associated with template")]
    NoTemplate(String),
    #[error("exceeded maximum template depth ({0})")]
    Depth(usize),
}

/// Functions whose answer depends on one execution (Prometheus' `query` reads the store at the
/// rule's evaluation time). The set still declares each name with a stand-in, so templates
/// parse as before; during [`Templates::execute_with`], a name this answers (`Some`) is called
/// here instead. `set` is the executing set, for functions that run its templates.
pub trait Extra {
    fn call(&self, set: &Templates, name: &str, args: &[Value])
    -> Option<Result<Value, FuncError>>;
}

/// Either kind of failure, for callers that parse and run in one step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// A set of named templates sharing one function map, like Go's `*template.Template` after
/// `ParseGlob`: later definitions of a name replace earlier ones, except that a definition
/// whose body is only spaces does not replace a non-empty one (Go's rule).
#[derive(Clone)]
pub struct Templates {
    funcs: Arc<FuncMap>,
    names: Arc<HashSet<String>>,
    defs: HashMap<String, Arc<Vec<Node>>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.defs.keys().collect();
        names.sort();
        f.debug_struct("Templates")
            .field("defined", &names)
            .finish()
    }
}

fn is_empty_body(nodes: &[Node]) -> bool {
    nodes
        .iter()
        .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()))
}

impl Templates {
    /// A set with Go's builtins plus `funcs`.
    pub fn new(funcs: FuncMap) -> Self {
        let mut all = funcs::builtins();
        all.extend(funcs);
        let names = all.keys().cloned().collect();
        Self {
            funcs: Arc::new(all),
            names: Arc::new(names),
            defs: HashMap::new(),
        }
    }

    /// A set with Alertmanager's functions.
    pub fn alertmanager() -> Self {
        Self::new(funcs::alertmanager())
    }

    fn define(defs: &mut HashMap<String, Arc<Vec<Node>>>, name: String, body: Vec<Node>) {
        if is_empty_body(&body) && defs.get(&name).is_some_and(|b| !is_empty_body(b)) {
            return;
        }
        defs.insert(name, Arc::new(body));
    }

    /// Parses `text` into the set: its `{{define}}`s by their names, and its top level as
    /// `name` (as Go's `ParseFiles` names a file's body after the file).
    pub fn add(&mut self, name: &str, text: &str) -> Result<(), ParseError> {
        let parsed = parse::parse(name, text, &self.names)?;
        for (n, body) in parsed.defines {
            Self::define(&mut self.defs, n, body);
        }
        Self::define(&mut self.defs, name.to_string(), parsed.body);
        Ok(())
    }

    /// Whether a template of this name is defined.
    pub fn has(&self, name: &str) -> bool {
        self.defs.contains_key(name)
    }

    /// Checks that `text` parses against this set's functions, without keeping it.
    pub fn check(&self, name: &str, text: &str) -> Result<(), ParseError> {
        parse::parse(name, text, &self.names).map(|_| ())
    }

    /// Runs the named template with `data` as dot and `$`.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, ExecError> {
        let body = self.body(name)?;
        let local = HashMap::new();
        self.run(name, &body, &local, data)
    }

    fn body(&self, name: &str) -> Result<Arc<Vec<Node>>, ExecError> {
        self.defs
            .get(name)
            .cloned()
            .ok_or_else(|| ExecError::NoTemplate(name.to_string()))
    }

    /// [`Templates::execute`] with `extra` answering the functions it knows.
    pub fn execute_with(
        &self,
        name: &str,
        data: &Value,
        extra: &dyn Extra,
    ) -> Result<String, ExecError> {
        let body = self.body(name)?;
        let local = HashMap::new();
        let mut e = self.exec(name, &local, data, false);
        e.extra = Some(extra);
        e.run(data, &body)?;
        Ok(e.out)
    }

    /// Parses and runs `text` against the set, as Alertmanager's `ExecuteTextString` runs a
    /// config field: `{{ template "x" . }}` finds the set's templates, and the text's own
    /// `{{define}}`s stay local to this call.
    pub fn render(&self, name: &str, text: &str, data: &Value) -> Result<String, Error> {
        if !text.contains("{{") {
            return Ok(text.to_string());
        }
        let parsed = parse::parse(name, text, &self.names)?;
        let mut local = HashMap::new();
        for (n, body) in parsed.defines {
            Self::define(&mut local, n, body);
        }
        Ok(self.run(name, &parsed.body, &local, data)?)
    }

    /// [`Templates::render`] for HTML output, as Go's `html/template` runs it (Alertmanager's
    /// `ExecuteHTMLString`): each action escaped for where it lands (see [`html`]).
    pub fn render_html(&self, name: &str, text: &str, data: &Value) -> Result<String, Error> {
        let parsed = parse::parse(name, text, &self.names)?;
        let mut local = HashMap::new();
        for (n, body) in parsed.defines {
            Self::define(&mut local, n, body);
        }
        Ok(self.run_as(name, &parsed.body, &local, data, true)?)
    }

    fn run(
        &self,
        name: &str,
        body: &[Node],
        local: &HashMap<String, Arc<Vec<Node>>>,
        data: &Value,
    ) -> Result<String, ExecError> {
        self.run_as(name, body, local, data, false)
    }

    fn run_as(
        &self,
        name: &str,
        body: &[Node],
        local: &HashMap<String, Arc<Vec<Node>>>,
        data: &Value,
        html: bool,
    ) -> Result<String, ExecError> {
        let mut e = self.exec(name, local, data, html);
        e.run(data, body)?;
        Ok(e.out)
    }

    fn exec<'a>(
        &'a self,
        name: &str,
        local: &'a HashMap<String, Arc<Vec<Node>>>,
        data: &Value,
        html: bool,
    ) -> exec::Exec<'a> {
        exec::Exec {
            set: self,
            local,
            name: name.to_string(),
            vars: vec![("$".into(), data.clone())],
            depth: 0,
            out: String::new(),
            html: html.then(html::HtmlTracker::default),
            extra: None,
        }
    }
}

#[cfg(test)]
mod tests;
