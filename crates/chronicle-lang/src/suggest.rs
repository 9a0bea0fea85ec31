//! "Did you mean ...?" suggestions by edit distance.

/// Names longer than this are never compared, which keeps a hostile input's
/// megabyte-long identifier from costing quadratic time.
const MAX_LEN: usize = 64;

/// The candidate closest to `name` by Levenshtein distance, if it is close
/// enough to be a plausible typo (at most a third of the name's length, and
/// at least one edit allowed). Ties go to the first candidate.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if name.len() > MAX_LEN {
        return None;
    }
    let limit = (name.chars().count() / 3).max(1);
    let candidates: Vec<&str> = candidates
        .into_iter()
        .filter(|c| *c != name && c.len() <= MAX_LEN)
        .collect();
    let by_distance = candidates
        .iter()
        .map(|c| (distance(name, c), *c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c);
    // A misspelt longer form of a short name (`lenght`, `integer`) is too
    // far by edits, but starts with the name it means.
    by_distance.or_else(|| {
        candidates
            .iter()
            .filter(|c| c.len() >= 3 && name.starts_with(**c))
            .max_by_key(|c| c.len())
            .copied()
    })
}

/// Levenshtein distance in characters.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_plausible_typos_only() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(closest("cout", ["count", "main"]), Some("count"));
        assert_eq!(closest("x", ["y"]), Some("y"));
        assert_eq!(closest("total", ["main", "xs"]), None);
        assert_eq!(closest("lenght", ["len", "push"]), Some("len"));
        assert_eq!(closest("integer", ["int", "str"]), Some("int"));
    }
}
