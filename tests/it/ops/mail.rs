//! Mail over real SMTP (issue 29, item 1): the outbox and its sender
//! against the harness's SMTP sink. A mail queued in a transaction arrives
//! with its text and HTML parts; an SMTP server that is down delays it
//! without losing or doubling it and without holding up requests; failures
//! and give-ups show on `/metrics`; the body is sealed at rest and emptied
//! once sent; several instances on one database send each mail once.

use crate::harness::smtp::sink_of;
use crate::harness::{metric, TestApp};
use gatehouse::mail::Mail;
use gatehouse::store::models::mail_outbox::OutboxRow;
use std::time::{Duration, Instant};

backend_tests!(with crate::harness::smtp::own_sink_config;
    a_queued_mail_arrives_over_smtp_with_text_and_html_parts,
    the_body_is_sealed_at_rest_and_emptied_once_sent,
    a_mail_outlives_an_smtp_outage_and_arrives_once,
    a_mail_not_sent_within_a_day_is_given_up_and_counted,
    a_mail_refused_for_good_is_given_up_at_once,
    sent_mail_is_pruned_a_week_later,
    two_instances_send_each_mail_once,
    concurrent_claims_take_each_mail_once,
);

/// Past any retry's back-off (jitter included): moving the clock by this
/// makes a waiting mail due.
const LATER: i64 = 2 * gatehouse::app::outbox::BACKOFF_MAX;

/// A reset-like mail to `to` whose link holds `secret`.
fn mail_to(app: &TestApp, to: &str, secret: &str) -> Mail {
    let link = app.url(&format!("/password/reset?token={secret}"));
    Mail {
        to: to.into(),
        subject: "Reset your password – gatehouse".into(),
        // Non-ASCII and a long line, so lettre encodes the parts.
        text: format!(
            "Hello Ånnä,\n\nsomeone asked to reset the password of your account. {}\n\nOpen {link} to choose a new one.\n\nIf it was not you, ignore this mail.\n",
            "The link works for thirty minutes and only once; a newer link makes it void.".repeat(2)
        ),
        html: format!(
            "<p>Hello Ånnä,</p><p><a href=\"{link}\">Choose a new password</a></p><p>If it was not you, ignore this mail.</p>"
        ),
    }
}

/// Queues `mails` in one transaction, as a page does, and wakes the sender.
fn queue(app: &TestApp, mails: &[Mail]) -> Vec<String> {
    queue_at(app, mails, app.clock().now())
}

/// Queues `mails` as if it were `now`.
fn queue_at(app: &TestApp, mails: &[Mail], now: i64) -> Vec<String> {
    let mut c = app.state.store.conn().unwrap();
    let ids = c
        .transaction(|tx| {
            mails
                .iter()
                .map(|m| app.state.outbox.queue(tx, m, now))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap();
    app.state.outbox.wake();
    ids
}

fn rows(app: &TestApp) -> Vec<OutboxRow> {
    app.state.store.conn().unwrap().outbox_rows().unwrap()
}

fn row(app: &TestApp, id: &str) -> OutboxRow {
    rows(app).into_iter().find(|r| r.id == id).unwrap()
}

/// Waits (up to 30 s) until `ok` holds for the outbox's row `id`.
async fn until_row(
    app: &TestApp,
    id: &str,
    what: &str,
    ok: impl Fn(&OutboxRow) -> bool,
) -> OutboxRow {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = row(app, id);
        if ok(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "{what}: the row is still {r:?}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_queued_mail_arrives_over_smtp_with_text_and_html_parts(app: TestApp) {
    let sink = sink_of(&app);
    let mail = mail_to(&app, "ann@example.com", "tok-arrives");
    queue(&app, std::slice::from_ref(&mail));

    let got = sink.wait_for_mail_to("ann@example.com");
    assert_eq!(got.to, ["ann@example.com"]);
    assert_eq!(got.from, app.state.config.mail_from);
    assert_eq!(got.subject, mail.subject);
    assert_eq!(got.text.trim_end(), mail.text.trim_end());
    assert_eq!(got.html.trim_end(), mail.html);
    assert_eq!(
        got.link_starting_with(&app.url("/password/reset")),
        app.url("/password/reset?token=tok-arrives")
    );
    let raw = got.raw.to_ascii_lowercase();
    assert!(raw.contains("multipart/alternative"), "{}", got.raw);
    assert!(raw.contains("from: gatehouse@localhost"), "{}", got.raw);
}

/// docs/SECURITY.md, mail bodies: the links in a queued mail are secrets,
/// so the database holds its body sealed (neither the link, its token nor
/// the text can be read there), and nothing of it once it is sent.
async fn the_body_is_sealed_at_rest_and_emptied_once_sent(app: TestApp) {
    let sink = sink_of(&app);
    let mail = mail_to(&app, "bob@example.com", "tok-sealed-SECRET");
    // Read inside the queuing transaction: before the sender can see it.
    let now = app.clock().now();
    let mut c = app.state.store.conn().unwrap();
    let stored = c
        .transaction(|tx| {
            let id = app.state.outbox.queue(tx, &mail, now)?;
            let rows = tx.outbox_rows()?;
            Ok::<_, gatehouse::store::StoreError>(rows.into_iter().find(|r| r.id == id).unwrap())
        })
        .unwrap();
    drop(c);
    app.state.outbox.wake();
    assert_eq!(stored.recipient, "bob@example.com");
    assert_eq!(stored.subject, mail.subject);
    for plain in [
        "tok-sealed-SECRET",
        "/password/reset",
        "Hello",
        "href",
        "ignore",
    ] {
        assert!(
            !stored.body.contains(plain),
            "{plain} readable in {}",
            stored.body
        );
    }
    assert!(stored.body.len() > mail.text.len(), "{}", stored.body);

    let got = sink.wait_for_mail_to("bob@example.com");
    assert!(got.text.contains("tok-sealed-SECRET"));
    let sent = until_row(&app, &stored.id, "marked sent", |r| r.sent_at.is_some()).await;
    assert_eq!(sent.body, "");
    assert_eq!(sent.attempts, 1);
    assert_eq!(sent.given_up_at, None);
}

/// Issue 29: the SMTP server down, then back: the mail is delivered once,
/// nothing is lost, and the server answers requests meanwhile; the failed
/// attempts show on /metrics.
async fn a_mail_outlives_an_smtp_outage_and_arrives_once(app: TestApp) {
    let sink = sink_of(&app);
    sink.stop();
    let [id] = <[String; 1]>::try_from(queue(
        &app,
        &[mail_to(&app, "cy@example.com", "tok-outage")],
    ))
    .unwrap();

    // Refused twice: it waits, backing off, with the reason kept.
    // (Not while the sender holds it: a claimed row counts the attempt
    // before its outcome and the next due time are written.)
    let r = until_row(&app, &id, "two failed attempts", |r| {
        r.attempts >= 2 && r.claimed_until.is_none()
    })
    .await;
    assert!(r.sent_at.is_none() && r.given_up_at.is_none(), "{r:?}");
    assert!(r.last_error.is_some(), "{r:?}");
    assert!(r.body.starts_with("v1."), "{r:?}");
    assert!(r.next_attempt_at > app.clock().now() - 1, "{r:?}");
    // Requests are answered as usual meanwhile.
    assert_eq!(app.get("/healthz").await.status(), 200);
    let svc = app.service_client();
    let t = app
        .post_form_basic("/token", &svc, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(t.status(), 200);
    assert!(metric(&app, "gatehouse_mail_failed_attempts_total").await >= 1.0);
    assert_eq!(metric(&app, "gatehouse_mail_sent_total").await, 0.0);
    assert_eq!(metric(&app, "gatehouse_mail_unsent").await, 1.0);
    assert!(sink.all().is_empty());

    // Back: the retry (brought forward, not waited for) delivers it once.
    sink.restart();
    app.clock().advance(LATER);
    app.state.outbox.wake();
    let got = sink.wait_for_mail_to("cy@example.com");
    assert!(got.text.contains("tok-outage"));
    let sent = until_row(&app, &id, "marked sent", |r| r.sent_at.is_some()).await;
    assert_eq!(sent.body, "");
    // A few more rounds find nothing left to send.
    app.clock().advance(LATER);
    app.state.outbox.wake();
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.mails_to("cy@example.com").len(), 1);
    assert_eq!(metric(&app, "gatehouse_mail_sent_total").await, 1.0);
    assert_eq!(metric(&app, "gatehouse_mail_given_up_total").await, 0.0);
}

/// A mail the SMTP server never takes is given up a day after it was
/// queued: not tried again, its body emptied, counted on /metrics.
async fn a_mail_not_sent_within_a_day_is_given_up_and_counted(app: TestApp) {
    let sink = sink_of(&app);
    sink.stop();
    let [id] = <[String; 1]>::try_from(queue(&app, &[mail_to(&app, "di@example.com", "tok-late")]))
        .unwrap();
    until_row(&app, &id, "a failed attempt", |r| {
        r.attempts >= 1 && r.claimed_until.is_none()
    })
    .await;
    app.clock()
        .advance(gatehouse::app::outbox::GIVE_UP_AFTER + 1);
    app.state.outbox.wake();
    let r = until_row(&app, &id, "given up", |r| r.given_up_at.is_some()).await;
    assert_eq!(r.body, "");
    assert!(r.sent_at.is_none());
    assert!(r.last_error.is_some(), "{r:?}");
    assert_eq!(metric(&app, "gatehouse_mail_given_up_total").await, 1.0);
    assert_eq!(metric(&app, "gatehouse_mail_sent_total").await, 0.0);

    // Back up: it stays given up.
    sink.restart();
    app.clock().advance(LATER);
    app.state.outbox.wake();
    actix_rt::time::sleep(Duration::from_millis(300)).await;
    assert!(sink.mails_to("di@example.com").is_empty());
    assert_eq!(row(&app, &id).attempts, r.attempts);
}

/// A permanent refusal (RFC 5321 §4.2.1: a 5yz reply) is not retried: the
/// mail is given up at its first attempt, its body emptied, and counted.
async fn a_mail_refused_for_good_is_given_up_at_once(app: TestApp) {
    let sink = sink_of(&app);
    let to = "nobody@refused.invalid";
    let [id] = <[String; 1]>::try_from(queue(&app, &[mail_to(&app, to, "tok-refused")])).unwrap();
    let r = until_row(&app, &id, "given up", |r| r.given_up_at.is_some()).await;
    assert_eq!(r.attempts, 1);
    assert_eq!(r.body, "");
    assert!(
        r.last_error.as_deref().unwrap_or("").contains("550"),
        "{r:?}"
    );
    assert_eq!(metric(&app, "gatehouse_mail_given_up_total").await, 1.0);
    assert_eq!(
        metric(&app, "gatehouse_mail_failed_attempts_total").await,
        1.0
    );
    assert!(sink.mails_to(to).is_empty());
}

/// The periodic clean-up deletes outbox rows a week after they were sent
/// (`DbConn::prune_finished_mail`), and only those.
async fn sent_mail_is_pruned_a_week_later(app: TestApp) {
    let sink = sink_of(&app);
    let sent = queue(&app, &[mail_to(&app, "eve@example.com", "tok-old")]);
    sink.wait_for_mail_to("eve@example.com");
    let sent = until_row(&app, &sent[0], "marked sent", |r| r.sent_at.is_some()).await;
    sink.stop();
    let waiting = queue(&app, &[mail_to(&app, "fay@example.com", "tok-waiting")]);
    let mut c = app.state.store.conn().unwrap();
    let keep = gatehouse::app::outbox::KEEP_FINISHED;
    let now = sent.sent_at.unwrap();
    assert_eq!(c.prune_finished_mail(now - keep).unwrap(), 0);
    assert_eq!(c.prune_finished_mail(now + 1).unwrap(), 1);
    let ids: Vec<String> = rows(&app).into_iter().map(|r| r.id).collect();
    assert_eq!(ids, waiting);
}

/// Issue 29: two instances on one database (PostgreSQL: `FOR UPDATE SKIP
/// LOCKED`; SQLite: one writer) send each of N queued mails exactly once.
async fn two_instances_send_each_mail_once(app: TestApp) {
    const N: usize = 60;
    let sink = sink_of(&app);
    let other = app.sibling();
    let mails: Vec<Mail> = (0..N)
        .map(|i| mail_to(&app, &format!("p{i}@example.com"), &format!("tok-{i}")))
        .collect();
    queue(&app, &mails);
    for i in 0..N {
        let got = sink.wait_for_mail_to(&format!("p{i}@example.com"));
        assert!(got.text.contains(&format!("token=tok-{i}")), "{}", got.text);
    }
    for r in rows(&app) {
        until_row(&app, &r.id, "marked sent", |r| r.sent_at.is_some()).await;
    }
    // Claimed once each, sent once each, by one instance or the other.
    let rows = rows(&app);
    assert_eq!(rows.len(), N);
    assert!(
        rows.iter().all(|r| r.attempts == 1 && r.body.is_empty()),
        "{rows:?}"
    );
    assert_eq!(sink.all().len(), N);
    let here = metric(&app, "gatehouse_mail_sent_total").await;
    let text = app
        .http
        .get(other.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let there: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("gatehouse_mail_sent_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(here + there, N as f64);
}

/// The claim itself under contention: six senders, each on a connection of
/// its own, claim from one outbox at once, three mails a claim, until nothing is left;
/// every mail is claimed by exactly one of them (PostgreSQL: the claim
/// skips rows another connection is claiming, `FOR UPDATE SKIP LOCKED`;
/// SQLite: one writer at a time).
async fn concurrent_claims_take_each_mail_once(app: TestApp) {
    const N: usize = 120;
    const SENDERS: usize = 6;
    let mails: Vec<Mail> = (0..N)
        .map(|i| mail_to(&app, &format!("q{i}@example.com"), &format!("tok-{i}")))
        .collect();
    // Due only tomorrow: the server's own sender leaves them alone.
    let now = app.clock().now() + 86_400;
    let mut ids = queue_at(&app, &mails, now);
    let lease = gatehouse::app::outbox::LEASE;
    let store = &app.state.store;
    let mut claimed: Vec<String> = std::thread::scope(|s| {
        let senders: Vec<_> = (0..SENDERS)
            .map(|_| {
                s.spawn(move || {
                    let mut c = store.conn().unwrap();
                    let mut mine = Vec::new();
                    loop {
                        let got = c
                            .write(|tx| tx.claim_due_mail(now, now + lease, 3))
                            .unwrap();
                        if got.is_empty() {
                            return mine;
                        }
                        mine.extend(got.into_iter().map(|m| m.id));
                    }
                })
            })
            .collect();
        senders
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    claimed.sort();
    ids.sort();
    assert_eq!(claimed, ids, "each mail claimed once");
    let rows = rows(&app);
    assert!(
        rows.iter()
            .all(|r| r.attempts == 1 && r.claimed_until == Some(now + lease)),
        "{rows:?}"
    );
    // Leased: nothing is due again until the lease ends.
    let mut c = store.conn().unwrap();
    assert!(c
        .write(|tx| tx.claim_due_mail(now + lease - 1, now + 2 * lease, 100))
        .unwrap()
        .is_empty());
    assert_eq!(
        c.write(|tx| tx.claim_due_mail(now + lease + 1, now + 2 * lease, 1000))
            .unwrap()
            .len(),
        N
    );
}
