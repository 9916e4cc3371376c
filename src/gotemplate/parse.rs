//! Lexer and parser for Go's `text/template` syntax (`text/template/parse`): delimiters with
//! `{{-`/`-}}` trimming, comments, pipelines, variables, `if`/`else if`/`with`/`range`/`else`,
//! `break`/`continue`, `define`, `template` and `block`. What Go refuses at parse time is refused
//! here with the template's name and line: unknown functions, undefined variables, `break`
//! outside `range`, unclosed actions.

use std::collections::HashSet;
use std::sync::Arc;

use super::ParseError;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Text(String),
    Left,
    Right,
    Field(String),
    Var(String),
    Dot,
    Ident(String),
    Str(String),
    Num(String),
    /// A character constant's value and its text as written (`'a'`).
    Char(i64, String),
    Pipe,
    LParen,
    RParen,
    Comma,
    Declare,
    Assign,
    Space,
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    /// Byte offset of the token's start within its line (0 for text, which errors never
    /// place).
    col: usize,
}

/// Where a node starts, as Go's `ErrorContext` reports it in execution errors
/// (`name:line:col`): the 1-based line, and the byte offset within that line counted from 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loc {
    pub line: usize,
    pub col: usize,
}

/// One node of a parsed template.
#[derive(Debug, Clone)]
pub enum Node {
    Text(Arc<str>),
    Action(Pipe),
    If(Branch),
    With(Branch),
    Range(Branch),
    Template {
        at: Loc,
        name: String,
        pipe: Option<Pipe>,
    },
    Break(usize),
    Continue(usize),
}

/// `if`, `with` and `range`: the pipeline, the body, and the `else` body.
#[derive(Debug, Clone)]
pub struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

/// A pipeline: optional variable declarations, then commands joined by `|`.
#[derive(Debug, Clone)]
pub struct Pipe {
    /// Where its first token is.
    pub at: Loc,
    /// `=` (assign to existing variables) rather than `:=`.
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Cmd>,
}

/// One command of a pipeline: a function, method or field with its arguments, or an operand.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub args: Vec<Arg>,
    /// Where each argument starts, beside `args`.
    pub locs: Vec<Loc>,
}

/// An operand.
#[derive(Debug, Clone)]
pub enum Arg {
    Dot,
    Nil,
    Bool(bool),
    /// An integer constant and its text as written (error messages quote the text).
    Int(i64, Arc<str>),
    /// A float constant and its text as written.
    Float(f64, Arc<str>),
    Str(Arc<str>),
    /// `.A.B`: fields (or methods) of dot.
    Field(Vec<String>),
    /// `$x.A.B`.
    Var(String, Vec<String>),
    /// A function name.
    Func(String),
    /// `( pipeline )`.
    Pipe(Box<Pipe>),
    /// `(pipeline).A.B`.
    Chain(Box<Arg>, Vec<String>),
}

impl Arg {
    /// Go's text for the operand, as error messages quote it (`<.Labels.x>`).
    pub fn describe(&self) -> String {
        match self {
            Arg::Dot => ".".into(),
            Arg::Nil => "nil".into(),
            Arg::Bool(b) => b.to_string(),
            Arg::Int(_, text) | Arg::Float(_, text) => text.to_string(),
            Arg::Str(s) => super::fmt::quote(s),
            Arg::Field(f) => f.iter().map(|s| format!(".{s}")).collect(),
            Arg::Var(v, f) => format!(
                "{v}{}",
                f.iter().map(|s| format!(".{s}")).collect::<String>()
            ),
            Arg::Func(n) => n.clone(),
            Arg::Pipe(p) => format!("({})", p.describe()),
            Arg::Chain(a, f) => format!(
                "{}{}",
                a.describe(),
                f.iter().map(|s| format!(".{s}")).collect::<String>()
            ),
        }
    }
}

impl Cmd {
    /// Go's `CommandNode.String()`: the operands, space-separated (`humanize $value`).
    pub fn describe(&self) -> String {
        self.args
            .iter()
            .map(Arg::describe)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Pipe {
    /// Go's `PipeNode.String()`: declarations, then the commands joined by ` | `.
    pub fn describe(&self) -> String {
        let cmds = self
            .cmds
            .iter()
            .map(Cmd::describe)
            .collect::<Vec<_>>()
            .join(" | ");
        if self.decl.is_empty() {
            cmds
        } else {
            let op = if self.is_assign { "=" } else { ":=" };
            format!("{} {op} {cmds}", self.decl.join(", "))
        }
    }
}

/// A parsed file: its top-level body and the templates it defines, in order.
pub struct Parsed {
    pub body: Vec<Node>,
    pub defines: Vec<(String, Vec<Node>)>,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Lexer<'a> {
    name: &'a str,
    src: &'a str,
    pos: usize,
    line: usize,
    /// Where the token being lexed starts.
    tok_start: usize,
    /// Where the current line starts.
    line_start: usize,
    out: Vec<Token>,
}

impl<'a> Lexer<'a> {
    fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError {
            name: self.name.to_string(),
            line: self.line,
            message: msg.into(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn push(&mut self, tok: Tok) {
        let col = self.col_of(self.tok_start);
        self.out.push(Token {
            tok,
            line: self.line,
            col,
        });
    }

    /// The column of `pos`, on the current line or the one before it was left (a token
    /// spanning lines is placed at its start).
    fn col_of(&self, pos: usize) -> usize {
        if pos >= self.line_start {
            pos - self.line_start
        } else {
            pos - self.src[..pos].rfind('\n').map_or(0, |i| i + 1)
        }
    }

    fn advance(&mut self, n: usize) {
        let skipped = &self.src[self.pos..self.pos + n];
        self.line += skipped.matches('\n').count();
        if let Some(i) = skipped.rfind('\n') {
            self.line_start = self.pos + i + 1;
        }
        self.pos += n;
    }

    /// `}}` or ` -}}` at the current position: (length, trims).
    fn at_right(&self) -> Option<(usize, bool)> {
        let r = self.rest();
        let mut chars = r.chars();
        if let (Some(c), Some('-')) = (chars.next(), chars.next())
            && is_space(c)
            && r[c.len_utf8() + 1..].starts_with("}}")
        {
            return Some((c.len_utf8() + 3, true));
        }
        r.starts_with("}}").then_some((2, false))
    }

    fn run(mut self) -> Result<Vec<Token>, ParseError> {
        let mut trim_next = false;
        loop {
            let rest = self.rest();
            let (text_len, found) = match rest.find("{{") {
                Some(i) => (i, true),
                None => (rest.len(), false),
            };
            let mut text = &rest[..text_len];
            if trim_next {
                text = text.trim_start_matches(is_space);
            }
            let trim_left = found && {
                let after = &rest[text_len + 2..];
                let mut c = after.chars();
                c.next() == Some('-') && c.next().is_some_and(is_space)
            };
            if trim_left {
                text = text.trim_end_matches(is_space);
            }
            if !text.is_empty() {
                // The text's line is where it starts, after any trimmed space.
                let skipped = text.as_ptr() as usize - rest.as_ptr() as usize;
                let before = rest[..skipped].matches('\n').count();
                self.out.push(Token {
                    tok: Tok::Text(text.to_string()),
                    line: self.line + before,
                    col: 0,
                });
            }
            self.advance(text_len);
            if !found {
                self.tok_start = self.pos;
                self.push(Tok::Eof);
                return Ok(self.out);
            }
            self.advance(2);
            if trim_left {
                self.advance(1);
            }
            // A comment: `{{/* … */}}`, with optional trim markers.
            let r = self.rest();
            let ws = r.len() - r.trim_start_matches(is_space).len();
            if r[if trim_left { ws } else { 0 }..].starts_with("/*") {
                if trim_left {
                    self.advance(ws);
                }
                let end = self
                    .rest()
                    .find("*/")
                    .ok_or_else(|| self.err("unclosed comment"))?;
                self.advance(end + 2);
                match self.at_right() {
                    Some((n, trim)) => {
                        self.advance(n);
                        trim_next = trim;
                    }
                    None => return Err(self.err("comment ends before closing delimiter")),
                }
                continue;
            }
            self.tok_start = self.pos;
            self.push(Tok::Left);
            trim_next = self.inside_action()?;
        }
    }

    /// Lexes one action up to its right delimiter; returns whether it trims what follows.
    fn inside_action(&mut self) -> Result<bool, ParseError> {
        let mut depth = 0usize;
        loop {
            self.tok_start = self.pos;
            if let Some((n, trim)) = self.at_right() {
                if depth > 0 {
                    return Err(self.err("unclosed left paren"));
                }
                self.advance(n);
                self.push(Tok::Right);
                return Ok(trim);
            }
            let r = self.rest();
            let Some(c) = r.chars().next() else {
                return Err(self.err("unclosed action"));
            };
            match c {
                c if is_space(c) => {
                    let mut n = 0;
                    for ch in r.chars() {
                        if !is_space(ch) {
                            break;
                        }
                        // Leave ` -}}` to the delimiter check.
                        if r[n + ch.len_utf8()..].starts_with("-}}") {
                            break;
                        }
                        n += ch.len_utf8();
                    }
                    // at_right took ` -}}`, so at least the first space is ours.
                    self.advance(n.max(c.len_utf8()));
                    self.push(Tok::Space);
                }
                '=' => {
                    self.advance(1);
                    self.push(Tok::Assign);
                }
                ':' => {
                    if !r.starts_with(":=") {
                        return Err(self.err("expected :="));
                    }
                    self.advance(2);
                    self.push(Tok::Declare);
                }
                '|' => {
                    self.advance(1);
                    self.push(Tok::Pipe);
                }
                ',' => {
                    self.advance(1);
                    self.push(Tok::Comma);
                }
                '(' => {
                    depth += 1;
                    self.advance(1);
                    self.push(Tok::LParen);
                }
                ')' => {
                    if depth == 0 {
                        return Err(self.err("unexpected right paren"));
                    }
                    depth -= 1;
                    self.advance(1);
                    self.push(Tok::RParen);
                }
                '"' => {
                    let s = self.quoted()?;
                    self.push(Tok::Str(s));
                }
                '`' => {
                    let end = r[1..]
                        .find('`')
                        .ok_or_else(|| self.err("unterminated raw quoted string"))?;
                    let s = r[1..1 + end].replace('\r', "");
                    let line = self.line;
                    let col = self.col_of(self.tok_start);
                    self.advance(end + 2);
                    self.out.push(Token {
                        tok: Tok::Str(s),
                        line,
                        col,
                    });
                }
                '\'' => {
                    let start = self.pos;
                    let v = self.char_constant()?;
                    let text = self.src[start..self.pos].to_string();
                    self.push(Tok::Char(v, text));
                }
                '$' => {
                    let n = 1 + r[1..].find(|c: char| !is_alnum(c)).unwrap_or(r.len() - 1);
                    let name = r[..n].to_string();
                    self.advance(n);
                    self.push(Tok::Var(name));
                }
                '.' => {
                    let next = r[1..].chars().next();
                    if next.is_some_and(|c| c.is_ascii_digit()) {
                        self.number()?;
                    } else if next.is_some_and(is_alnum) {
                        let n = 1 + r[1..].find(|c: char| !is_alnum(c)).unwrap_or(r.len() - 1);
                        let name = r[1..n].to_string();
                        self.advance(n);
                        self.push(Tok::Field(name));
                    } else {
                        self.advance(1);
                        self.push(Tok::Dot);
                    }
                }
                '+' | '-' | '0'..='9' => self.number()?,
                c if is_alnum(c) => {
                    let n = r.find(|c: char| !is_alnum(c)).unwrap_or(r.len());
                    let word = r[..n].to_string();
                    self.advance(n);
                    self.push(Tok::Ident(word));
                }
                c => return Err(self.err(format!("unrecognized character in action: {c:?}"))),
            }
        }
    }

    fn quoted(&mut self) -> Result<String, ParseError> {
        let r = self.rest();
        let mut out = String::new();
        let mut it = r.char_indices().skip(1).peekable();
        while let Some((i, c)) = it.next() {
            match c {
                '"' => {
                    self.advance(i + 1);
                    return Ok(out);
                }
                '\n' => break,
                '\\' => {
                    let Some((_, e)) = it.next() else { break };
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'a' => out.push('\u{7}'),
                        'b' => out.push('\u{8}'),
                        'f' => out.push('\u{c}'),
                        'v' => out.push('\u{b}'),
                        '\\' => out.push('\\'),
                        '"' => out.push('"'),
                        '\'' => out.push('\''),
                        'x' | 'u' | 'U' => {
                            let n = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String =
                                (0..n).filter_map(|_| it.next().map(|(_, c)| c)).collect();
                            let v = u32::from_str_radix(&hex, 16)
                                .ok()
                                .filter(|_| hex.len() == n)
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.err("invalid syntax in quoted string"))?;
                            out.push(v);
                        }
                        '0'..='7' => {
                            let mut oct = e.to_string();
                            for _ in 0..2 {
                                if let Some((_, d)) = it.next() {
                                    oct.push(d);
                                }
                            }
                            let v = u32::from_str_radix(&oct, 8)
                                .ok()
                                .filter(|v| oct.len() == 3 && *v < 256)
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.err("invalid syntax in quoted string"))?;
                            out.push(v);
                        }
                        _ => return Err(self.err("invalid syntax in quoted string")),
                    }
                }
                c => out.push(c),
            }
        }
        Err(self.err("unterminated quoted string"))
    }

    fn char_constant(&mut self) -> Result<i64, ParseError> {
        let r = self.rest();
        let end = r[1..]
            .find('\'')
            .ok_or_else(|| self.err("unterminated character constant"))?;
        let body = &r[1..1 + end];
        let (body, end) = if body == "\\" {
            // `'\''`
            (&r[1..3], end + 1)
        } else {
            (body, end)
        };
        let v = if let Some(esc) = body.strip_prefix('\\') {
            match esc {
                "n" => '\n' as i64,
                "t" => '\t' as i64,
                "r" => '\r' as i64,
                "\\" => '\\' as i64,
                "'" => '\'' as i64,
                "0" => 0,
                _ => match esc.strip_prefix(['x', 'u', 'U']) {
                    Some(h) => i64::from_str_radix(h, 16)
                        .map_err(|_| self.err("invalid syntax in character constant"))?,
                    None => return Err(self.err("invalid syntax in character constant")),
                },
            }
        } else {
            let mut cs = body.chars();
            match (cs.next(), cs.next()) {
                (Some(c), None) => c as i64,
                _ => return Err(self.err("invalid syntax in character constant")),
            }
        };
        self.advance(end + 2);
        Ok(v)
    }

    fn number(&mut self) -> Result<(), ParseError> {
        let r = self.rest();
        let b = r.as_bytes();
        let mut i = 0;
        if matches!(b.first(), Some(b'+' | b'-')) {
            i += 1;
        }
        let hex = r[i..].starts_with("0x") || r[i..].starts_with("0X");
        if hex
            || r[i..].starts_with("0o")
            || r[i..].starts_with("0b")
            || r[i..].starts_with("0O")
            || r[i..].starts_with("0B")
        {
            i += 2;
        }
        while i < b.len() {
            let c = b[i] as char;
            let exp = if hex {
                matches!(c, 'p' | 'P')
            } else {
                matches!(c, 'e' | 'E')
            };
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                i += 1;
                if exp && matches!(b.get(i), Some(b'+' | b'-')) {
                    i += 1;
                }
            } else {
                break;
            }
        }
        let text = &r[..i];
        if text == "+" || text == "-" {
            return Err(self.err(format!("bad number syntax: {text:?}")));
        }
        let t = text.to_string();
        self.advance(i);
        self.push(Tok::Num(t));
        Ok(())
    }
}

/// Parses a number literal as Go's parser and `idealConstant` read it: integer syntax gives an
/// `int`; a `.`, an exponent or a hex float gives a `float64`.
fn number(text: &str) -> Option<Arg> {
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let clean = body.replace('_', "");
    let lower = clean.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        if h.contains(['.', 'p']) {
            None
        } else {
            i64::from_str_radix(h, 16).ok()
        }
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(bin) = lower.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else if lower.bytes().all(|c| c.is_ascii_digit()) {
        lower.parse().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Some(Arg::Int(if neg { -i } else { i }, text.into()));
    }
    // Integer syntax that does not fit an int, and hexadecimal floats, are refused.
    if lower.bytes().all(|c| c.is_ascii_digit()) || lower.starts_with("0x") {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    Some(Arg::Float(if neg { -f } else { f }, text.into()))
}

const KEYWORDS: &[&str] = &[
    "block", "break", "continue", "define", "else", "end", "if", "range", "template", "with",
];

/// Parentheses and control structures nested deeper than this are refused: the parser and the
/// executor recurse once per level on a thread's fixed stack.
pub const MAX_NESTING: usize = 50;

struct Parser<'a> {
    name: &'a str,
    toks: Vec<Token>,
    pos: usize,
    nesting: usize,
    funcs: &'a HashSet<String>,
    vars: Vec<String>,
    range_depth: usize,
    defines: Vec<(String, Vec<Node>)>,
}

/// What ended a list of nodes.
enum Stop {
    Eof,
    End,
    Else(usize),
}

impl<'a> Parser<'a> {
    fn line(&self) -> usize {
        self.toks.get(self.pos).map(|t| t.line).unwrap_or(0)
    }

    /// Where the next token that is not a space starts.
    fn loc_non_space(&self) -> Loc {
        self.toks[self.pos.min(self.toks.len() - 1)..]
            .iter()
            .find(|t| t.tok != Tok::Space)
            .map(|t| Loc {
                line: t.line,
                col: t.col,
            })
            .unwrap_or_default()
    }

    fn err(&self, msg: impl Into<String>) -> ParseError {
        ParseError {
            name: self.name.to_string(),
            line: self.line(),
            message: msg.into(),
        }
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].tok
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn skip_space(&mut self) {
        while *self.peek() == Tok::Space {
            self.pos += 1;
        }
    }

    fn next_non_space(&mut self) -> Tok {
        self.skip_space();
        self.next()
    }

    fn peek_non_space(&mut self) -> Tok {
        self.skip_space();
        self.peek().clone()
    }

    fn expect_right(&mut self, context: &str) -> Result<(), ParseError> {
        match self.next_non_space() {
            Tok::Right => Ok(()),
            t => Err(self.err(format!("unexpected {} in {context}", describe(&t)))),
        }
    }

    /// The body up to `{{end}}`, `{{else}}` or the end of input.
    fn list(&mut self, top: bool) -> Result<(Vec<Node>, Stop), ParseError> {
        let mut nodes = Vec::new();
        loop {
            match self.next() {
                Tok::Text(t) => nodes.push(Node::Text(t.into())),
                Tok::Eof => return Ok((nodes, Stop::Eof)),
                Tok::Left => {
                    let line = self.line();
                    let kw = match self.peek_non_space() {
                        Tok::Ident(w) if KEYWORDS.contains(&w.as_str()) => Some(w),
                        _ => None,
                    };
                    let Some(kw) = kw else {
                        let pipe = self.pipeline("command", false)?;
                        nodes.push(Node::Action(pipe));
                        continue;
                    };
                    self.next();
                    match kw.as_str() {
                        "end" => {
                            self.expect_right("end")?;
                            return Ok((nodes, Stop::End));
                        }
                        "else" => return Ok((nodes, Stop::Else(line))),
                        "if" => nodes.push(Node::If(self.control("if")?)),
                        "with" => nodes.push(Node::With(self.control("with")?)),
                        "range" => nodes.push(Node::Range(self.control("range")?)),
                        "break" | "continue" => {
                            if self.range_depth == 0 {
                                return Err(self.err(format!("{{{{{kw}}}}} outside {{{{range}}}}")));
                            }
                            self.expect_right(&kw)?;
                            nodes.push(if kw == "break" {
                                Node::Break(line)
                            } else {
                                Node::Continue(line)
                            });
                        }
                        "template" => {
                            let at = self.loc_non_space();
                            let (name, pipe) = self.template_call("template")?;
                            nodes.push(Node::Template { at, name, pipe });
                        }
                        "block" => {
                            let at = self.loc_non_space();
                            let (name, pipe) = self.template_call("block")?;
                            let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
                            let (body, end) = self.list(false)?;
                            self.vars = saved;
                            if !matches!(end, Stop::End) {
                                return Err(self.err("unexpected EOF in block clause"));
                            }
                            self.defines.push((name.clone(), body));
                            nodes.push(Node::Template { at, name, pipe });
                        }
                        "define" => {
                            if !top {
                                return Err(self.err("unexpected <define> in command"));
                            }
                            let name = match self.next_non_space() {
                                Tok::Str(s) => s,
                                t => {
                                    return Err(self.err(format!(
                                        "unexpected {} in define clause",
                                        describe(&t)
                                    )));
                                }
                            };
                            self.expect_right("define clause")?;
                            let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
                            let (body, end) = self.list(false)?;
                            self.vars = saved;
                            if !matches!(end, Stop::End) {
                                return Err(self.err("unexpected EOF in define clause"));
                            }
                            self.defines.push((name, body));
                        }
                        _ => return Err(self.err(format!("unexpected <{kw}>"))),
                    }
                }
                t => return Err(self.err(format!("unexpected {}", describe(&t)))),
            }
        }
    }

    fn template_call(&mut self, context: &str) -> Result<(String, Option<Pipe>), ParseError> {
        let name = match self.next_non_space() {
            Tok::Str(s) => s,
            t => {
                return Err(self.err(format!("unexpected {} in {context} clause", describe(&t))));
            }
        };
        if self.peek_non_space() == Tok::Right {
            self.next();
            return Ok((name, None));
        }
        let pipe = self.pipeline(context, false)?;
        Ok((name, Some(pipe)))
    }

    fn control(&mut self, context: &str) -> Result<Branch, ParseError> {
        self.nest()?;
        let b = self.control_body(context);
        self.nesting -= 1;
        b
    }

    fn nest(&mut self) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            self.nesting -= 1;
            return Err(self.err(format!("nested deeper than {MAX_NESTING} levels")));
        }
        Ok(())
    }

    fn control_body(&mut self, context: &str) -> Result<Branch, ParseError> {
        let mark = self.vars.len();
        let pipe = self.pipeline(context, context == "range")?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.list(false)?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            Stop::End => None,
            Stop::Eof => return Err(self.err(format!("unexpected EOF in {context}"))),
            Stop::Else(_) => {
                // `{{else if …}}` and `{{else with …}}` chain into one `{{end}}`.
                let chained = match self.peek_non_space() {
                    Tok::Ident(w) if (w == "if" || w == "with") && context != "range" => Some(w),
                    _ => None,
                };
                if let Some(kw) = chained {
                    self.next();
                    let inner = self.control(&kw)?;
                    Some(vec![if kw == "if" {
                        Node::If(inner)
                    } else {
                        Node::With(inner)
                    }])
                } else {
                    self.expect_right("else")?;
                    let (else_list, end) = self.list(false)?;
                    match end {
                        Stop::End => Some(else_list),
                        Stop::Else(_) => return Err(self.err("expected end; found {{else}}")),
                        Stop::Eof => return Err(self.err(format!("unexpected EOF in {context}"))),
                    }
                }
            }
        };
        self.vars.truncate(mark);
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    /// A pipeline up to `}}` (or `)` when `in_paren`).
    fn pipeline(&mut self, context: &str, allow_two: bool) -> Result<Pipe, ParseError> {
        self.pipeline_until(context, allow_two, false)
    }

    fn pipeline_until(
        &mut self,
        context: &str,
        allow_two: bool,
        in_paren: bool,
    ) -> Result<Pipe, ParseError> {
        let at = self.loc_non_space();
        let mut decl = Vec::new();
        let mut is_assign = false;
        // Declarations: `$x :=`, `$x =`, `$i, $e :=` (range only).
        let start = self.pos;
        if let Tok::Var(v) = self.peek_non_space() {
            self.next();
            match self.peek_non_space() {
                Tok::Declare | Tok::Assign => {
                    is_assign = self.next() == Tok::Assign;
                    decl.push(v);
                }
                Tok::Comma if allow_two => {
                    self.next();
                    match self.next_non_space() {
                        Tok::Var(v2) => match self.next_non_space() {
                            t @ (Tok::Declare | Tok::Assign) => {
                                is_assign = t == Tok::Assign;
                                decl.push(v);
                                decl.push(v2);
                            }
                            t => {
                                return Err(
                                    self.err(format!("unexpected {} in {context}", describe(&t)))
                                );
                            }
                        },
                        t => {
                            return Err(
                                self.err(format!("unexpected {} in {context}", describe(&t)))
                            );
                        }
                    }
                }
                Tok::Comma => return Err(self.err(format!("too many declarations in {context}"))),
                _ => self.pos = start,
            }
        }
        if is_assign {
            for v in &decl {
                if !self.vars.contains(v) {
                    return Err(self.err(format!("undefined variable {v:?}")));
                }
            }
        }
        let mut cmds = Vec::new();
        loop {
            match self.peek_non_space() {
                Tok::Right if !in_paren => {
                    self.next();
                    break;
                }
                Tok::RParen if in_paren => {
                    self.next();
                    break;
                }
                Tok::Pipe if !cmds.is_empty() => {
                    self.next();
                    if matches!(self.peek_non_space(), Tok::Right | Tok::RParen | Tok::Pipe) {
                        return Err(self.err("missing command after |"));
                    }
                }
                Tok::Right | Tok::RParen | Tok::Pipe | Tok::Eof => {
                    return Err(self.err(format!("missing value for {context}")));
                }
                _ => {
                    if !cmds.is_empty()
                        && !matches!(self.toks[self.pos - 1].tok, Tok::Pipe | Tok::Space)
                    {
                        return Err(self.err(format!("unexpected operand in {context}")));
                    }
                    cmds.push(self.command()?);
                }
            }
        }
        if cmds.is_empty() {
            return Err(self.err(format!("missing value for {context}")));
        }
        // Go: a stage after the first must be something that can take the piped value.
        for (i, c) in cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool(_)
                        | Arg::Dot
                        | Arg::Nil
                        | Arg::Int(..)
                        | Arg::Float(..)
                        | Arg::Str(_)
                )
            ) {
                return Err(self.err(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        if !is_assign {
            for v in &decl {
                self.vars.push(v.clone());
            }
        }
        Ok(Pipe {
            at,
            is_assign,
            decl,
            cmds,
        })
    }

    fn command(&mut self) -> Result<Cmd, ParseError> {
        let mut args = Vec::new();
        let mut locs = Vec::new();
        loop {
            self.skip_space();
            let start = self.loc_non_space();
            let (arg, fields_at) = self.operand()?;
            // Go places `$x.A` and `(…).A` where their first field starts.
            locs.push(match (&arg, fields_at) {
                (Arg::Var(..) | Arg::Chain(..), Some(at)) => at,
                _ => start,
            });
            args.push(arg);
            match self.peek() {
                Tok::Space => {
                    self.skip_space();
                    if matches!(self.peek(), Tok::Right | Tok::RParen | Tok::Pipe) {
                        break;
                    }
                }
                Tok::Right | Tok::RParen | Tok::Pipe => break,
                t => {
                    let t = t.clone();
                    return Err(self.err(format!("unexpected {} in operand", describe(&t))));
                }
            }
        }
        Ok(Cmd { args, locs })
    }

    /// An operand, and where its trailing fields start, when it has any.
    fn operand(&mut self) -> Result<(Arg, Option<Loc>), ParseError> {
        let term = self.term()?;
        let fields_at = self.loc_non_space();
        let mut fields = Vec::new();
        while let Tok::Field(f) = self.peek().clone() {
            self.next();
            fields.push(f);
        }
        if fields.is_empty() {
            return Ok((term, None));
        }
        let arg = match term {
            Arg::Field(mut f) => {
                f.extend(fields);
                Arg::Field(f)
            }
            Arg::Var(v, mut f) => {
                f.extend(fields);
                Arg::Var(v, f)
            }
            Arg::Bool(_) | Arg::Str(_) | Arg::Int(..) | Arg::Float(..) | Arg::Nil | Arg::Dot => {
                return Err(self.err(format!("unexpected . after term {:?}", term.describe())));
            }
            other => Arg::Chain(Box::new(other), fields),
        };
        Ok((arg, Some(fields_at)))
    }

    fn term(&mut self) -> Result<Arg, ParseError> {
        match self.next() {
            Tok::Ident(w) => match w.as_str() {
                "true" => Ok(Arg::Bool(true)),
                "false" => Ok(Arg::Bool(false)),
                "nil" => Ok(Arg::Nil),
                _ if KEYWORDS.contains(&w.as_str()) => {
                    Err(self.err(format!("unexpected <{w}> in command")))
                }
                _ if !self.funcs.contains(&w) => {
                    Err(self.err(format!("function {w:?} not defined")))
                }
                _ => Ok(Arg::Func(w)),
            },
            Tok::Dot => Ok(Arg::Dot),
            Tok::Var(v) => {
                if !self.vars.contains(&v) {
                    return Err(self.err(format!("undefined variable {v:?}")));
                }
                Ok(Arg::Var(v, Vec::new()))
            }
            Tok::Field(f) => Ok(Arg::Field(vec![f])),
            Tok::Str(s) => Ok(Arg::Str(s.into())),
            Tok::Char(c, text) => Ok(Arg::Int(c, text.into())),
            Tok::Num(n) => number(&n).ok_or_else(|| self.err(format!("bad number syntax: {n:?}"))),
            Tok::LParen => {
                self.nest()?;
                let p = self.pipeline_until("parenthesized pipeline", false, true);
                self.nesting -= 1;
                Ok(Arg::Pipe(Box::new(p?)))
            }
            t => Err(self.err(format!("unexpected {} in operand", describe(&t)))),
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Text(_) => "text".into(),
        Tok::Left => "\"{{\"".into(),
        Tok::Right => "\"}}\"".into(),
        Tok::Field(f) => format!("<.{f}>"),
        Tok::Var(v) => format!("<{v}>"),
        Tok::Dot => "<.>".into(),
        Tok::Ident(w) => format!("<{w}>"),
        Tok::Str(s) => super::fmt::quote(s),
        Tok::Num(n) => format!("<{n}>"),
        Tok::Char(_, text) => format!("<{text}>"),
        Tok::Pipe => "\"|\"".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Space => "space".into(),
        Tok::Eof => "EOF".into(),
    }
}

/// Parses `src` (named `name` in errors). `funcs` are the function names in scope: a call to
/// any other name is refused here, as Go refuses it.
pub fn parse(name: &str, src: &str, funcs: &HashSet<String>) -> Result<Parsed, ParseError> {
    let toks = Lexer {
        name,
        src,
        pos: 0,
        line: 1,
        tok_start: 0,
        line_start: 0,
        out: Vec::new(),
    }
    .run()?;
    let mut p = Parser {
        name,
        toks,
        pos: 0,
        nesting: 0,
        funcs,
        vars: vec!["$".into()],
        range_depth: 0,
        defines: Vec::new(),
    };
    let (body, end) = p.list(true)?;
    match end {
        Stop::Eof => Ok(Parsed {
            body,
            defines: p.defines,
        }),
        Stop::End => Err(p.err("unexpected {{end}}")),
        Stop::Else(line) => Err(ParseError {
            name: name.to_string(),
            line,
            message: "unexpected {{else}}".into(),
        }),
    }
}
