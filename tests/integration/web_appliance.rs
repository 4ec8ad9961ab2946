//! What the appliance adds to the status page: the A/B root-slot states, and
//! never the first-boot admin token (any LAN visitor who fetched `/` first
//! used to see it; it is shown on the box's console only).

use crate::support::web;

#[test]
fn the_first_boot_admin_token_is_never_on_the_page_and_slots_are_listed() {
    let slots_dir = tempfile::tempdir().unwrap();
    let slots = slots_dir.path().join("slots.json");
    std::fs::write(
        &slots,
        r#"{"booted":"B","primary":"B","order":"B A","updated":1764000000,
            "slots":{"A":{"device":"/dev/vda2","state":"bad","tries_left":0,"booted":false,"version":"0.1.0"},
                     "B":{"device":"/dev/vda3","state":"good","tries_left":3,"booted":true,"version":"0.1.1"}}}"#,
    )
    .unwrap();
    let s2 = slots.clone();
    let t = web::start_with(move |c| c.web.slots_file = s2, false);
    let once = t.dir.path().join("admin-token.once");
    std::fs::write(&once, "first-boot-token-5f2a9c\n").unwrap();

    // Even an unauthenticated HEAD or GET of / (a scanner) sees nothing of it.
    assert_eq!(t.request("HEAD", "/").status, 200);
    assert_eq!(t.get_anon("/").status, 401);
    let page = t.get("/").body;
    assert!(
        !page.contains("first-boot-token-5f2a9c"),
        "never on the LAN page"
    );
    assert!(once.exists(), "the page does not touch the file");
    assert!(page.contains(r#"<dd id="slot-booted">B</dd>"#), "{page}");
    assert!(
        page.contains(r#"<tr data-slot="A"><td>A</td><td>bad</td>"#),
        "{page}"
    );
    assert!(
        page.contains(r#"<tr data-slot="B"><td>B</td><td>good</td><td>3</td><td>0.1.1</td>"#),
        "{page}"
    );

    t.stop();
}

#[test]
fn page_without_appliance_files_has_no_appliance_card() {
    let t = web::start_with(
        |c| c.web.slots_file = "/nonexistent/slots.json".into(),
        true,
    );
    assert!(!t.get("/").body.contains(r#"id="appliance""#));
    t.stop();
}
