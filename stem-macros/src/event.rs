//! `#[stem::event]`: registers an event topic constant, so that front ends
//! (the CLI's `wf emit`) check what they send on the topic against its value
//! type.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericArgument, PathArguments, Type};

use crate::common::errors::Errors;
use crate::common::generate::{doc_line, type_text};
use crate::common::options::{Option_, Options, crate_path, known_option, string};

/// Every option `#[stem::event]` accepts.
const KNOWN: &[&str] = &["crate"];

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let constant: syn::ItemConst = match syn::parse2(item.clone()) {
        Ok(constant) => constant,
        Err(_) => {
            let mut out = item.clone();
            let message = "`#[stem::event]` goes on a topic constant: \
                           `const SHIPPED: EventTopic<Parcel> = EventTopic::new(\"parcel.shipped\");`";
            out.extend(syn::Error::new_spanned(&item, message).into_compile_error());
            return out;
        }
    };
    match syn::parse::Parser::parse2(Options::parse_terminated, args).and_then(|o| generate(o, &constant)) {
        Ok(out) => out,
        Err(error) => {
            let mut out = constant.into_token_stream();
            out.extend(error.into_compile_error());
            out
        }
    }
}

fn generate(raw: Options, constant: &syn::ItemConst) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let mut krate = None;
    let mut seen = BTreeSet::new();
    for Option_ { key, value } in raw {
        let Some(option) = known_option(&key, KNOWN, &mut seen, &mut errors) else { continue };
        if let Err(message) = string(&option, &value).and_then(|s| crate_path(&s)).map(|p| krate = Some(p)) {
            errors.push(value.span(), message);
        }
    }
    let value_type = topic_value(&constant.ty);
    if value_type.is_none() {
        errors
            .push(constant.ty.span(), "an event topic's type is `EventTopic<T>`, where `T` is the type of its values");
    }
    let value_type = errors.finish(|| value_type)?.unwrap_or_else(|| syn::parse_quote!(()));
    let krate = krate.unwrap_or_else(|| syn::parse_quote!(::stem));
    let name = &constant.ident;
    let (text, doc) = (type_text(&value_type), doc_line(&constant.attrs));
    let registration = quote_spanned! {name.span()=>
        #krate::__private::inventory::submit! {
            #krate::__private::EventRegistration::of::<#value_type>(#name, #text, #doc, file!(), line!())
        }
    };
    Ok(quote! {
        #constant

        const _: () = {
            #registration
        };
    })
}

/// `T` of a type written `EventTopic<T>` (any path ending so).
fn topic_value(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last().filter(|s| s.ident == "EventTopic")?;
    let PathArguments::AngleBracketed(generics) = &last.arguments else { return None };
    match generics.args.iter().collect::<Vec<_>>().as_slice() {
        [GenericArgument::Type(value)] => Some(value.clone()),
        _ => None,
    }
}
