//! Go's `time.Time` and `time.Duration` as templates see them: printed as Go prints them
//! (`2024-01-02 03:04:05 +0000 UTC`, `1h2m3.5s`), with `.Format` reading Go's reference-time
//! layouts (`2006-01-02 15:04:05 MST`).

use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::ExecError;
use super::value::{Object, Value};

/// A point in time in a zone (`time.Time`).
#[derive(Debug, Clone)]
pub struct Time {
    pub ts: Timestamp,
    pub tz: TimeZone,
}

/// Go's `Time.String()` layout.
pub const STRING_LAYOUT: &str = "2006-01-02 15:04:05.999999999 -0700 MST";

impl Time {
    pub fn utc(ts: Timestamp) -> Self {
        Self {
            ts,
            tz: TimeZone::UTC,
        }
    }

    /// Go's zero time, `0001-01-01 00:00:00 +0000 UTC` (an alert's `EndsAt` when unknown).
    pub fn zero() -> Self {
        let ts = Timestamp::from_second(-62_135_596_800).unwrap_or(Timestamp::UNIX_EPOCH);
        Self::utc(ts)
    }

    pub fn value(self) -> Value {
        Value::Object(Arc::new(self))
    }

    /// The time as Go's `Time.Format(layout)` writes it.
    pub fn format(&self, layout: &str) -> String {
        format(&self.ts, &self.tz, layout)
    }
}

impl Object for Time {
    fn type_name(&self) -> &'static str {
        "time.Time"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, ExecError>> {
        let z = self.ts.to_zoned(self.tz.clone());
        let no_args = |v: Value| {
            if args.is_empty() {
                Ok(v)
            } else {
                Err(ExecError::Message(format!(
                    "wrong number of args for {name}: want 0 got {}",
                    args.len()
                )))
            }
        };
        Some(match name {
            "Format" => match args {
                [Value::String(l)] => Ok(Value::str(self.format(l))),
                _ => Err(ExecError::Message(
                    "wrong number of args for Format: want 1 string".into(),
                )),
            },
            "String" => no_args(Value::str(self.format(STRING_LAYOUT))),
            "Unix" => no_args(Value::Int(self.ts.as_second())),
            "UnixMilli" => no_args(Value::Int(self.ts.as_millisecond())),
            "UnixNano" => no_args(Value::Int(self.ts.as_nanosecond() as i64)),
            "UTC" => no_args(Time::utc(self.ts).value()),
            "Local" => no_args(
                Time {
                    ts: self.ts,
                    tz: TimeZone::system(),
                }
                .value(),
            ),
            "IsZero" => no_args(Value::Bool(self.ts == Time::zero().ts)),
            "Year" => no_args(Value::Int(z.year().into())),
            "YearDay" => no_args(Value::Int(z.day_of_year().into())),
            "Day" => no_args(Value::Int(z.day().into())),
            "Hour" => no_args(Value::Int(z.hour().into())),
            "Minute" => no_args(Value::Int(z.minute().into())),
            "Second" => no_args(Value::Int(z.second().into())),
            "Nanosecond" => no_args(Value::Int(z.subsec_nanosecond().into())),
            "Month" => no_args(Value::str(MONTHS[z.month() as usize - 1])),
            "Weekday" => no_args(Value::str(
                DAYS[z.weekday().to_sunday_zero_offset() as usize],
            )),
            _ => return None,
        })
    }

    fn as_time(&self) -> Option<&Time> {
        Some(self)
    }

    fn format_v(&self, out: &mut String) {
        out.push_str(&self.format(STRING_LAYOUT));
    }

    fn string_method(&self) -> Option<String> {
        Some(self.format(STRING_LAYOUT))
    }
}

/// A span of time (`time.Duration`), in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub struct Duration(pub i64);

impl Duration {
    pub fn value(self) -> Value {
        Value::Object(Arc::new(self))
    }

    /// Go's `Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
    pub fn go_string(&self) -> String {
        let d = self.0;
        if d == 0 {
            return "0s".into();
        }
        let neg = d < 0;
        let u = d.unsigned_abs();
        let mut s = String::new();
        if u < 1_000_000_000 {
            // Below a second: one unit, with a fraction.
            let (unit, div) = if u < 1_000 {
                ("ns", 1)
            } else if u < 1_000_000 {
                ("µs", 1_000)
            } else {
                ("ms", 1_000_000)
            };
            s.push_str(&frac(u, div));
            s.push_str(unit);
        } else {
            let secs = u / 1_000_000_000;
            let (h, m) = (secs / 3600, (secs / 60) % 60);
            if h > 0 {
                s.push_str(&format!("{h}h"));
            }
            if h > 0 || m > 0 {
                s.push_str(&format!("{m}m"));
            }
            s.push_str(&frac(u % 60_000_000_000, 1_000_000_000));
            s.push('s');
        }
        if neg { format!("-{s}") } else { s }
    }
}

/// `v / div` with the fraction's trailing zeros dropped.
fn frac(v: u64, div: u64) -> String {
    let whole = v / div;
    let rest = v % div;
    if rest == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

impl Object for Duration {
    fn type_name(&self) -> &'static str {
        "time.Duration"
    }

    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, ExecError>> {
        if !args.is_empty() {
            return Some(Err(ExecError::Message(format!(
                "wrong number of args for {name}: want 0"
            ))));
        }
        let ns = self.0 as f64;
        Some(Ok(match name {
            "Seconds" => Value::Float(ns / 1e9),
            "Minutes" => Value::Float(ns / 6e10),
            "Hours" => Value::Float(ns / 3.6e12),
            "Milliseconds" => Value::Int(self.0 / 1_000_000),
            "Nanoseconds" => Value::Int(self.0),
            "String" => Value::str(self.go_string()),
            _ => return None,
        }))
    }

    fn format_v(&self, out: &mut String) {
        out.push_str(&self.go_string());
    }

    fn string_method(&self) -> Option<String> {
        Some(self.go_string())
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// One element of a Go layout.
enum Std {
    Lit(String),
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM(bool),
    TzName,
    /// Numeric offset: Z for UTC when `iso`; `colon`; with hours only, or with seconds.
    Offset {
        iso: bool,
        colon: bool,
        parts: u8,
    },
    /// Fraction of a second: separator, digits, trailing zeros dropped.
    Frac {
        sep: char,
        n: usize,
        trim: bool,
    },
}

/// Splits a Go layout into its elements, as `time.nextStdChunk` reads it.
fn chunks(layout: &str) -> Vec<Std> {
    let b = layout.as_bytes();
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut i = 0;
    let at = |i: usize, s: &str| layout[i..].starts_with(s);
    while i < b.len() {
        let (std, len) = match b[i] {
            b'J' if at(i, "January") => (Some(Std::LongMonth), 7),
            b'J' if at(i, "Jan") => (Some(Std::Month), 3),
            b'M' if at(i, "Monday") => (Some(Std::LongWeekDay), 6),
            b'M' if at(i, "Mon") => (Some(Std::WeekDay), 3),
            b'M' if at(i, "MST") => (Some(Std::TzName), 3),
            b'0' if at(i, "002") => (Some(Std::ZeroYearDay), 3),
            b'0' if i + 1 < b.len() && (b'1'..=b'6').contains(&b[i + 1]) => (
                Some(match b[i + 1] {
                    b'1' => Std::ZeroMonth,
                    b'2' => Std::ZeroDay,
                    b'3' => Std::ZeroHour12,
                    b'4' => Std::ZeroMinute,
                    b'5' => Std::ZeroSecond,
                    _ => Std::Year,
                }),
                2,
            ),
            b'1' if at(i, "15") => (Some(Std::Hour), 2),
            b'1' => (Some(Std::NumMonth), 1),
            b'2' if at(i, "2006") => (Some(Std::LongYear), 4),
            b'2' => (Some(Std::Day), 1),
            b'_' if at(i, "_2006") => {
                lit.push('_');
                (Some(Std::LongYear), 5)
            }
            b'_' if at(i, "__2") => (Some(Std::UnderYearDay), 3),
            b'_' if at(i, "_2") => (Some(Std::UnderDay), 2),
            b'3' => (Some(Std::Hour12), 1),
            b'4' => (Some(Std::Minute), 1),
            b'5' => (Some(Std::Second), 1),
            b'P' if at(i, "PM") => (Some(Std::PM(true)), 2),
            b'p' if at(i, "pm") => (Some(Std::PM(false)), 2),
            c @ (b'-' | b'Z') => {
                let iso = c == b'Z';
                let forms: [(&str, bool, u8); 5] = [
                    ("070000", false, 3),
                    ("07:00:00", true, 3),
                    ("0700", false, 2),
                    ("07:00", true, 2),
                    ("07", false, 1),
                ];
                match forms.iter().find(|(f, _, _)| at(i + 1, f)) {
                    Some((f, colon, parts)) => (
                        Some(Std::Offset {
                            iso,
                            colon: *colon,
                            parts: *parts,
                        }),
                        1 + f.len(),
                    ),
                    None => (None, 1),
                }
            }
            c @ (b'.' | b',') if i + 1 < b.len() && matches!(b[i + 1], b'0' | b'9') => {
                let d = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == d {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    (None, 1)
                } else {
                    (
                        Some(Std::Frac {
                            sep: c as char,
                            n: j - i - 1,
                            trim: d == b'9',
                        }),
                        j - i,
                    )
                }
            }
            _ => (None, 1),
        };
        match std {
            Some(s) => {
                if !lit.is_empty() {
                    out.push(Std::Lit(std::mem::take(&mut lit)));
                }
                out.push(s);
                i += len;
            }
            None => {
                let ch = layout[i..].chars().next().unwrap_or(' ');
                lit.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    if !lit.is_empty() {
        out.push(Std::Lit(lit));
    }
    out
}

/// Go's `Time.Format(layout)` of `ts` in `tz`.
pub fn format(ts: &Timestamp, tz: &TimeZone, layout: &str) -> String {
    let z = ts.to_zoned(tz.clone());
    let info = tz.to_offset_info(*ts);
    let offset = info.offset().seconds();
    let year = i32::from(z.year());
    let hour = i32::from(z.hour());
    let mut s = String::new();
    for c in chunks(layout) {
        match c {
            Std::Lit(l) => s.push_str(&l),
            Std::LongMonth => s.push_str(MONTHS[z.month() as usize - 1]),
            Std::Month => s.push_str(&MONTHS[z.month() as usize - 1][..3]),
            Std::NumMonth => s.push_str(&z.month().to_string()),
            Std::ZeroMonth => s.push_str(&format!("{:02}", z.month())),
            Std::LongWeekDay => s.push_str(DAYS[z.weekday().to_sunday_zero_offset() as usize]),
            Std::WeekDay => s.push_str(&DAYS[z.weekday().to_sunday_zero_offset() as usize][..3]),
            Std::Day => s.push_str(&z.day().to_string()),
            Std::UnderDay => s.push_str(&format!("{:>2}", z.day())),
            Std::ZeroDay => s.push_str(&format!("{:02}", z.day())),
            Std::UnderYearDay => s.push_str(&format!("{:>3}", z.day_of_year())),
            Std::ZeroYearDay => s.push_str(&format!("{:03}", z.day_of_year())),
            Std::Hour => s.push_str(&format!("{hour:02}")),
            Std::Hour12 | Std::ZeroHour12 => {
                let h = match hour % 12 {
                    0 => 12,
                    h => h,
                };
                if matches!(c, Std::ZeroHour12) {
                    s.push_str(&format!("{h:02}"));
                } else {
                    s.push_str(&h.to_string());
                }
            }
            Std::Minute => s.push_str(&z.minute().to_string()),
            Std::ZeroMinute => s.push_str(&format!("{:02}", z.minute())),
            Std::Second => s.push_str(&z.second().to_string()),
            Std::ZeroSecond => s.push_str(&format!("{:02}", z.second())),
            Std::LongYear => {
                if year < 0 {
                    s.push_str(&format!("-{:04}", -year));
                } else {
                    s.push_str(&format!("{year:04}"));
                }
            }
            Std::Year => s.push_str(&format!("{:02}", year.rem_euclid(100))),
            Std::PM(upper) => s.push_str(match (hour >= 12, upper) {
                (true, true) => "PM",
                (false, true) => "AM",
                (true, false) => "pm",
                (false, false) => "am",
            }),
            Std::TzName => {
                let name = info.abbreviation();
                if !name.is_empty() && !name.starts_with(['+', '-']) {
                    s.push_str(name);
                } else {
                    let m = offset / 60;
                    s.push(if m < 0 { '-' } else { '+' });
                    s.push_str(&format!("{:02}{:02}", m.abs() / 60, m.abs() % 60));
                }
            }
            Std::Offset { iso, colon, parts } => {
                if iso && offset == 0 {
                    s.push('Z');
                    continue;
                }
                let a = offset.abs();
                s.push(if offset < 0 { '-' } else { '+' });
                s.push_str(&format!("{:02}", a / 3600));
                let sep = if colon { ":" } else { "" };
                if parts >= 2 {
                    s.push_str(&format!("{sep}{:02}", (a / 60) % 60));
                }
                if parts >= 3 {
                    s.push_str(&format!("{sep}{:02}", a % 60));
                }
            }
            Std::Frac { sep, n, trim } => {
                let nanos = format!("{:09}", z.subsec_nanosecond());
                let digits = &nanos[..n.min(9)];
                let digits = if trim {
                    digits.trim_end_matches('0')
                } else {
                    digits
                };
                if !digits.is_empty() {
                    s.push(sep);
                    s.push_str(digits);
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_go_prints_them() {
        let t = Time::utc(Timestamp::from_second(1_700_000_000).unwrap());
        assert_eq!(t.format(STRING_LAYOUT), "2023-11-14 22:13:20 +0000 UTC");
        assert_eq!(
            t.format("Mon Jan _2 15:04:05 2006"),
            "Tue Nov 14 22:13:20 2023"
        );
        assert_eq!(t.format("02/01/06 3:04PM Z07:00"), "14/11/23 10:13PM Z");
        assert_eq!(
            t.format("2006-01-02T15:04:05.000Z0700"),
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(
            Time::zero().format(STRING_LAYOUT),
            "0001-01-01 00:00:00 +0000 UTC"
        );
        let paris = Time {
            ts: Timestamp::from_second(1_700_000_000).unwrap(),
            tz: TimeZone::get("Europe/Paris").unwrap(),
        };
        assert_eq!(paris.format(STRING_LAYOUT), "2023-11-14 23:13:20 +0100 CET");
        assert_eq!(
            paris.format("-07:00 January Monday 002"),
            "+01:00 November Tuesday 318"
        );
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        assert_eq!(Duration(3_723_500_000_000).go_string(), "1h2m3.5s");
        assert_eq!(Duration(1_500_000).go_string(), "1.5ms");
        assert_eq!(Duration(0).go_string(), "0s");
        assert_eq!(Duration(-60_000_000_000).go_string(), "-1m0s");
    }
}
