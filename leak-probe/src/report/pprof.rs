//! The task report as a pprof profile, like Go's `/debug/pprof/goroutine`.
//!
//! `GET /_stack?format=pprof` answers a gzipped protobuf in pprof's `profile.proto`
//! format, so `go tool pprof -top URL`, `go tool pprof -http=: URL` and profile stores
//! (Pyroscope, Parca, Polar Signals...) read tokio task reports with the tools they
//! already use for goroutines:
//!
//! - one **sample** per task group, its value the number of tasks (sample type
//!   `goroutine`/`count`, as Go's, so tools that know goroutine profiles show it the
//!   same way);
//! - its **stack**, leaf first: the marked await points, innermost first, then the spawn
//!   site as the root frame. Each frame is a function named after the line it stands for
//!   (`await leaky-server/src/sum.rs:81:32`, `spawn leaky-server/src/sum.rs:99:5`), with
//!   that file and line;
//! - **labels** `spawned_at` (the spawn site), `label` (the request's route, see
//!   [`crate::labels`]) and `oldest_ms`, which `-tagfocus` and `-tags` use.
//!
//! The messages below are `profile.proto`'s, written out with `prost`'s derive (no
//! `protoc` at build time); only the fields leak-probe fills are declared.

use std::collections::HashMap;
use std::io::Write as _;

use prost::Message;

use super::TaskReport;

/// The messages of pprof's `profile.proto` that a task profile uses.
#[allow(missing_docs)]
pub mod proto {
    /// A whole profile.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(message, repeated, tag = "3")]
        pub mapping: Vec<Mapping>,
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        /// Index 0 must be "".
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        #[prost(int64, tag = "9")]
        pub time_nanos: i64,
        #[prost(message, optional, tag = "11")]
        pub period_type: Option<ValueType>,
        #[prost(int64, tag = "12")]
        pub period: i64,
        /// Indices into `string_table`.
        #[prost(int64, repeated, tag = "13")]
        pub comment: Vec<i64>,
    }

    /// A value's type and unit (indices into the string table).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }

    /// One stack and its values.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        /// Leaf first.
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
        #[prost(message, repeated, tag = "3")]
        pub label: Vec<Label>,
    }

    /// A label: a string (`str`) or a number (`num`).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        #[prost(int64, tag = "1")]
        pub key: i64,
        #[prost(int64, tag = "2")]
        pub str: i64,
        #[prost(int64, tag = "3")]
        pub num: i64,
        #[prost(int64, tag = "4")]
        pub num_unit: i64,
    }

    /// The binary the frames are in (the server's executable).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Mapping {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "5")]
        pub filename: i64,
        #[prost(bool, tag = "7")]
        pub has_functions: bool,
        #[prost(bool, tag = "8")]
        pub has_filenames: bool,
        #[prost(bool, tag = "9")]
        pub has_line_numbers: bool,
    }

    /// A frame.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(uint64, tag = "2")]
        pub mapping_id: u64,
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
    }

    /// A frame's function and line.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        #[prost(int64, tag = "2")]
        pub line: i64,
        #[prost(int64, tag = "3")]
        pub column: i64,
    }

    /// A function (here: the line a frame stands for).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "2")]
        pub name: i64,
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        #[prost(int64, tag = "4")]
        pub filename: i64,
        #[prost(int64, tag = "5")]
        pub start_line: i64,
    }
}

/// Builds the profile's tables: strings, functions and locations, each interned once.
#[derive(Default)]
struct Builder {
    strings: Vec<String>,
    string_ids: HashMap<String, i64>,
    functions: Vec<proto::Function>,
    locations: Vec<proto::Location>,
    location_ids: HashMap<String, u64>,
}

impl Builder {
    fn string(&mut self, s: &str) -> i64 {
        if self.strings.is_empty() {
            self.strings.push(String::new());
            self.string_ids.insert(String::new(), 0);
        }
        if let Some(&id) = self.string_ids.get(s) {
            return id;
        }
        let id = self.strings.len() as i64;
        self.strings.push(s.to_owned());
        self.string_ids.insert(s.to_owned(), id);
        id
    }

    /// The location of a frame that stands for `site` (`file:line:column`), named `kind
    /// site`; one location and function per distinct name.
    fn frame(&mut self, kind: &str, site: &str) -> u64 {
        let name = format!("{kind} {site}");
        if let Some(&id) = self.location_ids.get(&name) {
            return id;
        }
        let (file, line, column) = split_site(site);
        let id = self.locations.len() as u64 + 1;
        let function = proto::Function {
            id,
            name: self.string(&name),
            system_name: self.string(&name),
            filename: self.string(file),
            start_line: line,
        };
        self.functions.push(function);
        self.locations.push(proto::Location {
            id,
            mapping_id: 1,
            line: vec![proto::Line {
                function_id: id,
                line,
                column,
            }],
        });
        self.location_ids.insert(name, id);
        id
    }
}

/// `file:line:column` → its parts (line and column 0 when missing, e.g. `unknown`).
fn split_site(site: &str) -> (&str, i64, i64) {
    let mut parts = site.rsplitn(3, ':');
    let (column, line, file) = (parts.next(), parts.next(), parts.next());
    match (
        file,
        line.and_then(|l| l.parse().ok()),
        column.and_then(|c| c.parse().ok()),
    ) {
        (Some(file), Some(line), Some(column)) => (file, line, column),
        _ => (site, 0, 0),
    }
}

/// The profile of `report` (not yet encoded): one sample per group.
pub fn profile(report: &TaskReport) -> proto::Profile {
    let mut b = Builder::default();
    let goroutine = b.string("goroutine");
    let count = b.string("count");
    let spawned_at = b.string("spawned_at");
    let oldest_ms = b.string("oldest_ms");
    let ms = b.string("milliseconds");
    let label_key = b.string("label");
    let mut samples = Vec::with_capacity(report.groups.len() + 1);
    for group in &report.groups {
        let mut stack: Vec<u64> = group
            .waiting_at
            .iter()
            .map(|at| b.frame("await", at))
            .collect();
        stack.push(b.frame("spawn", &group.spawned_at));
        let site = b.string(&group.spawned_at);
        let mut labels = Vec::new();
        if let Some(label) = &group.label {
            labels.push(proto::Label {
                key: label_key,
                str: b.string(label),
                ..Default::default()
            });
        }
        samples.push(proto::Sample {
            location_id: stack,
            value: vec![group.count as i64],
            label: [
                labels,
                vec![
                    proto::Label {
                        key: spawned_at,
                        str: site,
                        ..Default::default()
                    },
                    proto::Label {
                        key: oldest_ms,
                        num: i64::try_from(group.oldest_ms).unwrap_or(i64::MAX),
                        num_unit: ms,
                        ..Default::default()
                    },
                ],
            ]
            .concat(),
        });
    }
    if report.omitted_group_tasks > 0 {
        let other = b.frame("omitted", &format!("{} more groups", report.omitted_groups));
        samples.push(proto::Sample {
            location_id: vec![other],
            value: vec![report.omitted_group_tasks as i64],
            label: Vec::new(),
        });
    }
    let comment = b.string(&format!(
        "leak-probe task report: {} live task(s), {} in this profile",
        report.live_tasks, report.reported_tasks
    ));
    // The frames are already symbolized; the mapping only names the binary, so that
    // pprof does not go looking for it.
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "tokio-service".to_owned());
    let mapping = proto::Mapping {
        id: 1,
        filename: b.string(&binary),
        has_functions: true,
        has_filenames: true,
        has_line_numbers: true,
    };
    let time_nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    proto::Profile {
        sample_type: vec![proto::ValueType {
            r#type: goroutine,
            unit: count,
        }],
        sample: samples,
        mapping: vec![mapping],
        location: b.locations,
        function: b.functions,
        string_table: b.strings,
        time_nanos,
        period_type: Some(proto::ValueType {
            r#type: goroutine,
            unit: count,
        }),
        period: 1,
        comment: vec![comment],
    }
}

/// `report` as pprof reads it: the encoded profile, gzipped.
pub fn encode(report: &TaskReport) -> Vec<u8> {
    let bytes = profile(report).encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes)
        .and_then(|()| gz.finish())
        .expect("writing to a Vec does not fail")
}

/// Reads back what [`encode`] wrote (for tests and tools).
pub fn decode(gzipped: &[u8]) -> Result<proto::Profile, String> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gzipped), &mut bytes)
        .map_err(|e| format!("not gzip: {e}"))?;
    proto::Profile::decode(bytes.as_slice()).map_err(|e| format!("not a profile: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{TaskGroup, report_without_registry};

    #[test]
    fn a_group_becomes_a_sample_with_its_stack_leaf_first() {
        let mut report = report_without_registry(102, String::new());
        report.reported_tasks = 102;
        report.groups = vec![TaskGroup {
            count: 100,
            spawned_at: "leaky-server/src/sum.rs:99:5".into(),
            label: Some("/checkout".into()),
            waiting_at: vec!["leaky-server/src/sum.rs:81:32".into()],
            youngest_ms: 5,
            oldest_ms: 900,
            trace: None,
            task_ids: vec![1],
        }];
        let p = decode(&encode(&report)).unwrap();
        assert_eq!(p.sample.len(), 1);
        let s = &p.sample[0];
        assert_eq!(s.value, vec![100]);
        let names: Vec<&str> = s
            .location_id
            .iter()
            .map(|id| {
                let f = &p.function[*id as usize - 1];
                p.string_table[f.name as usize].as_str()
            })
            .collect();
        assert_eq!(
            names,
            [
                "await leaky-server/src/sum.rs:81:32",
                "spawn leaky-server/src/sum.rs:99:5"
            ]
        );
        let line = &p.location[s.location_id[0] as usize - 1].line[0];
        assert_eq!((line.line, line.column), (81, 32));
        assert_eq!(p.string_table[0], "");
        assert_eq!(split_site("unknown"), ("unknown", 0, 0));
    }
}
