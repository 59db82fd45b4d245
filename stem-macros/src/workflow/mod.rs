//! `#[stem::workflow]`: parse the options, validate the fn into a model, expand.

mod expand;
mod model;

use proc_macro2::TokenStream;
use quote::ToTokens;

use crate::common::options::Options;

/// Expands `#[workflow(args)] item`; on errors, the item unchanged plus every error.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let mut out = item.clone();
            out.extend(
                syn::Error::new_spanned(&item, "`#[stem::workflow]` goes on an `async fn`").into_compile_error(),
            );
            return out;
        }
    };
    let options = syn::parse::Parser::parse2(Options::parse_terminated, args);
    match options.and_then(|options| model::Workflow::from_parts(options, &function)) {
        Ok(workflow) => expand::expand(&workflow, &function),
        Err(error) => {
            let mut out = function.into_token_stream();
            out.extend(error.into_compile_error());
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::expand;

    #[test]
    fn a_workflow_needs_its_workflow_parameter_first() {
        let out = expand(
            quote!(),
            quote!(
                async fn f(order: u32) -> Result<u32, WorkflowError> {
                    Ok(order)
                }
            ),
        )
        .to_string();
        assert!(out.contains("takes `wf: WorkflowContext` as its first parameter"), "{out}");
    }

    #[test]
    fn expands_a_valid_workflow() {
        let out = expand(
            quote!(queue = "flows", max_run_time = "1h"),
            quote!(
                async fn checkout(wf: WorkflowContext, order: u32, note: String) -> Result<u64, WorkflowError> {
                    Ok(1)
                }
            ),
        )
        .to_string();
        assert!(out.contains("struct Checkout"), "{out}");
        assert!(out.contains("struct CheckoutArgs"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn reports_bad_options() {
        let out = expand(
            quote!(lease = 3, bogus = "x"),
            quote!(
                async fn f(wf: WorkflowContext) -> Result<(), E> {
                    Ok(())
                }
            ),
        )
        .to_string();
        assert!(out.contains("unknown option `bogus`"), "{out}");
        assert!(out.contains("expects a string"), "{out}");
    }
}
