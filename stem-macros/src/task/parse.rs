//! Parsing `#[stem::task(key = value, ...)]` into raw options.

use syn::parse::{Parse, ParseStream};
use syn::{Ident, Lit, Token};

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
