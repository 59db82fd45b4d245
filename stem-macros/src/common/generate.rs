//! Code every macro generates alike: durations, the arguments type of a fn,
//! the checks spanned on its argument types, the name it registers under.

use std::time::Duration;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

/// A duration as a `const` expression.
pub(crate) fn duration(d: Duration) -> TokenStream {
    let millis = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    quote!(::core::time::Duration::from_millis(#millis))
}

/// The arguments type of a fn taking `args`: `()` for none, an alias of the
/// one type for one, a serde struct for more.
pub(crate) fn args_def(
    vis: &syn::Visibility,
    fn_name: &syn::Ident,
    args_name: &syn::Ident,
    args: &[(syn::Ident, syn::Type)],
    krate: &syn::Path,
) -> TokenStream {
    let serde_path = format!("{}::__private::serde", quote!(#krate).to_string().replace(' ', ""));
    match args {
        [] => quote! {
            #[doc = concat!("The arguments of [`", stringify!(#fn_name), "`]: it takes none.")]
            #vis type #args_name = ();
        },
        [(_, ty)] => quote! {
            #[doc = concat!("The argument of [`", stringify!(#fn_name), "`].")]
            #vis type #args_name = #ty;
        },
        many => {
            let fields = many.iter().map(|(name, ty)| {
                quote! {
                    #[doc = concat!("The `", stringify!(#name), "` argument.")]
                    #vis #name: #ty
                }
            });
            quote! {
                #[doc = concat!("The arguments of [`", stringify!(#fn_name), "`].")]
                #[derive(#krate::__private::serde::Serialize, #krate::__private::serde::Deserialize)]
                #[serde(crate = #serde_path)]
                #vis struct #args_name { #(#fields,)* }
            }
        }
    }
}

/// The fn's arguments taken out of the arguments value `args`.
pub(crate) fn call_args(args: &[(syn::Ident, syn::Type)], value: &syn::Ident) -> TokenStream {
    match args {
        [] => quote!(),
        [_] => quote!(#value),
        many => {
            let names = many.iter().map(|(name, _)| name);
            quote!(#(#value.#names),*)
        }
    }
}

/// The type the generated impl names as its arguments: the user's own type
/// where there is one argument, so that errors about it land there.
pub(crate) fn args_type(args: &[(syn::Ident, syn::Type)], args_name: &syn::Ident) -> TokenStream {
    match args {
        [(_, ty)] => quote!(#ty),
        _ => quote!(#args_name),
    }
}

/// One serializability check per argument type, spanned on the type.
pub(crate) fn arg_checks(args: &[(syn::Ident, syn::Type)], krate: &syn::Path) -> Vec<TokenStream> {
    args.iter().map(|(_, ty)| quote_spanned!(ty.span()=> #krate::__private::assert_task_arg::<#ty>();)).collect()
}

/// The name registered: the `name` option, or the module path and fn name.
pub(crate) fn registered_name(name: Option<&String>, fn_name: &syn::Ident) -> TokenStream {
    match name {
        Some(name) => quote!(#name),
        None => quote!(concat!(module_path!(), "::", stringify!(#fn_name))),
    }
}
