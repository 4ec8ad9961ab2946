//! The developers' model store as tests see it; a missing model fails loudly.

use ojscog::models::{ModelStore, EMBEDDING_MODEL};

/// The store `scripts/fetch-models.sh` fills (`$OJSCOG_TEST_MODELS`), asserted to hold the embedding model.
pub fn store_with_embedding_model() -> ModelStore {
    let root = ModelStore::developer_root();
    let store = ModelStore::new(&root);
    assert!(
        store
            .current_version(EMBEDDING_MODEL)
            .ok()
            .flatten()
            .is_some(),
        "embedding model not installed in {} (OJSCOG_TEST_MODELS): run scripts/fetch-models.sh",
        root.display()
    );
    store
}
