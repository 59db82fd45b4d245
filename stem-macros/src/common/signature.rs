//! The shape of an annotated fn: its `Result` types and the names derived
//! from it.

use syn::{GenericArgument, PathArguments, Type};

/// `T` and `E` of a return type `Result<T, E>` (`E` is `None` for an alias's `Result<T>`).
pub(crate) fn result_types(ty: &Type) -> (Option<Type>, Option<Type>) {
    let Type::Path(path) = ty else { return (None, None) };
    let Some(last) = path.path.segments.last().filter(|s| s.ident == "Result") else { return (None, None) };
    let PathArguments::AngleBracketed(generics) = &last.arguments else { return (None, None) };
    let mut types = generics.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    (types.next(), types.next())
}

/// `send_email` as `SendEmail`: the name of a generated type.
pub(crate) fn upper_camel(snake: &str) -> String {
    snake
        .trim_start_matches("r#")
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::upper_camel;

    #[test]
    fn camel_case_names() {
        assert_eq!(upper_camel("send_email"), "SendEmail");
        assert_eq!(upper_camel("add"), "Add");
        assert_eq!(upper_camel("_private_job_"), "PrivateJob");
        assert_eq!(upper_camel("r#type"), "Type");
    }
}
