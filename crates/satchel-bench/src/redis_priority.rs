//! Giving the Redis server the priority of the measured threads for the length of a run, and
//! giving it back afterwards.
//!
//! With `--boost` the load generator and the servers run at nice −10 in a scheduler autogroup
//! of their own raised to −10, while Redis stays at nice 0 in its autogroup: on a 2-core
//! machine every µs of Redis work then turns into queueing for the Redis variants only. Linux
//! applies `setpriority(PRIO_PROCESS)` to one thread, and with autogroups enabled a thread's
//! nice only ranks it inside its autogroup, so both are changed: every thread of the server,
//! and its autogroup (`/proc/<pid>/autogroup`), which other processes started in the same
//! session share (the report says how many).

use rustix::process::{getpriority_process, setpriority_process, Pid};

/// The server's priority as it was before [`raise`], restored when this is dropped.
#[derive(Debug)]
pub struct PriorityGuard {
    pid: u32,
    /// (thread id, nice before) for every thread changed.
    threads: Vec<(u32, i32)>,
    /// The autogroup's nice before, when it was changed.
    autogroup: Option<i32>,
    note: String,
}

impl PriorityGuard {
    /// What was done, for the report's scheduling line.
    pub fn note(&self) -> &str {
        &self.note
    }
}

fn pid(raw: u32) -> Result<Pid, String> {
    i32::try_from(raw)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| format!("bad pid {raw}"))
}

fn set_thread(tid: u32, nice: i32) -> Result<(), String> {
    setpriority_process(Some(pid(tid)?), nice).map_err(|e| format!("setpriority({tid}): {e}"))
}

/// The nice value of thread `tid` (of any process).
pub fn thread_nice(tid: u32) -> Result<i32, String> {
    getpriority_process(Some(pid(tid)?)).map_err(|e| format!("getpriority({tid}): {e}"))
}

/// `(name, nice)` from `/proc/<pid>/autogroup` (`/autogroup-17 nice 0`); None when the kernel
/// has no autogroups.
pub fn autogroup(pid: u32) -> Option<(String, i32)> {
    parse_autogroup(&std::fs::read_to_string(format!("/proc/{pid}/autogroup")).ok()?)
}

/// Parse the text of `/proc/PID/autogroup` (`/autogroup-85 nice 0`).
fn parse_autogroup(s: &str) -> Option<(String, i32)> {
    let mut words = s.split_whitespace();
    let name = words.next()?.to_owned();
    let nice = match (words.next(), words.next()) {
        (Some("nice"), Some(n)) => n.parse().ok()?,
        _ => return None,
    };
    Some((name, nice))
}

/// How many other processes are in autogroup `name`.
fn autogroup_peers(name: &str, pid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| p != pid)
        .filter(|&p| autogroup(p).is_some_and(|(n, _)| n == name))
        .count()
}

fn set_autogroup(pid: u32, nice: i32) -> Result<(), String> {
    std::fs::write(format!("/proc/{pid}/autogroup"), nice.to_string())
        .map_err(|e| format!("write /proc/{pid}/autogroup: {e}"))
}

/// Set every thread of process `pid`, and its autogroup, to `nice`, until the returned guard
/// is dropped. On any refusal nothing stays changed and the reason is returned.
pub fn raise(pid: u32, nice: i32) -> Result<PriorityGuard, String> {
    let tids = crate::sys::process_tids(pid);
    if tids.is_empty() {
        return Err(format!("process {pid} is not visible"));
    }
    let mut guard = PriorityGuard {
        pid,
        threads: Vec::with_capacity(tids.len()),
        autogroup: None,
        note: String::new(),
    };
    for tid in tids {
        // A thread that exited since the listing is simply not changed.
        let Ok(before) = thread_nice(tid) else {
            continue;
        };
        set_thread(tid, nice)?; // on error, dropping `guard` restores the threads done
        guard.threads.push((tid, before));
    }
    let group = match autogroup(pid) {
        Some((name, before)) => {
            set_autogroup(pid, nice)?;
            guard.autogroup = Some(before);
            let peers = autogroup_peers(&name, pid);
            format!(
                " and its scheduler autogroup (`{}`, shared with {peers} other process(es), was nice {before})",
                name.trim_start_matches('/')
            )
        }
        None => " (the kernel has no scheduler autogroups)".to_owned(),
    };
    let was: Vec<String> = guard.threads.iter().map(|(_, n)| n.to_string()).collect();
    guard.note = format!(
        "the Redis server (pid {pid}) at nice {nice} too for the run, its {} thread(s) (were nice {}){group}, restored afterwards",
        guard.threads.len(),
        was.join("/"),
    );
    // A run killed before the guard drops leaves the server raised: say how to undo it.
    let tids: Vec<String> = guard.threads.iter().map(|(t, _)| t.to_string()).collect();
    eprintln!(
        "raised Redis (pid {pid}) to nice {nice}; if this run is interrupted, restore with: renice {} -p {}{}",
        guard.threads.first().map_or(0, |t| t.1),
        tids.join(" "),
        guard
            .autogroup
            .map_or_else(String::new, |n| format!("; echo {n} > /proc/{pid}/autogroup")),
    );
    Ok(guard)
}

impl Drop for PriorityGuard {
    fn drop(&mut self) {
        if let Some(before) = self.autogroup {
            if let Err(e) = set_autogroup(self.pid, before) {
                eprintln!("warning: could not restore Redis's autogroup priority: {e}");
            }
        }
        for &(tid, before) in &self.threads {
            if let Err(e) = set_thread(tid, before) {
                eprintln!("warning: could not restore Redis's thread priority: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_autogroup;

    // The machine's own file is not read here: a kernel without autogroup scheduling (or a
    // container that hides it) still lists `/proc/self/autogroup` but refuses to read it,
    // and `raise` treats that as "no autogroup" at run time.
    #[test]
    fn autogroup_lines_parse() {
        assert_eq!(
            parse_autogroup("/autogroup-85 nice 0\n"),
            Some(("/autogroup-85".to_owned(), 0))
        );
        assert_eq!(
            parse_autogroup("/autogroup-3 nice -5"),
            Some(("/autogroup-3".to_owned(), -5))
        );
        assert_eq!(parse_autogroup(""), None);
        assert_eq!(parse_autogroup("/autogroup-3"), None);
        assert_eq!(parse_autogroup("/autogroup-3 nice x"), None);
        assert_eq!(parse_autogroup("/autogroup-3 weight 5"), None);
    }
}
