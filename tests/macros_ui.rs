//! Mistakes in route attributes fail to compile, with the error on the
//! user's literal (expectations in `tests/ui/*.stderr`).

#[test]
fn route_macro_mistakes_fail_to_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
