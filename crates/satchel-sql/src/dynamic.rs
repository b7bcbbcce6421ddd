//! Statements whose shape depends on the patch (SQLite and MySQL address JSON keys by path,
//! one path argument per key): SQL text with `?` placeholders and the arguments in order.
//! Keys, values and paths are always arguments; only the validated table name and fixed
//! SQL are text.

/// One bind argument.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Bytes(&'a [u8]),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
    OptBool(Option<bool>),
    Text(&'a str),
    OptText(Option<&'a str>),
}

/// SQL text and its arguments, built left to right.
#[derive(Debug, Default)]
pub(crate) struct Stmt<'a> {
    pub(crate) sql: String,
    pub(crate) args: Vec<Arg<'a>>,
}

/// The JSON paths of every key a patch names, built once per write (the statements borrow
/// them as arguments).
#[derive(Debug)]
pub(crate) struct Paths {
    pub(crate) remove: Vec<String>,
    pub(crate) set: Vec<String>,
    pub(crate) expect: Vec<String>,
}

impl Paths {
    pub(crate) fn new(patch: &satchel::Patch, quote_as_unicode: bool) -> Self {
        let path = |k: &String| crate::codec::json_path(k, quote_as_unicode);
        Paths {
            remove: patch.remove.iter().map(path).collect(),
            set: patch.set.iter().map(|(k, _)| path(k)).collect(),
            expect: patch.expect.iter().map(|(k, _)| path(k)).collect(),
        }
    }
}

impl<'a> Stmt<'a> {
    /// Appends SQL text.
    pub(crate) fn sql(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub(crate) fn arg(&mut self, arg: Arg<'a>) -> &mut Self {
        self.sql.push('?');
        self.args.push(arg);
        self
    }
}

/// Binds `args` to a query, in order (one function per backend, as sqlx's `bind` is typed).
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match *arg {
                $crate::dynamic::Arg::Bytes(v) => q.bind(v),
                $crate::dynamic::Arg::Int(v) => q.bind(v),
                $crate::dynamic::Arg::OptInt(v) => q.bind(v),
                $crate::dynamic::Arg::Bool(v) => q.bind(v),
                $crate::dynamic::Arg::OptBool(v) => q.bind(v),
                $crate::dynamic::Arg::Text(v) => q.bind(v),
                $crate::dynamic::Arg::OptText(v) => q.bind(v),
            };
        }
        q
    }};
}
pub(crate) use bind_all;

/// Why a guarded write matched nothing, as read back by the diagnostic query.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Diagnosis {
    /// No live row.
    Gone,
    /// The row is not a satchel record.
    Corrupt,
    /// These expected keys changed.
    Conflict(Vec<String>),
    /// The result would exceed the size limit.
    TooLarge,
    /// Everything looked fine: a concurrent write landed between the two statements.
    Raced,
}

/// Reads the diagnostic row: `live`, `sound`, one "matches" flag per expectation (in
/// `expect` order), `fits`.
pub(crate) fn diagnose(
    live: bool,
    sound: bool,
    matches: &[bool],
    fits: bool,
    expect: &[(String, Option<satchel::Value>)],
) -> Diagnosis {
    if !live {
        return Diagnosis::Gone;
    }
    if !sound {
        return Diagnosis::Corrupt;
    }
    let conflicts: Vec<String> = expect
        .iter()
        .zip(matches)
        .filter(|(_, ok)| !**ok)
        .map(|((k, _), _)| k.clone())
        .collect();
    if !conflicts.is_empty() {
        Diagnosis::Conflict(conflicts)
    } else if !fits {
        Diagnosis::TooLarge
    } else {
        Diagnosis::Raced
    }
}
