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
    args_type_def(vis, fn_name, args_name, args, krate, "arguments")
}

/// The type of the arguments `args` of a fn, `what` (`arguments`, or
/// `arguments after the first`): `()` for none, an alias of the one type for
/// one, a serde struct for more.
pub(crate) fn args_type_def(
    vis: &syn::Visibility,
    fn_name: &syn::Ident,
    args_name: &syn::Ident,
    args: &[(syn::Ident, syn::Type)],
    krate: &syn::Path,
    what: &str,
) -> TokenStream {
    let serde_path = format!("{}::__private::serde", quote!(#krate).to_string().replace(' ', ""));
    match args {
        [] => quote! {
            #[doc = concat!("The ", #what, " of [`", stringify!(#fn_name), "`]: it takes none.")]
            #vis type #args_name = ();
        },
        [(_, ty)] => quote! {
            #[doc = concat!("The ", #what, " of [`", stringify!(#fn_name), "`]: one.")]
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
                #[doc = concat!("The ", #what, " of [`", stringify!(#fn_name), "`].")]
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

/// What front ends show of a fn: its arguments by name and type, its output
/// type and the first line of its doc comment, as the trait constants `ARGS`,
/// `OUTPUT_TYPE` and `DOC`.
pub(crate) fn described(
    args: &[(syn::Ident, syn::Type)],
    output: &syn::Type,
    attrs: &[syn::Attribute],
    krate: &syn::Path,
) -> TokenStream {
    let args = args.iter().map(|(name, ty)| {
        let (name, ty) = (name.to_string(), type_text(ty));
        quote!(#krate::args::Arg::new(#name, #ty))
    });
    let output = type_text(output);
    let doc = doc_line(attrs);
    quote! {
        const ARGS: &'static [#krate::args::Arg] = &[#(#args),*];
        const OUTPUT_TYPE: &'static str = #output;
        const DOC: &'static str = #doc;
    }
}

/// A type as written, with the spaces a token stream puts around `<`, `>`,
/// `::` and `&` taken out (`Vec<Option<u8>>`, `&str`).
pub(crate) fn type_text(ty: &syn::Type) -> String {
    let text = quote!(#ty).to_string();
    let mut out = String::with_capacity(text.len());
    for part in text.split(' ') {
        let glue = out.ends_with(['<', '&', ':', '(', '[']) || part.starts_with(['<', '>', ':', ',', ')', ']', ';']);
        if !out.is_empty() && !glue {
            out.push(' ');
        }
        out.push_str(part);
    }
    out
}

/// The first non-empty line of a doc comment (`///` lines), trimmed.
pub(crate) fn doc_line(attrs: &[syn::Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .flat_map(|text| text.lines().map(|l| l.trim().to_owned()).collect::<Vec<_>>())
        .find(|line| !line.is_empty())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::type_text;

    #[test]
    fn types_read_as_written() {
        for written in
            ["String", "Vec<Option<u8>>", "&str", "std::collections::BTreeMap<String, u64>", "(u8, String)", "[u8; 4]"]
        {
            let ty: syn::Type = syn::parse_str(written).expect("a type");
            assert_eq!(type_text(&ty), written);
        }
    }
}
