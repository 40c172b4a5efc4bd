//! Property tests of `mimic`'s gradients: every activation, loss, layer and a whole
//! teacher against finite differences computed in f64 (see `tests/`). The crate
//! exists so that `mimic`'s own manifest needs no test-only dependencies.
