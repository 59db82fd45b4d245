//! Code generation for `#[stem::workflow]`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::Workflow;
use crate::common::generate::{arg_checks, args_def, args_type, call_args, described, duration, registered_name};

pub(crate) fn expand(w: &Workflow, function: &syn::ItemFn) -> TokenStream {
    let krate = w.krate.clone().unwrap_or_else(|| syn::parse_quote!(::stem));
    let vis = &function.vis;
    let Workflow { fn_name, type_name, args_name, output, .. } = w;
    let args_type = args_type(&w.args, args_name);
    let args_def = args_def(vis, fn_name, args_name, &w.args, &krate);
    let wf = format_ident!("__stem_wf");
    let args = format_ident!("__stem_args");
    let call_args = call_args(&w.args, &args);
    let comma = (!w.args.is_empty()).then(|| quote!(,));
    let checks = arg_checks(&w.args, &krate);
    let output_check = quote_spanned!(output.span()=> #krate::__private::assert_task_output::<#output>(););
    let error_span = w.error.as_ref().map_or_else(proc_macro2::Span::call_site, |e| e.span());
    let error_check =
        w.error.as_ref().map(|e| quote_spanned!(e.span()=> #krate::__private::assert_workflow_error::<#e>();));
    let into_error = quote_spanned!(error_span=> #krate::__private::into_workflow_error);
    let name = registered_name(w.name.as_ref(), fn_name);
    let described = described(&w.args, output, &function.attrs, &krate);
    let mut sets = Vec::new();
    if let Some(queue) = &w.queue {
        // Fails to compile, naming the rule, for a name the stores refuse.
        sets.push(quote!(#krate::queue::assert_valid(#queue); o.queue = #queue;));
    }
    for (field, value) in [("max_run_time", w.max_run_time), ("max_suspended_time", w.max_suspended_time)] {
        if let Some(d) = value {
            let field = format_ident!("{field}");
            let d = duration(d);
            sets.push(quote!(o.#field = ::core::option::Option::Some(#d);));
        }
    }
    if let Some(d) = w.lease {
        let d = duration(d);
        sets.push(quote!(o.lease = #d;));
    }
    let registration = quote_spanned! {fn_name.span()=>
        #krate::__private::inventory::submit! {
            #krate::__private::WorkflowRegistration::of::<#type_name>(file!(), line!())
        }
    };

    quote! {
        #function

        #[doc = concat!("The workflow of [`", stringify!(#fn_name), "`]: start a run with [`", stringify!(#type_name), "::start`].")]
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #type_name;

        #args_def

        const _: () = {
            #(#checks)*
            #output_check
            #error_check

            #[automatically_derived]
            impl #krate::Workflow for #type_name {
                const NAME: &'static str = #name;
                const OPTIONS: #krate::__private::WorkflowOptions = {
                    #[allow(unused_mut)]
                    let mut o = #krate::__private::WorkflowOptions::DEFAULT;
                    #(#sets)*
                    o
                };
                #described
                type Args = #args_type;
                type Output = #output;

                fn run(
                    #wf: #krate::WorkflowContext,
                    #args: Self::Args,
                ) -> impl ::core::future::Future<Output = ::core::result::Result<Self::Output, #krate::WorkflowError>> + ::core::marker::Send {
                    async move {
                        #fn_name(#wf #comma #call_args).await.map_err(#into_error)
                    }
                }
            }

            #[automatically_derived]
            impl #type_name {
                /// Starts a run with the workflow's defaults; the handle's
                /// `wait()` yields the workflow's result.
                #vis async fn start(
                    stem: &#krate::Stem,
                    args: #args_name,
                ) -> #krate::Result<#krate::WorkflowHandle<#output>> {
                    Self::call(args).start(stem).await
                }

                /// Starts a run for each of `args`, created, recorded and
                /// enqueued in one batch each; the handles in that order.
                #vis async fn start_many(
                    stem: &#krate::Stem,
                    args: impl ::core::iter::IntoIterator<Item = #args_name>,
                ) -> #krate::Result<::std::vec::Vec<#krate::WorkflowHandle<#output>>> {
                    #krate::workflow::WorkflowStart::start_many(stem, args.into_iter().map(Self::call)).await
                }

                /// A run with per-run options (run id, queue, cancellation
                /// policy) to start.
                #vis fn call(args: #args_name) -> #krate::workflow::WorkflowStart<Self> {
                    #krate::workflow::WorkflowStart::new(args)
                }
            }

            #registration
        };
    }
}
