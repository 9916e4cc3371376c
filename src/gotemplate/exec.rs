//! Executes a parsed template as Go's `text/template` executes it: dot and variables scoped per
//! control structure, Go's truth, `and`/`or` evaluated lazily, methods called on field access,
//! `range` over slices and over maps in key order, `break`/`continue`, nested templates with
//! their own `$`.

use std::collections::HashMap;
use std::sync::Arc;

use super::parse::{Arg, Branch, Cmd, Loc, Node, Pipe};
use super::value::Value;
use super::{ExecError, Templates};

/// Nested `{{template}}` calls and control structures (`if`, `with`, `range`) deeper than this
/// fail, as a template calling itself does (Go counts template calls only, up to 100,000, on
/// its growable stacks; here each level takes a few kilobytes of a thread's fixed stack, and no
/// real template nests a hundred deep).
pub const MAX_DEPTH: usize = 100;

/// How a list of nodes ended.
enum Flow {
    Normal,
    Break,
    Continue,
}

/// A command's arguments with where each starts.
#[derive(Clone, Copy)]
struct Args<'a> {
    args: &'a [Arg],
    locs: &'a [Loc],
}

impl Args<'_> {
    const NONE: Args<'static> = Args {
        args: &[],
        locs: &[],
    };
}

pub struct Exec<'a> {
    pub set: &'a Templates,
    /// Templates defined by the text being rendered, looked up before the set's.
    pub local: &'a HashMap<String, Arc<Vec<Node>>>,
    pub name: String,
    pub vars: Vec<(String, Value)>,
    pub depth: usize,
    pub out: String,
    /// Set when the output is HTML: each action is escaped for where it lands.
    pub html: Option<super::html::HtmlTracker>,
    /// Functions of this one execution, consulted before the set's (see [`super::Extra`]).
    pub extra: Option<&'a dyn super::Extra>,
}

impl Exec<'_> {
    /// An error at `loc`, about the node Go would quote as `context`.
    fn error(&self, loc: Loc, context: &str, message: impl Into<String>) -> ExecError {
        ExecError::At {
            template: self.name.clone(),
            line: loc.line,
            col: loc.col,
            at: context.to_string(),
            message: message.into(),
        }
    }

    /// Runs `nodes` with `dot`.
    pub fn run(&mut self, dot: &Value, nodes: &[Node]) -> Result<(), ExecError> {
        self.walk(dot, nodes).map(|_| ())
    }

    fn walk(&mut self, dot: &Value, nodes: &[Node]) -> Result<Flow, ExecError> {
        for node in nodes {
            let flow = match node {
                Node::Text(t) => {
                    match &mut self.html {
                        Some(h) => {
                            let written = h.text(t);
                            self.out.push_str(&written);
                        }
                        None => self.out.push_str(t),
                    }
                    Flow::Normal
                }
                Node::Action(pipe) => {
                    let v = self.pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        let text = super::fmt::sprint(&[v]);
                        match &mut self.html {
                            Some(h) => {
                                // As Go's `template.HTML`: a `safeHtml` result is not escaped.
                                let safe = pipe.cmds.last().is_some_and(|c| {
                                    matches!(c.args.first(), Some(Arg::Func(f)) if f == "safeHtml")
                                });
                                let escaped = h.escape(&text, safe);
                                h.feed(&escaped);
                                self.out.push_str(&escaped);
                            }
                            None => self.out.push_str(&text),
                        }
                    }
                    Flow::Normal
                }
                Node::If(b) | Node::With(b) | Node::Range(b) => {
                    if self.depth >= MAX_DEPTH {
                        return Err(ExecError::Depth(MAX_DEPTH));
                    }
                    self.depth += 1;
                    let flow = match node {
                        Node::Range(_) => self.range(dot, b),
                        _ => self.if_or_with(dot, b, matches!(node, Node::With(_))),
                    };
                    self.depth -= 1;
                    flow?
                }
                Node::Template { at, name, pipe } => {
                    self.template(dot, *at, name, pipe.as_ref())?;
                    Flow::Normal
                }
                Node::Break(_) => return Ok(Flow::Break),
                Node::Continue(_) => return Ok(Flow::Continue),
            };
            if !matches!(flow, Flow::Normal) {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn if_or_with(&mut self, dot: &Value, b: &Branch, with: bool) -> Result<Flow, ExecError> {
        let mark = self.vars.len();
        let v = self.pipeline(dot, &b.pipe)?;
        let flow = if v.is_true() {
            let inner = if with { v } else { dot.clone() };
            self.walk(&inner, &b.list)?
        } else if let Some(e) = &b.else_list {
            self.walk(dot, e)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn range(&mut self, dot: &Value, b: &Branch) -> Result<Flow, ExecError> {
        let mark = self.vars.len();
        let v = self.pipeline(dot, &b.pipe)?;
        let items: Vec<(Value, Value)> = if let Some(l) = v.as_list() {
            l.iter()
                .enumerate()
                .map(|(i, e)| (Value::Int(i as i64), e.clone()))
                .collect()
        } else if let Some(m) = v.as_map() {
            m.iter()
                .map(|(k, e)| (Value::str(k.as_str()), e.clone()))
                .collect()
        } else if matches!(v, Value::Nil | Value::NoValue) {
            Vec::new()
        } else {
            // Go names the last node it evaluated: the last command's first operand.
            let (at, context) = b.pipe.cmds.last().map_or((b.pipe.at, String::new()), |c| {
                (c.locs[0], c.args[0].describe())
            });
            return Err(self.error(
                at,
                &context,
                format!("range can't iterate over {}", v.to_v()),
            ));
        };
        if items.is_empty() {
            let flow = match &b.else_list {
                Some(e) => self.walk(dot, e)?,
                None => Flow::Normal,
            };
            self.vars.truncate(mark);
            return Ok(flow);
        }
        for (index, elem) in items {
            let decl = &b.pipe.decl;
            match (decl.len(), b.pipe.is_assign) {
                (0, _) => {}
                (1, true) => self.set_var(&decl[0], elem.clone()),
                (_, true) => {
                    self.set_var(&decl[0], index.clone());
                    self.set_var(&decl[1], elem.clone());
                }
                (n, false) => {
                    // The declared variables are the top ones: `$e` or `$i, $e`.
                    let top = self.vars.len();
                    self.vars[top - 1].1 = elem.clone();
                    if n > 1 {
                        self.vars[top - 2].1 = index.clone();
                    }
                }
            }
            let iter_mark = self.vars.len();
            let flow = self.walk(&elem, &b.list)?;
            self.vars.truncate(iter_mark);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        self.vars.truncate(mark);
        Ok(Flow::Normal)
    }

    fn template(
        &mut self,
        dot: &Value,
        at: Loc,
        name: &str,
        pipe: Option<&Pipe>,
    ) -> Result<(), ExecError> {
        let body = self
            .local
            .get(name)
            .or_else(|| self.set.defs.get(name))
            .cloned()
            .ok_or_else(|| {
                self.error(
                    at,
                    &format!("{{{{template {}}}}}", super::fmt::quote(name)),
                    format!("template {name:?} not defined"),
                )
            })?;
        let data = match pipe {
            Some(p) => self.pipeline(dot, p)?,
            // Go runs the template with a nil dot, printed `<no value>`.
            None => Value::NoValue,
        };
        if self.depth >= MAX_DEPTH {
            return Err(ExecError::Depth(MAX_DEPTH));
        }
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".into(), data.clone())]);
        let saved_name = std::mem::replace(&mut self.name, name.to_string());
        self.depth += 1;
        let r = self.walk(&data, &body);
        self.depth -= 1;
        self.vars = saved_vars;
        self.name = saved_name;
        r.map(|_| ())
    }

    fn set_var(&mut self, name: &str, v: Value) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
        }
    }

    fn var(&self, at: Loc, name: &str) -> Result<Value, ExecError> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.error(at, name, format!("undefined variable: {name}")))
    }

    fn pipeline(&mut self, dot: &Value, pipe: &Pipe) -> Result<Value, ExecError> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::NoValue);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone());
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn command(
        &mut self,
        dot: &Value,
        cmd: &Cmd,
        piped: Option<Value>,
    ) -> Result<Value, ExecError> {
        let first = &cmd.args[0];
        let at = cmd.locs[0];
        let rest = Args {
            args: &cmd.args[1..],
            locs: &cmd.locs[1..],
        };
        let not_a_function = |this: &Self| {
            if !rest.args.is_empty() || piped.is_some() {
                Err(this.error(
                    at,
                    &first.describe(),
                    format!("can't give argument to non-function {}", first.describe()),
                ))
            } else {
                Ok(())
            }
        };
        let chain = |this: &mut Self, recv: Value, fields: &[String]| {
            this.field_chain(
                dot,
                at,
                &first.describe(),
                recv,
                fields,
                rest,
                piped.clone(),
            )
        };
        match first {
            Arg::Field(fields) => chain(self, dot.clone(), fields),
            Arg::Chain(inner, fields) => {
                let recv = self.arg(dot, at, inner)?;
                chain(self, recv, fields)
            }
            Arg::Var(name, fields) => {
                let v = self.var(at, name)?;
                if fields.is_empty() {
                    not_a_function(self)?;
                    Ok(v)
                } else {
                    chain(self, v, fields)
                }
            }
            Arg::Func(name) => self.function(dot, at, &cmd.describe(), name, rest, piped),
            Arg::Pipe(p) => {
                not_a_function(self)?;
                self.pipeline(dot, p)
            }
            Arg::Nil => Err(self.error(at, "nil", "nil is not a command")),
            _ => {
                not_a_function(self)?;
                self.arg(dot, at, first)
            }
        }
    }

    /// Evaluates arguments, each where it stands.
    fn args(&mut self, dot: &Value, args: Args<'_>) -> Result<Vec<Value>, ExecError> {
        let mut vals = Vec::with_capacity(args.args.len() + 1);
        for (a, at) in args.args.iter().zip(args.locs) {
            vals.push(self.arg(dot, *at, a)?);
        }
        Ok(vals)
    }

    /// `.A.B` on `recv`; `context` is the whole operand as Go quotes it in errors.
    #[allow(clippy::too_many_arguments)]
    fn field_chain(
        &mut self,
        dot: &Value,
        at: Loc,
        context: &str,
        mut recv: Value,
        fields: &[String],
        args: Args<'_>,
        piped: Option<Value>,
    ) -> Result<Value, ExecError> {
        let Some((last, init)) = fields.split_last() else {
            return Ok(recv);
        };
        for f in init {
            recv = self.field(dot, at, context, f, recv, Args::NONE, None)?;
        }
        self.field(dot, at, context, last, recv, args, piped)
    }

    #[allow(clippy::too_many_arguments)]
    fn field(
        &mut self,
        dot: &Value,
        at: Loc,
        context: &str,
        name: &str,
        recv: Value,
        args: Args<'_>,
        piped: Option<Value>,
    ) -> Result<Value, ExecError> {
        match &recv {
            Value::Object(o) => {
                let mut vals = self.args(dot, args)?;
                vals.extend(piped);
                match o.get(name, &vals) {
                    Some(r) => r.map_err(|e| self.error(at, context, e.to_string())),
                    None => Err(self.error(
                        at,
                        context,
                        format!("can't evaluate field {name} in type {}", o.type_name()),
                    )),
                }
            }
            Value::Map(m) => {
                if !args.args.is_empty() || piped.is_some() {
                    return Err(self.error(
                        at,
                        context,
                        format!("{name} is not a method but has arguments"),
                    ));
                }
                Ok(m.get(name).cloned().unwrap_or_else(|| Value::str("")))
            }
            Value::Nil | Value::NoValue => Err(self.error(
                at,
                context,
                format!("nil pointer evaluating interface {{}}.{name}"),
            )),
            other => Err(self.error(
                at,
                context,
                format!("can't evaluate field {name} in type {}", other.type_name()),
            )),
        }
    }

    fn arg(&mut self, dot: &Value, at: Loc, arg: &Arg) -> Result<Value, ExecError> {
        let chain = |this: &mut Self, recv: Value, fields: &[String]| {
            this.field_chain(dot, at, &arg.describe(), recv, fields, Args::NONE, None)
        };
        Ok(match arg {
            Arg::Dot => dot.clone(),
            Arg::Nil => Value::Nil,
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Int(i, _) => Value::Int(*i),
            Arg::Float(f, _) => Value::Float(*f),
            Arg::Str(s) => Value::String(s.clone()),
            Arg::Field(fields) => chain(self, dot.clone(), fields)?,
            Arg::Var(name, fields) => {
                let v = self.var(at, name)?;
                chain(self, v, fields)?
            }
            Arg::Pipe(p) => self.pipeline(dot, p)?,
            Arg::Func(name) => self.function(dot, at, name, name, Args::NONE, None)?,
            Arg::Chain(inner, fields) => {
                let recv = self.arg(dot, at, inner)?;
                chain(self, recv, fields)?
            }
        })
    }

    /// Calls function `name`; `context` is the command as Go quotes it in errors
    /// (`parseDuration "soon"`).
    fn function(
        &mut self,
        dot: &Value,
        at: Loc,
        context: &str,
        name: &str,
        args: Args<'_>,
        piped: Option<Value>,
    ) -> Result<Value, ExecError> {
        // `and` and `or` stop at the first argument that decides (Go 1.18).
        if name == "and" || name == "or" {
            let n = args.args.len() + usize::from(piped.is_some());
            if n == 0 {
                return Err(self.error(
                    at,
                    context,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut last = Value::NoValue;
            for (a, loc) in args.args.iter().zip(args.locs) {
                last = self.arg(dot, *loc, a)?;
                if last.is_true() == (name == "or") {
                    return Ok(last);
                }
            }
            if let Some(p) = piped {
                last = p;
            }
            return Ok(last);
        }
        let f = self.set.funcs.get(name).cloned().ok_or_else(|| {
            self.error(at, context, format!("{name:?} is not a defined function"))
        })?;
        let mut vals = self.args(dot, args)?;
        vals.extend(piped);
        let result = match self.extra.and_then(|x| x.call(self.set, name, &vals)) {
            Some(r) => r,
            None => f(&vals),
        };
        result.map_err(|e| self.error(at, context, format!("error calling {name}: {e}")))
    }
}
