//! The numbers a request sums: `?nums=7,2,8,-9,4,0`, or the blog's own list by default.
//!
//! Bad input is the client's fault and gets a `400` with one line saying what is wrong:
//! an item that is not an integer, an empty item (`1,,2`), more than [`MAX_ITEMS`] items,
//! a number outside `i64`, or a sum outside `i64` (the answer is exact or an error, never
//! wrapped around).

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

/// The blog's slice: `s := []int{7, 2, 8, -9, 4, 0}`.
pub const BLOG_NUMS: [i64; 6] = [7, 2, 8, -9, 4, 0];

/// The most numbers one request may send.
pub const MAX_ITEMS: usize = 1000;

/// The numbers of one request, already validated (at most [`MAX_ITEMS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nums(pub Vec<i64>);

impl Nums {
    /// Parses the value of `nums=` (already percent-decoded).
    pub fn parse(list: &str) -> Result<Nums, BadRequest> {
        if list.is_empty() {
            return Err(BadRequest(
                "nums is empty: give comma-separated integers, e.g. nums=1,2,3".into(),
            ));
        }
        let mut nums = Vec::new();
        for (i, item) in list.split(',').enumerate() {
            if i == MAX_ITEMS {
                return Err(BadRequest(format!("too many numbers: at most {MAX_ITEMS}")));
            }
            if item.is_empty() {
                return Err(BadRequest(format!(
                    "number {} is empty (two commas in a row?)",
                    i + 1
                )));
            }
            let n = item.parse::<i64>().map_err(|e| {
                let why = match e.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                        "is out of range for a 64-bit integer"
                    }
                    _ => "is not an integer",
                };
                BadRequest(format!("number {} ({:?}) {why}", i + 1, truncate(item)))
            })?;
            nums.push(n);
        }
        Ok(Nums(nums))
    }

    /// Splits like the blog's `s[:len(s)/2]` and `s[len(s)/2:]`.
    pub fn halves(&self) -> (Vec<i64>, Vec<i64>) {
        let (a, b) = self.0.split_at(self.0.len() / 2);
        (a.to_vec(), b.to_vec())
    }
}

impl Default for Nums {
    fn default() -> Self {
        Nums(BLOG_NUMS.to_vec())
    }
}

/// The exact sum of (at most [`MAX_ITEMS`]) numbers: an `i128` cannot overflow here.
pub fn partial_sum(nums: &[i64]) -> i128 {
    nums.iter().map(|&n| i128::from(n)).sum()
}

/// The answer a client gets: the exact sum, or an error if it does not fit in an `i64`.
pub fn answer(sum: i128) -> Result<i64, BadRequest> {
    i64::try_from(sum).map_err(|_| out_of_range())
}

/// The answer to a sum outside `i64`.
pub fn out_of_range() -> BadRequest {
    BadRequest("the sum is out of range for a 64-bit integer".into())
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A `400 Bad Request` with a one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, format!("{}\n", self.0)).into_response()
    }
}

/// The query string of the summing routes: only `nums` is allowed.
impl<S: Send + Sync> FromRequestParts<S> for Nums {
    type Rejection = BadRequest;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let mut nums = None;
        for (key, value) in form_pairs(query)? {
            match key.as_str() {
                "nums" if nums.is_none() => nums = Some(Nums::parse(&value)?),
                "nums" => return Err(BadRequest("nums is given twice".into())),
                other => {
                    return Err(BadRequest(format!(
                        "unknown query parameter {:?}: this route takes nums=1,2,3",
                        truncate(other)
                    )));
                }
            }
        }
        Ok(nums.unwrap_or_default())
    }
}

/// Splits and percent-decodes `a=1&b=2`.
pub fn form_pairs(query: &str) -> Result<Vec<(String, String)>, BadRequest> {
    let uri = format!("/?{query}")
        .parse()
        .map_err(|_| BadRequest("the query string is not valid".into()))?;
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| BadRequest(format!("the query string is not valid: {e}")))
}

/// Work per request when `ms` is not given.
pub const DEFAULT_MS: u64 = 1000;
/// The longest work a request may ask for.
pub const MAX_MS: u64 = 60_000;

/// `?ms=N`: milliseconds of work, `0..=MAX_MS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkMs(pub u64);

impl<S: Send + Sync> FromRequestParts<S> for WorkMs {
    type Rejection = BadRequest;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut ms = None;
        for (key, value) in form_pairs(parts.uri.query().unwrap_or(""))? {
            match (key.as_str(), ms) {
                ("ms", None) => match value.parse::<u64>() {
                    Ok(n) if n <= MAX_MS => ms = Some(n),
                    _ => {
                        return Err(BadRequest(format!(
                            "ms must be a whole number of milliseconds from 0 to {MAX_MS}"
                        )));
                    }
                },
                ("ms", Some(_)) => return Err(BadRequest("ms is given twice".into())),
                _ => {
                    return Err(BadRequest(
                        "unknown query parameter: this route takes ms=N".into(),
                    ));
                }
            }
        }
        Ok(WorkMs(ms.unwrap_or(DEFAULT_MS)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_blog_list() {
        assert_eq!(Nums::parse("7,2,8,-9,4,0").unwrap(), Nums::default());
        assert_eq!(Nums::default().halves(), (vec![7, 2, 8], vec![-9, 4, 0]));
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        let err = |s| Nums::parse(s).unwrap_err().0;
        assert!(err("").contains("empty"));
        assert!(err("1,,2").contains("number 2 is empty"));
        assert!(err("1,x").contains("not an integer"));
        assert!(err("1, 2").contains("not an integer"));
        assert!(err("9223372036854775808").contains("out of range"));
        let many = vec!["1"; MAX_ITEMS + 1].join(",");
        assert!(err(&many).contains("too many"));
        assert!(Nums::parse(&vec!["1"; MAX_ITEMS].join(",")).is_ok());
    }

    #[test]
    fn sums_are_exact_or_an_error() {
        // The running total may leave i64 on the way; only the answer must fit.
        assert_eq!(answer(partial_sum(&[i64::MAX, 1, -1])), Ok(i64::MAX));
        assert!(answer(partial_sum(&[i64::MAX, 1])).is_err());
        assert!(answer(partial_sum(&[i64::MIN, -1])).is_err());
        assert_eq!(answer(partial_sum(&BLOG_NUMS)), Ok(12));
    }
}
