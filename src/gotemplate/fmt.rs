//! Go's `fmt` printing as templates use it: `print`, `println`, `printf` and `%v`, with Go's
//! verbs, flags, width and precision, its float formatting (`strconv.FormatFloat`: `1e+06`,
//! `+Inf`) and its in-band error markers (`%!d(string=x)`, `%!v(MISSING)`,
//! `%!(EXTRA int=1)`).

use super::value::Value;

/// The flags, width and precision of one verb.
#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Widths and precisions above this are refused as `%!(BADWIDTH)`/`%!(BADPREC)` (Go's limit is
/// 1e6; a template has no use for more than this and a huge one only makes huge text).
const MAX_WIDTH: usize = 10_000;

/// Decimal digits of |v| and the decimal point position: |v| = 0.d1d2d3… × 10^dp.
struct Digits {
    d: Vec<u8>,
    dp: i32,
}

fn digits_from_sci(s: &str) -> Digits {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    while d.last() == Some(&b'0') {
        d.pop();
    }
    if d.is_empty() {
        return Digits { d, dp: 0 };
    }
    Digits { d, dp: exp + 1 }
}

/// Shortest digits that read back as `v` (what Go's precision -1 gives).
fn shortest(v: f64) -> Digits {
    digits_from_sci(&format!("{:e}", v.abs()))
}

/// `v` rounded to `n` significant digits, trailing zeros dropped (Go rounds the exact decimal
/// expansion, half to even, as Rust's formatting does).
fn significant(v: f64, n: usize) -> Digits {
    digits_from_sci(&format!("{:.*e}", n.saturating_sub(1), v.abs()))
}

fn digit(d: &Digits, i: i32) -> u8 {
    if i >= 0 && (i as usize) < d.d.len() {
        d.d[i as usize]
    } else {
        b'0'
    }
}

/// `%e`: d.ddde±dd with `prec` decimals.
fn fmt_e(d: &Digits, prec: usize, upper: bool) -> String {
    let mut s = String::new();
    s.push(digit(d, 0) as char);
    if prec > 0 {
        s.push('.');
        for i in 1..=prec {
            s.push(digit(d, i as i32) as char);
        }
    }
    let exp = if d.d.is_empty() { 0 } else { d.dp - 1 };
    s.push(if upper { 'E' } else { 'e' });
    s.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        s.push('0');
    }
    s.push_str(&a.to_string());
    s
}

/// `%f` from digits: integer part, then `prec` decimals.
fn fmt_f(d: &Digits, prec: usize) -> String {
    let mut s = String::new();
    if d.dp > 0 {
        for i in 0..d.dp {
            s.push(digit(d, i) as char);
        }
    } else {
        s.push('0');
    }
    if prec > 0 {
        s.push('.');
        for i in 1..=prec as i32 {
            s.push(digit(d, d.dp + i - 1) as char);
        }
    }
    s
}

/// Go's `strconv.FormatFloat(v, verb, prec, 64)` for verbs `e`, `E`, `f`, `F`, `g`, `G`
/// (`prec` `None` = shortest), with Go's `+Inf`, `-Inf` and `NaN`. `sharp` is `%#g`: keep
/// trailing zeros.
pub fn format_float(v: f64, verb: char, prec: Option<usize>, sharp: bool) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let neg = v.is_sign_negative();
    let body = match verb {
        'e' | 'E' => {
            let (d, p) = match prec {
                Some(p) => (significant(v, p + 1), p),
                None => {
                    let d = shortest(v);
                    let p = d.d.len().saturating_sub(1);
                    (d, p)
                }
            };
            fmt_e(&d, p, verb == 'E')
        }
        'f' | 'F' => match prec {
            Some(p) => format!("{:.*}", p, v.abs()),
            None => {
                let d = shortest(v);
                let p = (d.d.len() as i32 - d.dp).max(0) as usize;
                fmt_f(&d, p)
            }
        },
        _ => {
            let is_shortest = prec.is_none();
            let (d, mut p) = match prec {
                None => {
                    let d = shortest(v);
                    let n = d.d.len();
                    (d, n)
                }
                Some(p) => {
                    let p = p.max(1);
                    (significant(v, p), p)
                }
            };
            let nd = d.d.len();
            let mut eprec = p as i32;
            if eprec > nd as i32 && nd as i32 >= d.dp {
                eprec = nd as i32;
            }
            if sharp {
                eprec = p as i32;
            }
            if is_shortest {
                eprec = 6;
            }
            let exp = if nd == 0 { -1 } else { d.dp - 1 };
            if nd > 0 && (exp < -4 || exp >= eprec) {
                if !sharp && p > nd {
                    p = nd;
                }
                fmt_e(&d, p.saturating_sub(1), verb == 'G')
            } else {
                if !sharp && p as i32 > d.dp {
                    p = nd;
                }
                fmt_f(&d, (p as i32 - d.dp).max(0) as usize)
            }
        }
    };
    if neg { format!("-{body}") } else { body }
}

/// Go's `strconv.Quote`: a double-quoted string with Go escapes; printable Unicode is kept.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() || c == '\u{feff}' => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `fmt.Sprint`: operands' `%v`, with a space between two operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, a) in args.iter().enumerate() {
        let is_string = matches!(a, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        print_value(&mut out, a, 'v', &Spec::default());
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprintln`: operands' `%v` separated by spaces, and a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print_value(&mut out, a, 'v', &Spec::default());
    }
    out.push('\n');
    out
}

/// `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    let mut argn = 0;
    let mut reordered = false;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        i += 1;
        let mut spec = Spec::default();
        while i < chars.len() {
            match chars[i] {
                '-' => {
                    spec.minus = true;
                    spec.zero = false;
                }
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = !spec.minus,
                _ => break,
            }
            i += 1;
        }
        // Argument index, width.
        let mut bad_index = false;
        let mut take_index = |i: &mut usize, argn: &mut usize| {
            if *i < chars.len() && chars[*i] == '[' {
                reordered = true;
                let start = *i + 1;
                let end = chars[start..].iter().position(|&c| c == ']');
                match end.map(|e| chars[start..start + e].iter().collect::<String>()) {
                    Some(n) => {
                        *i = start + n.len() + 1;
                        match n.parse::<usize>() {
                            Ok(k) if k >= 1 && k <= args.len() => *argn = k - 1,
                            _ => bad_index = true,
                        }
                    }
                    None => {
                        *i = chars.len();
                        bad_index = true;
                    }
                }
            }
        };
        take_index(&mut i, &mut argn);
        if i < chars.len() && chars[i] == '*' {
            i += 1;
            match args.get(argn) {
                Some(Value::Int(w)) if w.unsigned_abs() as usize <= MAX_WIDTH => {
                    if *w < 0 {
                        spec.minus = true;
                        spec.zero = false;
                    }
                    spec.width = Some(w.unsigned_abs() as usize);
                }
                _ => out.push_str("%!(BADWIDTH)"),
            }
            argn += 1;
        } else {
            let (n, next) = number(&chars, i);
            if let Some(n) = n {
                if n > MAX_WIDTH {
                    out.push_str("%!(BADWIDTH)");
                } else {
                    spec.width = Some(n);
                }
            }
            i = next;
        }
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            take_index(&mut i, &mut argn);
            if i < chars.len() && chars[i] == '*' {
                i += 1;
                match args.get(argn) {
                    Some(Value::Int(p)) if *p >= 0 && *p as usize <= MAX_WIDTH => {
                        spec.precision = Some(*p as usize)
                    }
                    _ => out.push_str("%!(BADPREC)"),
                }
                argn += 1;
            } else {
                let (n, next) = number(&chars, i);
                match n {
                    Some(n) if n > MAX_WIDTH => out.push_str("%!(BADPREC)"),
                    n => spec.precision = Some(n.unwrap_or(0)),
                }
                i = next;
            }
        }
        take_index(&mut i, &mut argn);
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        if bad_index {
            out.push_str(&format!("%!{verb}(BADINDEX)"));
            continue;
        }
        match args.get(argn) {
            None => out.push_str(&format!("%!{verb}(MISSING)")),
            Some(a) => {
                print_value(&mut out, a, verb, &spec);
                argn += 1;
            }
        }
    }
    if !reordered && argn < args.len() {
        out.push_str("%!(EXTRA ");
        for (k, a) in args[argn..].iter().enumerate() {
            if k > 0 {
                out.push_str(", ");
            }
            if matches!(a, Value::Nil) {
                out.push_str("<nil>");
            } else {
                out.push_str(a.type_name());
                out.push('=');
                print_value(&mut out, a, 'v', &Spec::default());
            }
        }
        out.push(')');
    }
    out
}

fn number(chars: &[char], mut i: usize) -> (Option<usize>, usize) {
    let start = i;
    let mut n: usize = 0;
    while i < chars.len() && chars[i].is_ascii_digit() {
        n = n
            .saturating_mul(10)
            .saturating_add(chars[i] as usize - '0' as usize);
        i += 1;
    }
    ((i > start).then_some(n), i)
}

fn pad(out: &mut String, s: &str, spec: &Spec) {
    let width = spec.width.unwrap_or(0);
    let len = s.chars().count();
    if len >= width {
        out.push_str(s);
        return;
    }
    let fill = width - len;
    if spec.minus {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    } else {
        let c = if spec.zero { '0' } else { ' ' };
        out.extend(std::iter::repeat_n(c, fill));
        out.push_str(s);
    }
}

/// Pads a signed number: with `0`, the zeros go between the sign and the digits.
fn pad_number(out: &mut String, sign: &str, digits: &str, spec: &Spec) {
    let width = spec.width.unwrap_or(0);
    let len = sign.len() + digits.chars().count();
    if spec.zero && !spec.minus && width > len {
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', width - len));
        out.push_str(digits);
    } else {
        let s = format!("{sign}{digits}");
        let unzeroed = Spec {
            zero: false,
            ..*spec
        };
        pad(out, &s, &unzeroed);
    }
}

fn bad_verb(out: &mut String, v: &Value, verb: char) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    match v {
        Value::Nil | Value::NoValue => out.push_str("<nil>"),
        _ => {
            out.push_str(v.type_name());
            out.push('=');
            print_value(out, v, 'v', &Spec::default());
        }
    }
    out.push(')');
}

fn print_value(out: &mut String, v: &Value, verb: char, spec: &Spec) {
    if verb == 'T' {
        return pad(out, v.type_name(), spec);
    }
    if verb == 'v'
        && spec.sharp
        && let Value::String(s) = v
    {
        // `%#v`: Go syntax.
        return pad(out, &quote(s), spec);
    }
    match v {
        Value::Nil => match verb {
            'v' => pad(out, "<nil>", spec),
            _ => bad_verb(out, v, verb),
        },
        Value::NoValue => pad(out, "<no value>", spec),
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, spec),
            _ => bad_verb(out, v, verb),
        },
        Value::Int(i) => print_int(out, *i, verb, spec, v),
        Value::Float(f) => print_float(out, *f, verb, spec, v),
        Value::String(s) => print_string(out, s, verb, spec, v),
        Value::List(l) => print_list(out, l, verb, spec),
        Value::Map(m) => print_map(out, m, verb, spec),
        Value::Object(o) => {
            if let Some(s) = o.string_method()
                && matches!(verb, 'v' | 's' | 'q' | 'x' | 'X')
            {
                print_string(out, &s, verb, spec, v);
            } else if let Some(l) = o.as_list() {
                print_list(out, &l, verb, spec);
            } else if let Some(m) = o.as_map() {
                print_map(out, &m, verb, spec);
            } else if verb == 'v' || verb == 's' {
                let mut s = String::new();
                o.format_v(&mut s);
                pad(out, &s, spec);
            } else {
                bad_verb(out, v, verb);
            }
        }
    }
}

fn print_list(out: &mut String, l: &[Value], verb: char, spec: &Spec) {
    out.push('[');
    for (i, e) in l.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print_value(out, e, verb, spec);
    }
    out.push(']');
}

fn print_map(
    out: &mut String,
    m: &std::collections::BTreeMap<String, Value>,
    verb: char,
    spec: &Spec,
) {
    out.push_str("map[");
    for (i, (k, e)) in m.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print_string(out, k, verb, spec, &Value::str(k.as_str()));
        out.push(':');
        print_value(out, e, verb, spec);
    }
    out.push(']');
}

fn print_int(out: &mut String, i: i64, verb: char, spec: &Spec, v: &Value) {
    let sign = if i < 0 {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let u = i.unsigned_abs();
    let (digits, prefix) = match verb {
        'd' | 'v' => (u.to_string(), ""),
        'b' => (format!("{u:b}"), "0b"),
        'o' => (format!("{u:o}"), "0"),
        'O' => (format!("{u:o}"), "0o"),
        'x' => (format!("{u:x}"), "0x"),
        'X' => (format!("{u:X}"), "0X"),
        'c' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            return pad(out, &c.to_string(), spec);
        }
        'q' => {
            let c = u32::try_from(i)
                .ok()
                .and_then(char::from_u32)
                .unwrap_or('\u{FFFD}');
            let q = quote(&c.to_string());
            let inner = &q[1..q.len() - 1];
            let inner = if inner == "'" { "\\'" } else { inner };
            return pad(out, &format!("'{}'", inner.replace("\\\"", "\"")), spec);
        }
        'U' => {
            return pad(out, &format!("U+{u:04X}"), spec);
        }
        _ => return bad_verb(out, v, verb),
    };
    let mut digits = digits;
    if let Some(p) = spec.precision {
        if p == 0 && u == 0 {
            digits.clear();
        } else if digits.len() < p {
            digits = format!("{}{digits}", "0".repeat(p - digits.len()));
        }
    }
    let prefix = if spec.sharp || verb == 'O' {
        prefix
    } else {
        ""
    };
    let head = format!("{sign}{prefix}");
    let spec = Spec {
        zero: spec.zero && spec.precision.is_none(),
        ..*spec
    };
    pad_number(out, &head, &digits, &spec);
}

fn print_float(out: &mut String, f: f64, verb: char, spec: &Spec, v: &Value) {
    let (fverb, prec) = match verb {
        'v' => ('g', spec.precision),
        'g' | 'G' => (verb, spec.precision),
        'e' | 'E' | 'f' | 'F' => (verb, Some(spec.precision.unwrap_or(6))),
        'x' | 'X' => (verb, None),
        _ => return bad_verb(out, v, verb),
    };
    let mut num = if matches!(verb, 'x' | 'X') {
        hex_float(f, verb == 'X')
    } else {
        format_float(f, fverb, prec, spec.sharp)
    };
    if spec.sharp && !num.contains('.') && !f.is_nan() && !f.is_infinite() {
        // `%#g` and `%#e` always have a decimal point.
        match num.find(['e', 'E']) {
            Some(e) => num.insert(e, '.'),
            None => num.push('.'),
        }
    }
    // The sign strconv wrote (`-`, or `+` of `+Inf`), else the one the flags ask for.
    let flag_sign = if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    };
    let (sign, digits) = match (num.strip_prefix('-'), num.strip_prefix('+')) {
        (Some(d), _) => ("-", d.to_string()),
        (None, Some(d)) => ("+", d.to_string()),
        (None, None) => (flag_sign, num.clone()),
    };
    if f.is_nan() || f.is_infinite() {
        let s = format!("{sign}{digits}");
        let spec = Spec {
            zero: false,
            ..*spec
        };
        return pad(out, &s, &spec);
    }
    pad_number(out, sign, &digits, spec);
}

/// `strconv.FormatFloat(f, 'x', -1, 64)`: `0x1.cp+01`, the shortest hexadecimal mantissa;
/// `%X` in capitals.
fn hex_float(f: f64, upper: bool) -> String {
    let s = if f.is_nan() {
        "NaN".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        let sign = if f.is_sign_negative() { "-" } else { "" };
        let bits = f.to_bits();
        let (mut mant, mut exp) = (bits & ((1 << 52) - 1), ((bits >> 52) & 0x7ff) as i64);
        if f == 0.0 {
            exp = 0;
        } else if exp == 0 {
            // Subnormal: normalise so the leading digit is 1.
            exp = -1022;
            while mant & (1 << 52) == 0 {
                mant <<= 1;
                exp -= 1;
            }
            mant &= (1 << 52) - 1;
        } else {
            exp -= 1023;
        }
        let lead = if f == 0.0 { '0' } else { '1' };
        let digits = format!("{mant:013x}");
        let digits = digits.trim_end_matches('0');
        let frac = if digits.is_empty() {
            String::new()
        } else {
            format!(".{digits}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}0x{lead}{frac}p{esign}{:02}", exp.abs())
    };
    if upper { s.to_uppercase() } else { s }
}

fn print_string(out: &mut String, s: &str, verb: char, spec: &Spec, v: &Value) {
    match verb {
        'v' | 's' => {
            let s: String = match spec.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s.to_string(),
            };
            pad(out, &s, spec)
        }
        'q' => {
            let s: String = match spec.precision {
                Some(p) => s.chars().take(p).collect(),
                None => s.to_string(),
            };
            if spec.sharp && !s.contains('`') && !s.chars().any(|c| c.is_control() && c != '\t') {
                pad(out, &format!("`{s}`"), spec)
            } else {
                pad(out, &quote(&s), spec)
            }
        }
        'x' | 'X' => {
            let bytes = s.as_bytes();
            let bytes = match spec.precision {
                Some(p) => &bytes[..p.min(bytes.len())],
                None => bytes,
            };
            let mut h = String::new();
            for (i, b) in bytes.iter().enumerate() {
                if spec.space && i > 0 {
                    h.push(' ');
                }
                if spec.sharp && (spec.space || i == 0) {
                    h.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                if verb == 'x' {
                    h.push_str(&format!("{b:02x}"));
                } else {
                    h.push_str(&format!("{b:02X}"));
                }
            }
            pad(out, &h, spec)
        }
        _ => bad_verb(out, v, verb),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> String {
        format_float(v, 'g', None, false)
    }

    #[test]
    fn floats_print_as_go_prints_them_under_v() {
        assert_eq!(f(1e6), "1e+06");
        assert_eq!(f(123456.0), "123456");
        assert_eq!(f(1234567.0), "1.234567e+06");
        assert_eq!(f(0.0001), "0.0001");
        assert_eq!(f(0.00001), "1e-05");
        assert_eq!(f(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(f(-2.5), "-2.5");
        assert_eq!(f(0.0), "0");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(1e21), "1e+21");
        assert_eq!(f(100.0), "100");
    }

    #[test]
    fn printf_follows_go_verbs_flags_and_error_markers() {
        let s = |v: &str| Value::str(v);
        assert_eq!(sprintf("%.2f", &[Value::Float(2.34567)]), "2.35");
        assert_eq!(
            sprintf(
                "%5.1f|%-6d|%06d",
                &[Value::Float(2.25), Value::Int(42), Value::Int(-42)]
            ),
            "  2.2|42    |-00042"
        );
        assert_eq!(
            sprintf(
                "%g %e %G",
                &[
                    Value::Float(1e-7),
                    Value::Float(1234.5678),
                    Value::Float(1e21)
                ]
            ),
            "1e-07 1.234568e+03 1E+21"
        );
        assert_eq!(sprintf("%.3g", &[Value::Float(1234.5678)]), "1.23e+03");
        assert_eq!(sprintf("%.3g", &[Value::Float(0.5)]), "0.5");
        assert_eq!(sprintf("%d", &[s("x")]), "%!d(string=x)");
        assert_eq!(sprintf("%s %s", &[s("a")]), "a %!s(MISSING)");
        assert_eq!(sprintf("%s", &[s("a"), Value::Int(1)]), "a%!(EXTRA int=1)");
        assert_eq!(
            sprintf("%q %x %X", &[s("a\"b\n"), s("hi"), Value::Int(255)]),
            "\"a\\\"b\\n\" 6869 FF"
        );
        assert_eq!(
            sprintf("%v", &[Value::string_map([("b", "2"), ("a", "1")])]),
            "map[a:1 b:2]"
        );
        assert_eq!(sprintf("%[2]s %[1]s", &[s("a"), s("b")]), "b a");
        assert_eq!(
            sprintf(
                "%+d % d %x",
                &[Value::Int(5), Value::Int(5), Value::Int(-255)]
            ),
            "+5  5 -ff"
        );
        assert_eq!(
            sprintf(
                "%05s|%.2s|%8.3f",
                &[s("ab"), s("abc"), Value::Float(-2.34567)]
            ),
            "000ab|ab|  -2.346"
        );
        assert_eq!(sprintf("%f", &[Value::Int(3)]), "%!f(int=3)");
        assert_eq!(
            sprintf("%v %s", &[Value::Nil, Value::Nil]),
            "<nil> %!s(<nil>)"
        );
        assert_eq!(sprintf("100%%", &[]), "100%");
        assert_eq!(sprintf("%", &[]), "%!(NOVERB)");
        assert_eq!(
            sprintf("%.0f %.1f", &[Value::Float(2.5), Value::Float(0.25)]),
            "2 0.2"
        );
    }

    #[test]
    fn print_spaces_operands_that_are_not_strings() {
        assert_eq!(
            sprint(&[Value::Int(1), Value::Int(2), Value::str("a"), Value::Int(3)]),
            "1 2a3"
        );
        assert_eq!(sprintln(&[Value::str("a"), Value::Int(1)]), "a 1\n");
    }
}
