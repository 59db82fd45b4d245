//! The validated model of one task: everything `expand` needs, with spans.

use std::collections::BTreeSet;
use std::time::Duration;

use syn::spanned::Spanned;
use syn::{FnArg, Ident, Pat, ReturnType, Type};

use crate::common::duration::parse_duration;
use crate::common::errors::Errors;
use crate::common::options::{Option_, Options, boolean, crate_path, int, known_option, non_empty, string};
use crate::common::signature::{result_types, upper_camel};

/// Every option `#[stem::task]` accepts.
const KNOWN: &[&str] = &[
    "name",
    "queue",
    "max_retries",
    "retry_backoff",
    "retry_backoff_max",
    "retry_jitter",
    "time_limit",
    "soft_time_limit",
    "visibility_timeout",
    "priority",
    "codec",
    "rate_limit",
    "rate_limit_key",
    "unique_for",
    "unique_until_finished",
    "track_started",
    "ignore_result",
    "schedule",
    "crate",
];

/// The codecs `codec = "..."` accepts.
const CODECS: &[&str] = &["json", "bincode"];

/// A validated task.
pub(crate) struct Task {
    pub(crate) fn_name: Ident,
    pub(crate) type_name: Ident,
    pub(crate) args_name: Ident,
    pub(crate) takes_context: bool,
    pub(crate) args: Vec<(Ident, Type)>,
    pub(crate) output: Type,
    pub(crate) error: Option<Type>,
    pub(crate) options: TaskOptions,
}

/// Option values, parsed.
#[derive(Default)]
pub(crate) struct TaskOptions {
    pub(crate) name: Option<String>,
    pub(crate) queue: Option<String>,
    pub(crate) max_retries: Option<u32>,
    pub(crate) retry_backoff: Option<Duration>,
    pub(crate) retry_backoff_max: Option<Duration>,
    pub(crate) retry_jitter: Option<bool>,
    pub(crate) time_limit: Option<Duration>,
    pub(crate) soft_time_limit: Option<Duration>,
    pub(crate) visibility_timeout: Option<Duration>,
    pub(crate) priority: Option<u8>,
    pub(crate) codec: Option<String>,
    /// `rate_limit`: the count and the period in seconds.
    pub(crate) rate_limit: Option<(u32, u64)>,
    pub(crate) rate_limit_key: Option<String>,
    pub(crate) unique_for: Option<Duration>,
    pub(crate) unique_until_finished: Option<bool>,
    pub(crate) track_started: Option<bool>,
    pub(crate) ignore_result: Option<bool>,
    /// `schedule`: its text, checked, and where it was written.
    pub(crate) schedule: Option<(String, proc_macro2::Span)>,
    pub(crate) krate: Option<syn::Path>,
}

impl Task {
    pub(crate) fn from_parts(raw: Options, function: &syn::ItemFn) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let options = parse_options(raw, &mut errors);
        let sig = &function.sig;

        if sig.asyncness.is_none() {
            errors.push(sig.fn_token.span, "`#[stem::task]` needs an `async fn`; add `async`");
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            errors.push(
                sig.generics.span(),
                "a task fn cannot be generic: a worker must know its concrete argument and result types",
            );
        }
        if let Some(variadic) = &sig.variadic {
            errors.push(variadic.span(), "a task fn cannot be variadic");
        }

        let mut takes_context = false;
        let mut args = Vec::new();
        for (index, input) in sig.inputs.iter().enumerate() {
            let typed = match input {
                FnArg::Receiver(receiver) => {
                    errors.push(
                        receiver.span(),
                        "a task fn cannot take `self`: write a free `async fn` and pass what it needs as arguments",
                    );
                    continue;
                }
                FnArg::Typed(typed) => typed,
            };
            if is_context(&typed.ty) {
                if index == 0 {
                    takes_context = true;
                } else {
                    errors.push(typed.ty.span(), "`TaskContext` must be the first parameter of a task fn");
                }
                continue;
            }
            if let Some(borrowed) = borrowed_type(&typed.ty) {
                errors.push_spanned(
                    borrowed,
                    "task arguments must be owned (`String`, not `&str`; `Vec<T>`, not `&[T]`): \
                     they are decoded from the message when the task runs, so nothing can lend them",
                );
                continue;
            }
            match &*typed.pat {
                Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                    args.push((pat.ident.clone(), (*typed.ty).clone()));
                }
                other => errors.push(
                    other.span(),
                    "task arguments must be plain names (`to: String`), not patterns: they become fields of the arguments struct",
                ),
            }
        }

        let (output, error) = match &sig.output {
            ReturnType::Type(_, ty) => result_types(ty),
            ReturnType::Default => (None, None),
        };
        if output.is_none() {
            let span = match &sig.output {
                ReturnType::Type(_, ty) => ty.span(),
                ReturnType::Default => sig.paren_token.span.close(),
            };
            errors.push(span, "a task fn must return `Result<T, E>` (with `E: Into<TaskError>`)");
        }

        let fn_name = sig.ident.clone();
        let camel = upper_camel(&fn_name.to_string());
        errors.finish(|| Task {
            type_name: Ident::new(&camel, fn_name.span()),
            args_name: Ident::new(&format!("{camel}Args"), fn_name.span()),
            fn_name,
            takes_context,
            args,
            output: output.unwrap_or_else(|| syn::parse_quote!(())),
            error,
            options,
        })
    }
}

fn parse_options(raw: Options, errors: &mut Errors) -> TaskOptions {
    let mut seen = BTreeSet::new();
    let mut o = TaskOptions::default();
    let mut needs = Vec::new();
    for Option_ { key, value } in raw {
        let Some(name) = known_option(&key, KNOWN, &mut seen, errors) else { continue };
        let span = value.span();
        let result = match name.as_str() {
            "name" => string(&name, &value).and_then(|s| non_empty(&name, s)).map(|s| o.name = Some(s)),
            "queue" => string(&name, &value).and_then(|s| non_empty(&name, s)).map(|s| o.queue = Some(s)),
            "max_retries" => int(&name, &value).map(|n| o.max_retries = Some(n)),
            "priority" => int::<u8>(&name, &value)
                .and_then(|p| if p <= 9 { Ok(p) } else { Err(format!("`priority` must be 0 to 9, not {p}")) })
                .map(|p| o.priority = Some(p)),
            "retry_jitter" => boolean(&name, &value).map(|b| o.retry_jitter = Some(b)),
            "codec" => string(&name, &value)
                .and_then(|c| {
                    if CODECS.contains(&c.as_str()) {
                        Ok(c)
                    } else {
                        Err(format!("unknown codec \"{c}\"; codecs are: {}", CODECS.join(", ")))
                    }
                })
                .map(|c| o.codec = Some(c)),
            "crate" => string(&name, &value).and_then(|s| crate_path(&s)).map(|p| o.krate = Some(p)),
            "rate_limit" => string(&name, &value).and_then(|s| parse_rate(&s)).map(|r| o.rate_limit = Some(r)),
            "rate_limit_key" => string(&name, &value).and_then(|s| header_name(&name, s)).map(|s| {
                needs.push((key.span(), "rate_limit_key", "rate_limit"));
                o.rate_limit_key = Some(s);
            }),
            "unique_for" => string(&name, &value)
                .and_then(|s| parse_duration(&s))
                .and_then(|d| if d.is_zero() { Err("`unique_for` must be longer than zero".to_owned()) } else { Ok(d) })
                .map(|d| o.unique_for = Some(d)),
            "schedule" => string(&name, &value)
                .and_then(|s| s.parse::<stem_schedule::Spec>().map(|_| s))
                .map(|s| o.schedule = Some((s, span))),
            "track_started" => boolean(&name, &value).map(|b| o.track_started = Some(b)),
            "ignore_result" => boolean(&name, &value).map(|b| o.ignore_result = Some(b)),
            "unique_until_finished" => boolean(&name, &value).map(|b| {
                needs.push((key.span(), "unique_until_finished", "unique_for"));
                o.unique_until_finished = Some(b);
            }),
            duration_key => string(&name, &value).and_then(|s| parse_duration(&s)).map(|d| {
                let slot = match duration_key {
                    "retry_backoff" => &mut o.retry_backoff,
                    "retry_backoff_max" => &mut o.retry_backoff_max,
                    "time_limit" => &mut o.time_limit,
                    "soft_time_limit" => &mut o.soft_time_limit,
                    _ => &mut o.visibility_timeout,
                };
                *slot = Some(d);
            }),
        };
        if let Err(message) = result {
            errors.push(span, message);
        }
    }
    for (span, option, needed) in needs {
        let given = match needed {
            "rate_limit" => o.rate_limit.is_some(),
            _ => o.unique_for.is_some(),
        };
        if !given {
            errors.push(span, format!("`{option}` has no effect without `{needed}`; add `{needed}` or remove it"));
        }
    }
    o
}

/// A rate like `"100/s"`, `"10/m"`, `"500/h"`: its count and period in seconds.
fn parse_rate(text: &str) -> Result<(u32, u64), String> {
    let bad = |why: &str| format!("invalid rate limit \"{text}\": {why}; write it as \"100/s\", \"10/m\" or \"500/h\"");
    let (count, unit) = text.trim().split_once('/').ok_or_else(|| bad("no `/`"))?;
    let count: u32 = count.trim().parse().map_err(|_| bad("the count is not a whole number"))?;
    if count == 0 {
        return Err(bad("the count must be at least 1"));
    }
    let per = match unit.trim() {
        "s" | "sec" | "second" => 1,
        "m" | "min" | "minute" => 60,
        "h" | "hour" => 3600,
        _ => return Err(bad("the unit is not s, m or h")),
    };
    Ok((count, per))
}

/// A header name: non-empty, printable ASCII without spaces.
fn header_name(key: &str, s: String) -> Result<String, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("`{key}` names a header: printable ASCII without spaces, like \"tenant\""));
    }
    Ok(s)
}

/// Whether a parameter type is (a path ending in) `TaskContext`.
/// The first borrowed type (`&T`) in `ty`, its generic arguments included.
fn borrowed_type(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Reference(_) => Some(ty),
        Type::Paren(inner) => borrowed_type(&inner.elem),
        Type::Group(inner) => borrowed_type(&inner.elem),
        Type::Array(inner) => borrowed_type(&inner.elem),
        Type::Slice(inner) => borrowed_type(&inner.elem),
        Type::Tuple(tuple) => tuple.elems.iter().find_map(borrowed_type),
        Type::Path(path) => path.path.segments.iter().find_map(|segment| match &segment.arguments {
            syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
                syn::GenericArgument::Type(ty) => borrowed_type(ty),
                _ => None,
            }),
            _ => None,
        }),
        _ => None,
    }
}

fn is_context(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "TaskContext"))
}
