//! The options every macro takes, `#[stem::task(key = value, ...)]`: parsed
//! into raw pairs, then checked one by one with the helpers here.

use std::collections::BTreeSet;

use syn::parse::{Parse, ParseStream};
use syn::{Ident, Lit, Token};

use super::errors::Errors;

/// One `key = value` pair as written, with its spans.
pub(crate) struct Option_ {
    pub(crate) key: Ident,
    pub(crate) value: Lit,
}

/// The comma-separated options.
pub(crate) type Options = syn::punctuated::Punctuated<Option_, Token![,]>;

impl Parse for Option_ {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = if input.peek(Token![crate]) {
            let token: Token![crate] = input.parse()?;
            Ident::new("crate", token.span)
        } else {
            input.parse::<Ident>().map_err(|e| {
                syn::Error::new(e.span(), "expected an option like `queue = \"emails\"` or `max_retries = 3`")
            })?
        };
        input.parse::<Token![=]>().map_err(|e| syn::Error::new(e.span(), format!("expected `=` after `{key}`")))?;
        let value = input.parse::<Lit>().map_err(|e| {
            syn::Error::new(e.span(), format!("`{key}` takes a literal: a string, a number or a boolean"))
        })?;
        Ok(Self { key, value })
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

/// A string value.
pub(crate) fn string(key: &str, value: &Lit) -> Result<String, String> {
    match value {
        Lit::Str(s) => Ok(s.value()),
        _ => Err(format!("`{key}` expects a string, like `{key} = \"...\"`")),
    }
}

/// A string value that is not blank.
pub(crate) fn non_empty(key: &str, s: String) -> Result<String, String> {
    if s.trim().is_empty() { Err(format!("`{key}` cannot be empty")) } else { Ok(s) }
}

/// A whole number.
pub(crate) fn int<N: std::str::FromStr<Err: std::fmt::Display>>(key: &str, value: &Lit) -> Result<N, String> {
    match value {
        Lit::Int(i) => i.base10_parse::<N>().map_err(|e| format!("`{key}`: {e}")),
        _ => Err(format!("`{key}` expects a whole number, like `{key} = 3`")),
    }
}

/// `true` or `false`.
pub(crate) fn boolean(key: &str, value: &Lit) -> Result<bool, String> {
    match value {
        Lit::Bool(b) => Ok(b.value),
        _ => Err(format!("`{key}` expects `true` or `false`")),
    }
}
