//! The sessions table's tests: changes from the stores, sorts, filters and holders.

use super::rows::Key;
use super::*;
use crate::server::DeleteReason;

fn id(n: i128) -> SessionId {
    SessionId(n * 0x0123_4567_89ab_cdef_0123_4567)
}

fn written(n: i128, views: u64, created_ms: i64) -> SessionChange {
    SessionChange::Written(SessionRow {
        id: id(n),
        data: DataText::from_json(format!(r#"{{"views":{views}}}"#).as_bytes()),
        expires_at: from_unix_millis(10_000_000 - created_ms),
        created_at: Some(from_unix_millis(created_ms)),
        updated_at: Some(from_unix_millis(created_ms + views as i64)),
        key: None,
    })
}

fn shown(table: &mut SessionTable) -> Vec<SessionId> {
    table.finish(&Holders::default());
    (0..table.shown_len())
        .map(|i| table.shown_at(i).unwrap().id)
        .collect()
}

/// Rows come out in the chosen order either way round, and follow updates and removals.
#[test]
fn sorts_by_each_column_and_follows_changes() {
    let holders = Holders::default();
    let mut table = SessionTable::default();
    for n in 0..5 {
        table.apply(0, written(n, 1, n as i64 * 10), &holders);
    }
    assert_eq!(shown(&mut table), (0..5).map(id).collect::<Vec<_>>());
    table.apply(0, written(1, 99, 10), &holders);
    table.set_sort(
        SessionSort {
            column: SortColumn::Updated,
            descending: true,
        },
        &holders,
    );
    assert_eq!(
        shown(&mut table)[0],
        id(1),
        "the session just saved is newest"
    );
    table.set_sort(
        SessionSort {
            column: SortColumn::Expires,
            descending: false,
        },
        &holders,
    );
    assert_eq!(
        shown(&mut table)[0],
        id(4),
        "the latest created expires first here"
    );
    table.apply(
        0,
        SessionChange::Removed {
            id: id(4),
            reason: DeleteReason::Expired,
        },
        &holders,
    );
    assert_eq!(table.len(), 4);
    assert_eq!(shown(&mut table)[0], id(3));
}

/// The filter matches id prefixes, data, holders and "external", and follows changes.
#[test]
fn filters_by_id_data_and_holder() {
    let mut table = SessionTable::default();
    let held = Holders::new([("A", vec![id(2)])]);
    for n in 0..4 {
        table.apply(0, written(n, n as u64 + 1, n as i64), &held);
    }
    let prefix = &id(3).to_string()[..6];
    table.set_filter(prefix, &held);
    assert_eq!(shown(&mut table), [id(3)]);
    table.set_filter("data:\"views\":2", &held);
    assert_eq!(shown(&mut table), [id(1)]);
    table.set_filter("@a", &held);
    assert_eq!(shown(&mut table), [id(2)]);
    table.set_filter("external", &held);
    assert_eq!(shown(&mut table), [id(0), id(1), id(3)]);
    // B copies the cookie of session 3: it is no longer external.
    let now_held = Holders::new([("A", vec![id(2)]), ("B", vec![id(3)])]);
    table.refilter(&now_held.changed_from(&held), &now_held);
    assert_eq!(shown(&mut table), [id(0), id(1)]);
    // A new session from outside shows up at once; an update that stops matching leaves.
    table.apply(0, written(9, 1, 50), &now_held);
    table.set_filter("views\":1", &now_held);
    assert_eq!(shown(&mut table), [id(0), id(9)]);
    table.apply(0, written(9, 2, 50), &now_held);
    assert_eq!(shown(&mut table), [id(0)]);
    table.set_filter("", &now_held);
    assert_eq!(table.shown_len(), 5);
}

/// Sessions a load or an audit made answer to "load" / "audit" (and `@load`, `@audit`),
/// not to "external"; the oldest tags give way past the limit.
#[test]
fn filters_the_sessions_a_load_or_an_audit_made() {
    let mut table = SessionTable::default();
    let mut holders = Holders::new([("A", vec![id(0)])]);
    holders.add_made(Maker::Load, &[id(1)], 10);
    holders.add_made(Maker::Audit, &[id(2), id(3)], 10);
    for n in 0..5 {
        table.apply(0, written(n, 1, n as i64), &holders);
    }
    for (filter, want) in [
        ("load", vec![id(1)]),
        ("@load", vec![id(1)]),
        ("aud", vec![id(2), id(3)]),
        ("browser:audit", vec![id(2), id(3)]),
        ("external", vec![id(4)]),
    ] {
        table.set_filter(filter, &holders);
        assert_eq!(shown(&mut table), want, "{filter}");
    }
    assert_eq!(holders.made_by(id(2)), Some(Maker::Audit));
    holders.add_made(Maker::Audit, &(10..20).map(id).collect::<Vec<_>>(), 10);
    assert_eq!(holders.made_by(id(1)), None, "the oldest tag gave way");
    assert_eq!(holders.made_by(id(19)), Some(Maker::Audit));
}

/// Without filter text the Audit's and Load's sessions are hidden — also when they are tagged
/// after their rows arrived, and on a table big enough to be filtered a slice at a time; one
/// switch shows them, and typing "audit" finds them either way.
#[test]
fn the_audits_and_loads_sessions_are_hidden_by_default() {
    let mut table = SessionTable::default();
    let mut holders = Holders::new([("A", vec![id(0)])]);
    let shown = |table: &mut SessionTable, holders: &Holders| -> Vec<SessionId> {
        table.finish(holders);
        (0..table.shown_len())
            .map(|i| table.shown_at(i).unwrap().id)
            .collect()
    };
    let n = BUILD_AT_ONCE as i128 + 100;
    for i in 0..n {
        table.apply(0, written(i, 1, i as i64), &holders);
    }
    table.set_filter("", &holders);
    assert!(!table.hides_made(), "nothing is hidden before an audit");
    assert_eq!(table.shown_len(), n as usize);

    // The audit's sessions are tagged after their rows arrived.
    let made: Vec<SessionId> = (1..n).map(id).collect();
    holders.add_made(Maker::Audit, &made, 2 * n as usize);
    table.refilter(&made, &holders);
    assert!(table.hides_made());
    assert!(
        shown(&mut table, &holders) == [id(0)],
        "only the student's session shows"
    );
    // A new audit session arrives while hidden: it stays hidden once tagged.
    table.apply(0, written(n, 1, n as i64), &holders);
    holders.add_made(Maker::Audit, &[id(n)], 2 * n as usize);
    table.refilter(&[id(n)], &holders);
    assert!(shown(&mut table, &holders) == [id(0)]);

    table.set_show_made(true, &holders);
    assert!(!table.hides_made());
    assert_eq!(shown(&mut table, &holders).len(), n as usize + 1);
    table.set_show_made(false, &holders);
    table.set_filter("audit", &holders);
    assert_eq!(
        shown(&mut table, &holders).len(),
        n as usize,
        "the filter finds them while hidden"
    );
    table.set_filter("", &holders);
    assert!(shown(&mut table, &holders) == [id(0)]);
}

/// The brute-force answer: every row the filter text matches, in the sort's order.
fn expected(table: &SessionTable, text: &str, holders: &Holders) -> Vec<SessionId> {
    let matcher = Matcher::parse(text);
    let column = table.sort().column;
    let mut keys: Vec<OrderKey> = table
        .iter()
        .filter(|s| {
            matcher
                .as_ref()
                .is_none_or(|m| m.matches(s.id, s.data.as_str(), holders))
        })
        .map(|s| s.row.key(column, s.id))
        .collect();
    keys.sort_unstable();
    if table.sort().descending {
        keys.reverse();
    }
    keys.into_iter().map(id_of).collect()
}

/// On a big table, a filter is found a slice at a time and a new order is sorted on its
/// own thread; changes that arrive meanwhile (new rows, saves that move a row, removals)
/// end up exactly where a filter and sort built from scratch would put them.
#[test]
fn slow_paths_end_exactly_where_a_fresh_build_would() {
    let holders = Holders::new([("A", vec![id(7)])]);
    let mut table = SessionTable::default();
    let n = BUILD_AT_ONCE as i128 + 10_000;
    for i in 0..n {
        table.apply(0, written(i, (i % 7) as u64, i as i64), &holders);
    }
    table.set_filter("views\":3", &holders);
    assert!(
        table.is_busy(),
        "a big table's filter takes more than one slice"
    );
    let mut step = 0;
    while table.work(&holders, Instant::now()) {
        // Changes between the slices: a new row, a save, a removal.
        table.apply(0, written(n + step, 3, (n + step) as i64), &holders);
        table.apply(0, written(step * 11, 3, (step * 11) as i64), &holders);
        table.apply(
            0,
            SessionChange::Removed {
                id: id(step * 13 + 1),
                reason: DeleteReason::Deleted,
            },
            &holders,
        );
        step += 1;
    }
    assert!(step > 3, "the pass took several slices");
    assert_eq!(shown(&mut table), expected(&table, "views\":3", &holders));

    table.set_sort(
        SessionSort {
            column: SortColumn::Updated,
            descending: true,
        },
        &holders,
    );
    assert_eq!(
        table.sort().column,
        SortColumn::Created,
        "the old order stays meanwhile"
    );
    for i in 0..500 {
        table.apply(0, written(i * 3, 50, (i * 3) as i64), &holders);
        table.apply(0, written(n * 2 + i, 3, 1), &holders);
    }
    table.finish(&holders);
    assert_eq!(table.sort().column, SortColumn::Updated);
    assert_eq!(shown(&mut table), expected(&table, "views\":3", &holders));
    table.set_filter("", &holders);
    assert_eq!(shown(&mut table), expected(&table, "", &holders));
    // A narrower filter looks through the wider one's matches.
    table.set_filter("views", &holders);
    table.finish(&holders);
    table.set_filter("views\":5", &holders);
    assert_eq!(shown(&mut table), expected(&table, "views\":5", &holders));
}

/// Two ids whose halves fold to the same 64 bits (practically never, but possible) are
/// still told apart: each is found, changed and removed as itself.
#[test]
fn ids_with_the_same_fold_stay_apart() {
    let holders = Holders::default();
    let mut table = SessionTable::default();
    let (a, b) = (0x0123_4567_89ab_cdef_u64, 0x0fed_cba9_8765_4321_u64);
    let twin = |x: u64| SessionId::from(Key(a ^ x, b ^ x));
    let (one, two) = (twin(0), twin(0x55));
    assert_eq!(Rows::fold(Key::from(one)), Rows::fold(Key::from(two)));
    for (id, views) in [(one, 1), (two, 2)] {
        table.apply(
            0,
            SessionChange::Written(SessionRow {
                id,
                data: DataText::from_json(format!(r#"{{"views":{views}}}"#).as_bytes()),
                expires_at: from_unix_millis(1),
                created_at: None,
                key: None,
                updated_at: None,
            }),
            &holders,
        );
    }
    assert_eq!(table.len(), 2);
    assert_eq!(table.get(one).unwrap().data.views(), Some(1));
    assert_eq!(table.get(two).unwrap().data.views(), Some(2));
    table.apply(
        0,
        SessionChange::Removed {
            id: one,
            reason: DeleteReason::Deleted,
        },
        &holders,
    );
    assert!(table.get(one).is_none());
    assert_eq!(table.get(two).unwrap().data.views(), Some(2));
    assert_eq!(table.len(), 1);
}

/// A session reported by two instances stays until both have dropped it.
#[test]
fn instances_are_counted_separately() {
    let holders = Holders::default();
    let mut table = SessionTable::default();
    table.apply(0, written(1, 1, 0), &holders);
    table.apply(1, written(1, 1, 0), &holders);
    assert_eq!(
        table.get(id(1)).unwrap().instances().collect::<Vec<_>>(),
        [0, 1]
    );
    table.forget_instance(1);
    assert_eq!(
        table.get(id(1)).unwrap().instances().collect::<Vec<_>>(),
        [0]
    );
    table.apply(
        0,
        SessionChange::Removed {
            id: id(1),
            reason: DeleteReason::Deleted,
        },
        &holders,
    );
    assert!(table.is_empty());
}
