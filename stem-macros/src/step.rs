//! `#[stem::step]`: an async fn that runs as a checkpointed workflow step.
//!
//! The fn keeps its name and parameters and becomes a call of
//! `wf.step_with(name, options, || body(...))`: its body moves into an inner
//! fn that each attempt calls again with fresh clones of the arguments (a
//! reference clones as itself). Its error type becomes `StepError`.

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Pat, ReturnType, Type};

use crate::common::duration::parse_duration;
use crate::common::errors::Errors;
use crate::common::generate::duration;
use crate::common::options::{Option_, Options, crate_path, int, known_option, non_empty, string};
use crate::common::signature::result_types;

/// Every option `#[stem::step]` accepts.
const KNOWN: &[&str] = &["name", "max_retries", "retry_backoff", "retry_backoff_max", "crate"];

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let mut out = item.clone();
            out.extend(syn::Error::new_spanned(&item, "`#[stem::step]` goes on an `async fn`").into_compile_error());
            return out;
        }
    };
    match syn::parse::Parser::parse2(Options::parse_terminated, args).and_then(|o| generate(o, &function)) {
        Ok(out) => out,
        Err(error) => {
            let mut out = function.into_token_stream();
            out.extend(error.into_compile_error());
            out
        }
    }
}

fn generate(raw: Options, function: &syn::ItemFn) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let (mut name, mut krate, mut sets) = (None, None, Vec::new());
    let mut seen = BTreeSet::new();
    for Option_ { key, value } in raw {
        let Some(option) = known_option(&key, KNOWN, &mut seen, &mut errors) else { continue };
        let parsed = match option.as_str() {
            "max_retries" => int::<u32>(&option, &value).map(|n| sets.push(quote!(o.max_retries = #n;))),
            "name" => string(&option, &value).and_then(|s| non_empty(&option, s)).map(|s| name = Some(s)),
            "crate" => string(&option, &value).and_then(|s| crate_path(&s)).map(|p| krate = Some(p)),
            field => string(&option, &value).and_then(|s| parse_duration(&s)).map(|d| {
                let field = format_ident!("{}", if field == "retry_backoff" { "backoff" } else { "backoff_max" });
                let d = duration(d);
                sets.push(quote!(o.#field = #d;));
            }),
        };
        if let Err(message) = parsed {
            errors.push(value.span(), message);
        }
    }
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        errors.push(sig.fn_token.span, "`#[stem::step]` needs an `async fn`; add `async`");
    }
    if !sig.generics.params.is_empty() {
        errors.push(sig.generics.span(), "a step fn cannot be generic: its output is checkpointed with a fixed type");
    }
    let mut params = sig.inputs.iter();
    let wf = match params.next() {
        Some(FnArg::Typed(first)) if is_workflow_ref(&first.ty) => match &*first.pat {
            Pat::Ident(p) => Some(p.ident.clone()),
            other => {
                errors.push(other.span(), "name the workflow parameter (`wf: &WorkflowContext`)");
                None
            }
        },
        other => {
            let span = other.map_or_else(|| sig.paren_token.span.join(), Spanned::span);
            errors.push(span, "a step fn takes `wf: &WorkflowContext` as its first parameter");
            None
        }
    };
    let mut args = Vec::new();
    for param in params {
        match param {
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => args.push(p.ident.clone()),
                other => errors.push(other.span(), "step arguments must be plain names (`order: &Order`)"),
            },
            FnArg::Receiver(r) => errors.push(r.span(), "a step fn cannot take `self`"),
        }
    }
    let (output, error) = match &sig.output {
        ReturnType::Type(_, ty) => result_types(ty),
        ReturnType::Default => (None, None),
    };
    if output.is_none() {
        errors.push(sig.output.span(), "a step fn must return `Result<T, E>` (with `E: Into<StepError>`)");
    }
    let wf = errors.finish(|| wf)?.expect("checked above");
    let output: Type = output.expect("checked above");
    let krate = krate.unwrap_or_else(|| syn::parse_quote!(::stem));
    let name = name.unwrap_or_else(|| sig.ident.to_string());

    let body = format_ident!("__stem_step_body");
    let mut inner = function.clone();
    inner.sig.ident = body.clone();
    inner.vis = syn::Visibility::Inherited;
    inner.attrs.retain(|a| !a.path().is_ident("doc"));
    let mut outer = function.sig.clone();
    outer.output = syn::parse_quote!(-> ::core::result::Result<#output, #krate::StepError>);
    let (attrs, vis) = (&function.attrs, &function.vis);
    let output_check = quote_spanned!(output.span()=> #krate::__private::assert_step_output::<#output>(););
    let error_check = error.as_ref().map(|e| quote_spanned!(e.span()=> #krate::__private::assert_step_error::<#e>();));
    Ok(quote! {
        #(#attrs)*
        #vis #outer {
            const _: () = {
                #output_check
                #error_check
            };
            #inner
            let __stem_options = {
                #[allow(unused_mut)]
                let mut o = #krate::__private::StepOptions::DEFAULT;
                #(#sets)*
                o
            };
            #wf.step_with(#name, __stem_options, || #body(#wf #(, ::core::clone::Clone::clone(&#args))*)).await
        }
    })
}

/// Whether a parameter type is `&WorkflowContext` (a path ending in `WorkflowContext`).
fn is_workflow_ref(ty: &Type) -> bool {
    matches!(ty, Type::Reference(r) if r.mutability.is_none() && matches!(&*r.elem, Type::Path(p) if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "WorkflowContext")))
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::expand;

    #[test]
    fn a_step_needs_its_workflow_reference_first() {
        let out = expand(
            quote!(),
            quote!(
                async fn s(x: u32) -> Result<u32, StepError> {
                    Ok(x)
                }
            ),
        )
        .to_string();
        assert!(out.contains("takes `wf: &WorkflowContext` as its first parameter"), "{out}");
    }

    #[test]
    fn expands_a_valid_step() {
        let out = expand(
            quote!(max_retries = 5, retry_backoff = "10ms"),
            quote!(
                async fn charge(wf: &WorkflowContext, amount: &u64) -> Result<u64, StepError> {
                    Ok(*amount)
                }
            ),
        )
        .to_string();
        assert!(out.contains("step_with"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }
}
