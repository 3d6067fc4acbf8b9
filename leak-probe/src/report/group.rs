//! Grouping: tasks that share a spawn site, await points and tokio trace become one group.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use super::{ReportOptions, TaskGroup, TaskLine, TaskReport, TraceSource, Traces, millis};
use crate::registry::{self, AWAIT_DEPTH, Site, TaskInfo};

/// What makes two tasks the same in a report.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key<'a> {
    site: Option<Site>,
    label: Option<&'static str>,
    awaits: [Option<Site>; AWAIT_DEPTH],
    trace: Option<&'a str>,
}

struct Acc {
    count: usize,
    youngest: Duration,
    oldest: Duration,
    ids: Vec<u64>,
}

/// Groups `tasks` by spawn site, await points and trace.
///
/// With `include_unregistered`, tasks that appear in the tokio dump but not in `tasks`
/// (spawned before the registry was attached) are reported under `unknown`.
pub fn build(
    live: usize,
    tasks: &[TaskInfo],
    traces: Traces,
    now: Instant,
    opts: &ReportOptions,
    include_unregistered: bool,
) -> TaskReport {
    let with_awaits = opts.source != TraceSource::SitesOnly;
    let mut groups: HashMap<Key<'_>, Acc> = HashMap::new();
    let mut listed: Vec<(Duration, &TaskInfo, Option<&str>)> = Vec::new();
    fn add<'a>(groups: &mut HashMap<Key<'a>, Acc>, key: Key<'a>, id: u64, age: Duration) {
        let acc = groups.entry(key).or_insert(Acc {
            count: 0,
            youngest: age,
            oldest: age,
            ids: Vec::new(),
        });
        acc.count += 1;
        acc.youngest = acc.youngest.min(age);
        acc.oldest = acc.oldest.max(age);
        if acc.ids.len() < 10 {
            acc.ids.push(id);
        }
    }
    // `add` borrows `groups` mutably; the keys borrow `traces`. Both outlive the loop.
    let mut not_in_dump = 0;
    for t in tasks {
        let trace = traces.by_id.get(&t.id).map(String::as_str);
        if traces.captured && trace.is_none() {
            not_in_dump += 1;
        }
        let awaits = if with_awaits {
            t.awaits
        } else {
            [None; AWAIT_DEPTH]
        };
        add(
            &mut groups,
            Key {
                site: Some(t.site),
                label: t.label,
                awaits,
                trace,
            },
            t.id,
            t.age(now),
        );
        if opts.list_tasks {
            listed.push((t.age(now), t, trace));
        }
    }
    if include_unregistered && traces.captured {
        let known: HashSet<u64> = tasks.iter().map(|t| t.id).collect();
        for (id, trace) in &traces.by_id {
            if !known.contains(id) {
                let key = Key {
                    site: None,
                    label: None,
                    awaits: [None; AWAIT_DEPTH],
                    trace: Some(trace),
                };
                add(&mut groups, key, *id, Duration::ZERO);
            }
        }
    }
    let mut note = traces.note.clone();
    if not_in_dump > 0 {
        note = Some(format!(
            "{not_in_dump} task(s) have no tokio trace: they were running (or not yet \
             spawned) while the dump was taken"
        ));
    }

    // Formatting a site is a few allocations; do it once per site, not once per task.
    let mut names: HashMap<Site, String> = HashMap::new();
    let mut name = |site: Site| {
        names
            .entry(site)
            .or_insert_with(|| registry::site_string(site))
            .clone()
    };
    let mut groups: Vec<TaskGroup> = groups
        .into_iter()
        .map(|(key, acc)| TaskGroup {
            count: acc.count,
            spawned_at: key.site.map_or_else(|| "unknown".to_owned(), &mut name),
            label: key.label.map(str::to_owned),
            waiting_at: key.awaits.iter().rev().flatten().map(|s| name(s)).collect(),
            youngest_ms: millis(acc.youngest),
            oldest_ms: millis(acc.oldest),
            trace: key.trace.map(str::to_owned),
            task_ids: acc.ids,
        })
        .collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.spawned_at.cmp(&b.spawned_at))
            .then_with(|| a.label.cmp(&b.label))
            .then_with(|| a.waiting_at.cmp(&b.waiting_at))
            .then_with(|| a.trace.cmp(&b.trace))
    });
    let reported_tasks = groups.iter().map(|g| g.count).sum();
    let (omitted_groups, omitted_group_tasks) = if groups.len() > opts.max_groups {
        let rest = groups.split_off(opts.max_groups);
        (rest.len(), rest.iter().map(|g| g.count).sum())
    } else {
        (0, 0)
    };

    let (tasks, omitted_tasks) = if opts.list_tasks {
        // Oldest first: the longest-lived tasks are the likeliest leaks.
        listed.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
        let omitted = listed.len().saturating_sub(opts.max_tasks);
        let sites: HashMap<u64, Site> = tasks.iter().map(|t| (t.id, t.site)).collect();
        let lines = listed
            .into_iter()
            .take(opts.max_tasks)
            .map(|(age, t, trace)| TaskLine {
                id: t.id,
                spawned_at: name(t.site),
                label: t.label.map(str::to_owned),
                spawned_by: t.parent,
                parent_spawned_at: t.parent.and_then(|p| sites.get(&p)).map(|s| name(s)),
                age_ms: millis(age),
                waiting_at: if with_awaits {
                    t.waiting_at().map(&mut name).collect()
                } else {
                    Vec::new()
                },
                trace: trace.map(str::to_owned),
            })
            .collect();
        (Some(lines), omitted)
    } else {
        (None, 0)
    };

    TaskReport {
        live_tasks: live,
        reported_tasks,
        traces_captured: traces.captured,
        traces_note: note,
        paused_ms: traces.capture.map_or(0, millis),
        render_ms: traces.render.map(millis),
        groups,
        omitted_groups,
        omitted_group_tasks,
        tasks,
        omitted_tasks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::Location;

    fn task(id: u64, site: Site, ms: u64, now: Instant) -> TaskInfo {
        TaskInfo {
            id,
            site,
            spawned_at: now - Duration::from_millis(ms),
            parent: None,
            awaits: [None; AWAIT_DEPTH],
            label: None,
        }
    }

    #[test]
    fn groups_by_site_with_counts_and_ages() {
        let (a, b) = (Location::caller(), Location::caller());
        let now = Instant::now();
        let tasks = vec![
            task(1, a, 100, now),
            task(2, a, 300, now),
            task(3, b, 50, now),
        ];
        let opts = ReportOptions {
            list_tasks: true,
            ..ReportOptions::default()
        };
        let report = build(3, &tasks, Traces::not_asked(), now, &opts, true);
        assert_eq!(report.reported_tasks, 3);
        assert_eq!(report.groups[0].count, 2);
        assert_eq!(report.groups[0].youngest_ms, 100);
        assert_eq!(report.groups[0].oldest_ms, 300);
        assert_eq!(report.groups[1].count, 1);
        assert_eq!(report.paused_ms, 0, "the registry is read without a pause");
        let listed = report.tasks.as_ref().unwrap();
        assert_eq!(listed[0].id, 2, "oldest first");
    }

    #[test]
    fn await_points_split_groups_and_list_innermost_first() {
        let (site, outer, inner) = (Location::caller(), Location::caller(), Location::caller());
        let now = Instant::now();
        let mut waiting = task(1, site, 10, now);
        waiting.awaits = [Some(outer), Some(inner), None];
        let mut parent = task(2, site, 20, now);
        parent.parent = None;
        let mut child = task(3, site, 5, now);
        child.parent = Some(2);
        let tasks = vec![waiting, parent, child];
        let opts = ReportOptions {
            list_tasks: true,
            ..ReportOptions::default()
        };
        let report = build(3, &tasks, Traces::not_asked(), now, &opts, true);
        assert_eq!(report.groups.len(), 2);
        let parked = report.groups.iter().find(|g| g.count == 1).unwrap();
        assert_eq!(
            parked.waiting_at,
            vec![registry::site_string(inner), registry::site_string(outer)]
        );
        let child = report
            .tasks
            .unwrap()
            .into_iter()
            .find(|t| t.id == 3)
            .unwrap();
        assert_eq!(child.spawned_by, Some(2));
        assert_eq!(child.parent_spawned_at, Some(registry::site_string(site)));
        // Without await points, one group.
        let opts = ReportOptions {
            source: TraceSource::SitesOnly,
            ..ReportOptions::default()
        };
        let report = build(3, &tasks, Traces::not_asked(), now, &opts, true);
        assert_eq!(report.groups.len(), 1);
    }

    #[test]
    fn caps_groups_and_says_what_it_left_out() {
        let now = Instant::now();
        let site = Location::caller();
        let tasks: Vec<_> = (0..5u64).map(|i| task(i, site, 0, now)).collect();
        // Five distinct sites would need five call sites; use traces to split instead.
        let traces = super::super::tokio_dump::traces_for_tests(
            (0..5u64).map(|i| (i, format!("trace {i}"))).collect(),
        );
        let opts = ReportOptions {
            max_groups: 2,
            ..ReportOptions::default()
        };
        let report = build(5, &tasks, traces, now, &opts, false);
        assert_eq!(report.groups.len(), 2);
        assert_eq!(report.omitted_groups, 3);
        assert_eq!(report.omitted_group_tasks, 3);
        assert!(
            report
                .to_string()
                .contains("3 more group(s) with 3 task(s)")
        );
    }
}
