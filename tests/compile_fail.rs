//! Shape errors are compile errors. Each case is rejected by the type system
//! itself (so `cargo check`, which trybuild runs, sees it), and the expected
//! compiler output names both sizes.

#[test]
fn shape_mismatches_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
