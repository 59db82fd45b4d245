//! What the macros share: option parsing and checks, error collection, the
//! shape of an annotated fn, and the code every macro generates alike.

pub(crate) mod duration;
pub(crate) mod errors;
pub(crate) mod generate;
pub(crate) mod options;
pub(crate) mod signature;
