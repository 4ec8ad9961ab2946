//! `agent_execution_log` stays bounded: every insert prunes it by count and
//! by age (as `sync_runs` is pruned when a run finishes), and an assessment
//! of an unknown submission is not a run, so it is not logged.

use crate::support::Inspect;
use ojscog::store::{AgentRun, Store, AGENT_LOG_MAX_AGE_SECS, AGENT_LOG_MAX_ROWS};

fn run(at: i64) -> AgentRun {
    AgentRun {
        agent: "reviewer_matching".into(),
        submission_id: Some(1),
        started_at: at,
        duration_seconds: 0.1,
        outcome: "ok".into(),
        model_id: None,
        detail: None,
    }
}

#[test]
fn the_agent_log_is_pruned_by_count_and_by_age_on_every_insert() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("s.sqlite3");
    let store = Store::open(&p).unwrap();
    let now = ojscog::system::unix_now();
    {
        // Yesterday's flood (more rows than kept), plus some ancient rows.
        let mut c = rusqlite::Connection::open(&p).unwrap();
        let tx = c.transaction().unwrap();
        for i in 0..AGENT_LOG_MAX_ROWS + 500 {
            let at = if i < 20 {
                now - AGENT_LOG_MAX_AGE_SECS - 86_400
            } else {
                now - 86_400
            };
            tx.execute(
                "INSERT INTO agent_execution_log(agent, started_at, duration_seconds, outcome)
                 VALUES ('screening', ?1, 1.0, 'error')",
                [at],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    store.log_agent_run(&run(now)).unwrap();
    let count = |sql: &str| store.scalar_i64(sql).unwrap();
    assert_eq!(
        count("SELECT COUNT(*) FROM agent_execution_log"),
        AGENT_LOG_MAX_ROWS
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM agent_execution_log WHERE agent = 'reviewer_matching'"),
        1,
        "the newest row stays"
    );

    // Age alone: a row older than the limit goes at the next insert.
    {
        let c = rusqlite::Connection::open(&p).unwrap();
        c.execute(
            "INSERT INTO agent_execution_log(agent, started_at, duration_seconds, outcome)
             VALUES ('screening', ?1, 1.0, 'ok')",
            [now - AGENT_LOG_MAX_AGE_SECS - 1],
        )
        .unwrap();
        c.execute("DELETE FROM agent_execution_log WHERE id IN (SELECT id FROM agent_execution_log ORDER BY id LIMIT 100)", []).unwrap();
    }
    store.log_agent_run(&run(now)).unwrap();
    assert_eq!(
        count(&format!(
            "SELECT COUNT(*) FROM agent_execution_log WHERE started_at < {}",
            now - AGENT_LOG_MAX_AGE_SECS
        )),
        0
    );
}

#[cfg(feature = "llm")]
#[test]
fn an_assessment_of_an_unknown_submission_adds_no_log_row() {
    use ojscog::agents::screening::{ScreeningAgent, ScreeningError, AGENT};
    use ojscog::inference::llm::{self, Llm, LlmConfig};
    use std::sync::Arc;

    let m = llm::installed_model(
        std::path::Path::new("/nonexistent-ojscog-data"),
        ojscog::models::LLM_MODEL,
    )
    .unwrap_or_else(|e| panic!("the test LLM is not installed ({e}); run scripts/fetch-models.sh"));
    let llm = Llm::load(LlmConfig {
        model_path: m.path,
        n_threads: 2,
        ..LlmConfig::default()
    })
    .expect("the test LLM loads");
    let agent = ScreeningAgent::new(llm, Arc::new(ojscog::metrics::Metrics::new()));
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("s.sqlite3");
    ojscog::demo::load(&p).unwrap();
    let store = Store::open(&p).unwrap();
    for _ in 0..3 {
        assert!(matches!(
            agent.assess(&store, 999_999),
            Err(ScreeningError::NotFound(999_999))
        ));
    }
    assert_eq!(store.agent_run_count(AGENT, None, None).unwrap(), 0);
}
