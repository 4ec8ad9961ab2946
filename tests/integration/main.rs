//! The integration tests: one binary, so the heavy native features (llama.cpp,
//! ONNX Runtime) are linked once. Each module is one area, tested through real
//! parts (MariaDB with PKP's OJS datasets, real models, the real binary and
//! server); shared helpers live in `support/`.

mod support;

mod architecture;
mod backup_restore;
mod browser_harness;
mod cli;
mod crash_trials;
mod eval_product_path;
mod eval_reviewer_gold;
mod figures_service;
mod fuzz_http;
mod fuzz_inputs;
mod indexer_agent_log;
mod indexer_background;
mod matching_conflicts;
mod matching_indexed;
mod matching_real_model;
mod models_store;
mod ojs_journals;
mod ojs_sync;
mod ojs_tls;
mod operator_metrics;
mod screening_core;
mod screening_llm;
mod search_demo;
mod service_offline;
mod store_writers;
mod sync_errors;
mod systemd_unit;
mod update_channel;
mod update_service;
mod vision_files;
mod vision_models;
mod voice_intents;
mod voice_speech;
mod voice_testset;
mod web_access;
mod web_ai;
mod web_api;
mod web_appliance;
mod web_limits;
mod web_page;
mod web_pages;
mod web_pages_browser;
