// expect: error[E0080]
// expect: an image of C × H × W values must come from a row of N = C · H · W values
// expect: evaluation of `mimic::image::SameLength::<1, 28, 28, 785>::CHECK` failed
// Rows of 785 values are not 1 × 28 × 28 images.
fn main() {
    let rows = vec![[0.0f32; 785]; 2];
    let _ = mimic::images::<1, 28, 28, 785>(&rows);
}
