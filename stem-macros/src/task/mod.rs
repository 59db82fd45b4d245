//! `#[stem::task]`: parse the options, validate the fn into a model, expand.

mod expand;
mod model;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// Expands `#[task(args)] item`. On errors, emits the user's item unchanged plus
/// every error, so one mistake does not cascade into "cannot find" errors.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: syn::ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(_) => {
            let error = syn::Error::new_spanned(&item, "`#[stem::task]` goes on an `async fn`");
            return with_error(item, error);
        }
    };
    let options = syn::parse::Parser::parse2(crate::common::options::Options::parse_terminated, args);
    match options.and_then(|options| model::Task::from_parts(options, &function)) {
        Ok(task) => expand::expand(&task, &function),
        Err(error) => with_error(function.into_token_stream(), error),
    }
}

fn with_error(item: TokenStream, error: syn::Error) -> TokenStream {
    let mut out = item;
    out.extend(error.into_compile_error());
    out
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::expand;

    fn errors(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
        expand(args, item).to_string()
    }

    #[test]
    fn collects_every_error() {
        let out = errors(
            quote!(queue = 1, bogus = "x"),
            quote!(
                fn f<T>(x: T) {}
            ),
        );
        assert!(out.contains("expects a string"), "{out}");
        assert!(out.contains("unknown option `bogus`"), "{out}");
        assert!(out.contains("needs an `async fn`"), "{out}");
        assert!(out.contains("cannot be generic"), "{out}");
    }

    #[test]
    fn keeps_the_item_on_error() {
        let out = errors(
            quote!(nope = 1),
            quote!(
                async fn keep_me() -> Result<(), E> {
                    Ok(())
                }
            ),
        );
        assert!(out.contains("async fn keep_me"), "{out}");
    }

    #[test]
    fn a_scheduled_task_with_arguments_enqueues_their_defaults() {
        let item = quote!(
            async fn report(days: u32, only: Option<String>) -> Result<(), E> {
                Ok(())
            }
        );
        let scheduled = errors(quote!(schedule = "every 1h"), item.clone());
        assert!(!scheduled.contains("compile_error"), "{scheduled}");
        assert!(scheduled.contains("__scheduled_args") && scheduled.contains("scheduled_arg"), "{scheduled}");
        let plain = errors(quote!(), item);
        assert!(!plain.contains("__scheduled_args"), "{plain}");
    }

    #[test]
    fn expands_a_valid_task() {
        let out = errors(
            quote!(queue = "emails", time_limit = "30s"),
            quote!(
                async fn send_email(to: String, subject: String) -> Result<u64, E> {
                    Ok(1)
                }
            ),
        );
        assert!(out.contains("struct SendEmail"), "{out}");
        assert!(out.contains("struct SendEmailArgs"), "{out}");
        assert!(!out.contains("compile_error"), "{out}");
    }
}
