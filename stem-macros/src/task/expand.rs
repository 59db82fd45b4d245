//! Code generation for `#[stem::task]`: `quote!` only.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::Task;
use crate::common::generate::{
    arg_checks, args_def, args_type, args_type_def, call_args, described, duration, registered_name,
};

pub(crate) fn expand(task: &Task, function: &syn::ItemFn) -> TokenStream {
    let krate = task.options.krate.clone().unwrap_or_else(|| syn::parse_quote!(::stem));
    let vis = &function.vis;
    let Task { fn_name, type_name, args_name, output, .. } = task;
    let args_type = args_type(&task.args, args_name);

    let args_def = args_def(vis, fn_name, args_name, &task.args, &krate);

    let ctx = format_ident!("__stem_ctx");
    let args = format_ident!("__stem_args");
    let ctx_arg = task.takes_context.then(|| quote!(#ctx,));
    let drop_ctx = (!task.takes_context).then(|| quote!(let _ = #ctx;));
    let call_args = call_args(&task.args, &args);
    let checks = arg_checks(&task.args, &krate);
    let output_check = quote_spanned!(output.span()=> #krate::__private::assert_task_output::<#output>(););
    let error_span = task.error.as_ref().map_or_else(proc_macro2::Span::call_site, |e| e.span());
    let error_check =
        task.error.as_ref().map(|e| quote_spanned!(e.span()=> #krate::__private::assert_task_error::<#e>();));
    let into_task_error = quote_spanned!(error_span=> #krate::__private::into_task_error);

    let name = registered_name(task.options.name.as_ref(), fn_name);
    let options = options(task, &krate);
    let codec = task.options.codec.as_ref().map(|c| quote!(const CODEC: &'static str = #c;));
    let described = described(&task.args, output, &function.attrs, &krate);
    let (rest_def, linkable) = linkable(task, vis, &krate);
    let scheduled_args = scheduled_args(task, &krate);
    let args_from = shape(task, &krate).map(|shape| {
        quote! {
            fn __args_from(
                input: &#krate::codec::Payload,
                rest: &#krate::codec::Payload,
            ) -> #krate::Result<Self::Args> {
                #krate::canvas::args_from::<Self>(input, rest, #shape)
            }
        }
    });
    let registration = quote_spanned! {fn_name.span()=>
        #krate::__private::inventory::submit! {
            #krate::__private::TaskRegistration::of::<#type_name>(file!(), line!())
        }
    };

    quote! {
        #function

        #[doc = concat!("The task of [`", stringify!(#fn_name), "`]: enqueue it with [`", stringify!(#type_name), "::enqueue`].")]
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #type_name;

        #args_def

        #rest_def

        const _: () = {
            #(#checks)*
            #output_check
            #error_check

            #[automatically_derived]
            impl #krate::Task for #type_name {
                const NAME: &'static str = #name;
                const OPTIONS: #krate::TaskOptions = #options;
                #codec
                #described
                type Args = #args_type;
                type Output = #output;

                #args_from

                #scheduled_args

                fn run(
                    #ctx: #krate::TaskContext,
                    #args: Self::Args,
                ) -> impl ::core::future::Future<Output = ::core::result::Result<Self::Output, #krate::TaskError>> + ::core::marker::Send {
                    #drop_ctx
                    async move {
                        #fn_name(#ctx_arg #call_args).await.map_err(#into_task_error)
                    }
                }
            }

            #[automatically_derived]
            impl #type_name {
                /// Enqueues a call with the task's default options; the handle's
                /// `wait()` yields the task's result.
                #vis async fn enqueue(
                    stem: &#krate::Stem,
                    args: #args_name,
                ) -> #krate::Result<#krate::TaskHandle<#output>> {
                    Self::call(args).enqueue(stem).await
                }

                /// A call with per-call options (countdown, priority, queue ...)
                /// to enqueue or compose.
                #vis fn call(args: #args_name) -> #krate::Signature<Self> {
                    #krate::Signature::new(args)
                }
            }

            #linkable

            #registration
        };
    }
}

/// For a task with arguments: the type of its arguments after the first
/// (`ResizeRest`, for three or more), and its `Linkable` impl with
/// `Resize::link(rest)`, which makes a step that gets its first argument from
/// the step before it.
fn linkable(task: &Task, vis: &syn::Visibility, krate: &syn::Path) -> (TokenStream, TokenStream) {
    let Task { fn_name, type_name, .. } = task;
    let Some(((_, first), rest)) = task.args.split_first() else { return (quote!(), quote!()) };
    let rest_name = format_ident!("{}Rest", type_name);
    let rest_def = match rest {
        [] | [_] => quote!(),
        _ => args_type_def(vis, fn_name, &rest_name, rest, krate, "arguments after the first"),
    };
    let (rest_type, link_params, link_rest) = match rest {
        [] => (quote!(()), quote!(), quote!(())),
        [(_, ty)] => (quote!(#ty), quote!(rest: #ty), quote!(rest)),
        _ => (quote!(#rest_name), quote!(rest: #rest_name), quote!(rest)),
    };
    let linkable = quote! {
        #[automatically_derived]
        impl #krate::canvas::Linkable for #type_name {
            type First = #first;
            type Rest = #rest_type;
        }

        #[automatically_derived]
        impl #type_name {
            /// A step of a chain (or a group, or a chord's callback) that gets
            /// its first argument from the step before it; `rest` holds the
            /// others.
            #vis fn link(#link_params) -> #krate::canvas::Link<Self> {
                #krate::canvas::Link::new(#link_rest)
            }
        }
    };
    (rest_def, linkable)
}

/// For a task with arguments and a `schedule`: the arguments its schedule
/// enqueues, each argument's `Default::default()`, through a call spanned on
/// the argument's type so that a type without `Default` is an error there.
fn scheduled_args(task: &Task, krate: &syn::Path) -> TokenStream {
    if task.options.schedule.is_none() || task.args.is_empty() {
        return quote!();
    }
    let default = |ty: &syn::Type| quote_spanned!(ty.span()=> #krate::__private::scheduled_arg::<#ty>());
    let args = match task.args.as_slice() {
        [(_, ty)] => default(ty),
        many => {
            let args_name = &task.args_name;
            let fields = many.iter().map(|(name, ty)| {
                let value = default(ty);
                quote!(#name: #value)
            });
            quote!(#args_name { #(#fields),* })
        }
    };
    quote! {
        fn __scheduled_args() -> ::core::option::Option<Self::Args> {
            ::core::option::Option::Some(#args)
        }
    }
}

fn options(task: &Task, krate: &syn::Path) -> TokenStream {
    let o = &task.options;
    let mut sets = Vec::new();
    if let Some(queue) = &o.queue {
        // Fails to compile, naming the rule, for a name the stores refuse.
        sets.push(quote!(#krate::queue::assert_valid(#queue); o.queue = #queue;));
    }
    if let Some(n) = o.max_retries {
        sets.push(quote!(o.max_retries = #n;));
    }
    if let Some(d) = o.retry_backoff {
        let d = duration(d);
        sets.push(quote!(o.retry.backoff = #d;));
    }
    if let Some(d) = o.retry_backoff_max {
        let d = duration(d);
        sets.push(quote!(o.retry.backoff_max = #d;));
    }
    if let Some(b) = o.retry_jitter {
        sets.push(quote!(o.retry.jitter = #b;));
    }
    for (field, value) in [
        ("time_limit", o.time_limit),
        ("soft_time_limit", o.soft_time_limit),
        ("visibility_timeout", o.visibility_timeout),
    ] {
        if let Some(d) = value {
            let field = format_ident!("{field}");
            let d = duration(d);
            sets.push(quote!(o.#field = ::core::option::Option::Some(#d);));
        }
    }
    if let Some(p) = o.priority {
        sets.push(quote!(o.priority = #p;));
    }
    if let Some((count, per)) = o.rate_limit {
        sets.push(quote!(o.rate_limit = ::core::option::Option::Some(#krate::rate::Rate {
            count: #count,
            per: ::core::time::Duration::from_secs(#per),
        });));
    }
    if let Some(key) = &o.rate_limit_key {
        sets.push(quote!(o.rate_limit_key = ::core::option::Option::Some(#key);));
    }
    if let Some(d) = o.unique_for {
        let d = duration(d);
        sets.push(quote!(o.unique_for = ::core::option::Option::Some(#d);));
    }
    if let Some((text, _)) = &o.schedule {
        sets.push(quote!(o.schedule = ::core::option::Option::Some(#text);));
    }
    if let Some(b) = o.unique_until_finished {
        sets.push(quote!(o.unique_until_finished = #b;));
    }
    if let Some(b) = o.track_started {
        sets.push(quote!(o.track_started = #b;));
    }
    if let Some(b) = o.ignore_result {
        sets.push(quote!(o.ignore_result = #b;));
    }
    quote! {{
        #[allow(unused_mut)]
        let mut o = #krate::TaskOptions::DEFAULT;
        #(#sets)*
        o
    }}
}

/// How the task's arguments are laid out, for `canvas::args_from`; `None`
/// for a task without arguments.
fn shape(task: &Task, krate: &syn::Path) -> Option<TokenStream> {
    let names: Vec<String> =
        task.args.iter().map(|(name, _)| name.to_string().trim_start_matches("r#").to_owned()).collect();
    match names.as_slice() {
        [] => None,
        [_] => Some(quote!(#krate::canvas::Shape::Alone)),
        [first, second] => Some(quote!(#krate::canvas::Shape::Pair(#first, #second))),
        [first, ..] => Some(quote!(#krate::canvas::Shape::Struct(#first))),
    }
}
