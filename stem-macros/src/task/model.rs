//! The validated model of one task: everything `expand` needs, with spans.

use std::collections::BTreeSet;
use std::time::Duration;

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, Ident, Lit, Pat, PathArguments, ReturnType, Type};

use super::parse::{Option_, Options};
use crate::duration::parse_duration;

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
    "crate",
];

/// Options that Stem will have but does not enforce yet: refused, so that no
/// one believes a task limited or deduplicated that is not.
const NOT_YET: &[(&str, &str)] =
    &[("rate_limit", "rate limits are not enforced yet"), ("unique_for", "unique tasks are not enforced yet")];

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
    pub(crate) krate: Option<syn::Path>,
}

/// Collects errors so that all of them are reported at once.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        let error = syn::Error::new(span, message);
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn finish<T>(self, value: impl FnOnce() -> T) -> syn::Result<T> {
        match self.0 {
            Some(error) => Err(error),
            None => Ok(value()),
        }
    }
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

/// The name of option `key` if it is one of `known` and was not given before;
/// reports it otherwise (shared by every macro's option parsing).
pub(crate) fn known_option(
    key: &Ident,
    known: &[&str],
    seen: &mut BTreeSet<String>,
    errors: &mut Errors,
) -> Option<String> {
    let name = key.to_string();
    if !known.contains(&name.as_str()) {
        errors.push(key.span(), format!("unknown option `{name}`; valid options are: {}", known.join(", ")));
        return None;
    }
    if !seen.insert(name.clone()) {
        errors.push(key.span(), format!("duplicate option `{name}`"));
        return None;
    }
    Some(name)
}

/// The path of a `crate = "..."` option.
pub(crate) fn crate_path(s: &str) -> Result<syn::Path, String> {
    syn::parse_str::<syn::Path>(s).map_err(|_| format!("`crate` takes a path like \"::stem\", not \"{s}\""))
}

fn parse_options(raw: Options, errors: &mut Errors) -> TaskOptions {
    let mut seen = BTreeSet::new();
    let mut o = TaskOptions::default();
    for Option_ { key, value } in raw {
        if let Some((_, why)) = NOT_YET.iter().find(|(name, _)| key == name) {
            errors.push(
                key.span(),
                format!("`{key}`: {why}, so Stem refuses the option rather than run the task unprotected; remove it"),
            );
            continue;
        }
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
    o
}

pub(crate) fn string(key: &str, value: &Lit) -> Result<String, String> {
    match value {
        Lit::Str(s) => Ok(s.value()),
        _ => Err(format!("`{key}` expects a string, like `{key} = \"...\"`")),
    }
}

pub(crate) fn non_empty(key: &str, s: String) -> Result<String, String> {
    if s.trim().is_empty() { Err(format!("`{key}` cannot be empty")) } else { Ok(s) }
}

pub(crate) fn int<N: std::str::FromStr<Err: std::fmt::Display>>(key: &str, value: &Lit) -> Result<N, String> {
    match value {
        Lit::Int(i) => i.base10_parse::<N>().map_err(|e| format!("`{key}`: {e}")),
        _ => Err(format!("`{key}` expects a whole number, like `{key} = 3`")),
    }
}

pub(crate) fn boolean(key: &str, value: &Lit) -> Result<bool, String> {
    match value {
        Lit::Bool(b) => Ok(b.value),
        _ => Err(format!("`{key}` expects `true` or `false`")),
    }
}

/// Whether a parameter type is (a path ending in) `TaskContext`.
fn is_context(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "TaskContext"))
}

/// `T` and `E` of a return type `Result<T, E>` (`E` is `None` for an alias's `Result<T>`).
pub(crate) fn result_types(ty: &Type) -> (Option<Type>, Option<Type>) {
    let Type::Path(path) = ty else { return (None, None) };
    let Some(last) = path.path.segments.last().filter(|s| s.ident == "Result") else { return (None, None) };
    let PathArguments::AngleBracketed(generics) = &last.arguments else { return (None, None) };
    let mut types = generics.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    (types.next(), types.next())
}

pub(crate) fn upper_camel(snake: &str) -> String {
    snake
        .trim_start_matches("r#")
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::upper_camel;

    #[test]
    fn camel_case_names() {
        assert_eq!(upper_camel("send_email"), "SendEmail");
        assert_eq!(upper_camel("add"), "Add");
        assert_eq!(upper_camel("_private_job_"), "PrivateJob");
        assert_eq!(upper_camel("r#type"), "Type");
    }
}
