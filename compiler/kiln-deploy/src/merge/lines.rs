//! Carrying changes made to one rendering of a file over to another spelling of it.

use std::ops::Range;

/// Lines `base[base]` become lines `other[other]` (of `ours` or of `theirs`).
#[derive(Clone, Debug)]
struct Hunk {
    base: Range<usize>,
    other: Range<usize>,
    ours: bool,
}

/// Larger middles than this (lines × lines) are not diffed.
const MAX_TABLE: usize = 4_000_000;

/// The hunks turning `a` into `b`, by longest common subsequence of lines.
fn diff(a: &[&str], b: &[&str], ours: bool) -> Option<Vec<Hunk>> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a_mid, b_mid) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let (n, m) = (a_mid.len(), b_mid.len());
    if n.saturating_mul(m) > MAX_TABLE {
        return None;
    }
    // common[i * width + j]: length of the longest common subsequence of a_mid[i..] and
    // b_mid[j..].
    let width = m + 1;
    let mut common = vec![0u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i * width + j] = if a_mid[i] == b_mid[j] {
                common[(i + 1) * width + j + 1] + 1
            } else {
                common[(i + 1) * width + j].max(common[i * width + j + 1])
            };
        }
    }
    let mut hunks = Vec::new();
    let close = |open: &mut Option<(usize, usize)>, i: usize, j: usize, hunks: &mut Vec<Hunk>| {
        if let Some((si, sj)) = open.take() {
            hunks.push(Hunk {
                base: prefix + si..prefix + i,
                other: prefix + sj..prefix + j,
                ours,
            });
        }
    };
    let (mut i, mut j) = (0, 0);
    let mut open = None;
    while i < n || j < m {
        if i < n && j < m && a_mid[i] == b_mid[j] {
            close(&mut open, i, j, &mut hunks);
            i += 1;
            j += 1;
        } else {
            open.get_or_insert((i, j));
            if j < m && (i == n || common[i * width + j + 1] >= common[(i + 1) * width + j]) {
                j += 1;
            } else {
                i += 1;
            }
        }
    }
    close(&mut open, i, j, &mut hunks);
    Some(hunks)
}

/// Whether `hunk` collides with the base lines `start..end` already claimed: it replaces
/// some of them, or inserts strictly inside them.
fn collides(start: usize, end: usize, hunk: &Range<usize>) -> bool {
    if hunk.is_empty() {
        start < hunk.start && hunk.start < end
    } else if start == end {
        hunk.start < start && start < hunk.end
    } else {
        hunk.start < end && start < hunk.end
    }
}

/// `theirs` with the changes that turned `base` into `ours`, where `base` is another
/// spelling of `theirs`: a three-way merge by lines; where both touch the same lines, ours
/// win.
pub(super) fn carry_over(base: &str, ours: &str, theirs: &str) -> Option<String> {
    let b: Vec<&str> = base.split_inclusive('\n').collect();
    let o: Vec<&str> = ours.split_inclusive('\n').collect();
    let t: Vec<&str> = theirs.split_inclusive('\n').collect();
    let mut hunks = diff(&b, &t, false)?;
    hunks.extend(diff(&b, &o, true)?);
    // Theirs first among hunks at the same place: a line they have and base lacks stays
    // before a line kiln inserts there.
    hunks.sort_by_key(|h| (h.base.start, h.base.end, h.ours));
    let mut out = String::with_capacity(theirs.len() + ours.len());
    let mut position = 0;
    let mut index = 0;
    while index < hunks.len() {
        let (start, mut end) = (hunks[index].base.start, hunks[index].base.end);
        let first = index;
        index += 1;
        while index < hunks.len() && collides(start, end, &hunks[index].base) {
            end = end.max(hunks[index].base.end);
            index += 1;
        }
        let group = &hunks[first..index];
        out.extend(b[position..start].iter().copied());
        if let [single] = group {
            let lines = if single.ours { &o } else { &t };
            out.extend(lines[single.other.clone()].iter().copied());
        } else {
            let mut at = start;
            for hunk in group.iter().filter(|h| h.ours) {
                out.extend(b[at..hunk.base.start].iter().copied());
                out.extend(o[hunk.other.clone()].iter().copied());
                at = hunk.base.end;
            }
            out.extend(b[at..end].iter().copied());
        }
        position = end;
    }
    out.extend(b[position..].iter().copied());
    Some(out)
}
