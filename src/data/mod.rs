//! MNIST data: loading (CSV, IDX, gzip'd IDX) and fetching.
