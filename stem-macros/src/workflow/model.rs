//! The validated model of one workflow fn.

use std::collections::BTreeSet;
use std::time::Duration;

use syn::spanned::Spanned;
use syn::{FnArg, Ident, Pat, ReturnType, Type};

use crate::common::duration::parse_duration;
use crate::common::errors::Errors;
use crate::common::options::{Option_, Options, crate_path, known_option, non_empty, string};
use crate::common::signature::{result_types, upper_camel};

/// Every option `#[stem::workflow]` accepts.
const KNOWN: &[&str] = &["name", "queue", "max_run_time", "max_suspended_time", "lease", "crate"];

/// A validated workflow fn.
pub(crate) struct Workflow {
    pub(crate) fn_name: Ident,
    pub(crate) type_name: Ident,
    pub(crate) args_name: Ident,
    pub(crate) args: Vec<(Ident, Type)>,
    pub(crate) output: Type,
    pub(crate) error: Option<Type>,
    pub(crate) name: Option<String>,
    pub(crate) queue: Option<String>,
    pub(crate) max_run_time: Option<Duration>,
    pub(crate) max_suspended_time: Option<Duration>,
    pub(crate) lease: Option<Duration>,
    pub(crate) krate: Option<syn::Path>,
}

impl Workflow {
    pub(crate) fn from_parts(raw: Options, function: &syn::ItemFn) -> syn::Result<Self> {
        let mut errors = Errors::default();
        let sig = &function.sig;
        let mut w = Workflow {
            fn_name: sig.ident.clone(),
            type_name: Ident::new(&upper_camel(&sig.ident.to_string()), sig.ident.span()),
            args_name: Ident::new(&format!("{}Args", upper_camel(&sig.ident.to_string())), sig.ident.span()),
            args: Vec::new(),
            output: syn::parse_quote!(()),
            error: None,
            name: None,
            queue: None,
            max_run_time: None,
            max_suspended_time: None,
            lease: None,
            krate: None,
        };
        let mut seen = BTreeSet::new();
        for Option_ { key, value } in raw {
            let Some(name) = known_option(&key, KNOWN, &mut seen, &mut errors) else { continue };
            let parsed = string(&name, &value).and_then(|s| non_empty(&name, s)).and_then(|s| match name.as_str() {
                "name" => {
                    w.name = Some(s);
                    Ok(())
                }
                "queue" => {
                    w.queue = Some(s);
                    Ok(())
                }
                "crate" => crate_path(&s).map(|p| w.krate = Some(p)),
                "max_run_time" => parse_duration(&s).map(|d| w.max_run_time = Some(d)),
                "max_suspended_time" => parse_duration(&s).map(|d| w.max_suspended_time = Some(d)),
                _ => parse_duration(&s).map(|d| w.lease = Some(d)),
            });
            if let Err(message) = parsed {
                errors.push(value.span(), message);
            }
        }
        if sig.asyncness.is_none() {
            errors.push(sig.fn_token.span, "`#[stem::workflow]` needs an `async fn`; add `async`");
        }
        if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
            errors.push(sig.generics.span(), "a workflow fn cannot be generic: a worker must know its concrete types");
        }
        let mut inputs = sig.inputs.iter();
        match inputs.next() {
            Some(FnArg::Typed(first)) if is_workflow(&first.ty) => {}
            other => {
                let span = other.map_or_else(|| sig.paren_token.span.join(), Spanned::span);
                errors.push(
                    span,
                    "a workflow fn takes `wf: WorkflowContext` as its first parameter: it is how the fn runs durable \
                     steps, sleeps and event waits",
                );
            }
        }
        for input in inputs {
            match input {
                FnArg::Typed(typed) => match &*typed.pat {
                    Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => {
                        w.args.push((pat.ident.clone(), (*typed.ty).clone()));
                    }
                    other => errors.push(other.span(), "workflow arguments must be plain names (`order: Order`)"),
                },
                FnArg::Receiver(r) => errors.push(r.span(), "a workflow fn cannot take `self`"),
            }
        }
        let (output, error) = match &sig.output {
            ReturnType::Type(_, ty) => result_types(ty),
            ReturnType::Default => (None, None),
        };
        match output {
            Some(output) => w.output = output,
            None => errors
                .push(sig.output.span(), "a workflow fn must return `Result<T, E>` (with `E: Into<WorkflowError>`)"),
        }
        w.error = error;
        errors.finish(|| w)
    }
}

/// Whether a parameter type is (a path ending in) `WorkflowContext`.
fn is_workflow(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "WorkflowContext"))
}
