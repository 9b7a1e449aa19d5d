//! Which commands create the database, and what the log says while they do.

use std::net::TcpListener;

use super::{Database, pageshare};

#[tokio::test]
async fn serve_binds_its_address_before_it_touches_the_database() {
    let db = Database::unused();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let bind = taken.local_addr().unwrap().to_string();
    let env = [("DATABASE_URL", db.url.as_str()), ("PAGESHARE_BIND", &bind)];
    let run = pageshare(&["serve"], &env, None);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.starts_with(&format!(
            "pageshare: cannot listen on PAGESHARE_BIND={bind}: "
        )),
        "{run:?}"
    );
    assert!(!db.exists().await);
}
